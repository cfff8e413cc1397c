/**
 * Reads the cluster CA files at agent start for eligibility attestation (README, "Trust
 * model"): `ssh-ca-pub-file` makes every member's eligibility count only when attested, and an
 * agent configured eligible must then attest itself with `ssh-ca-key-file`, whose key must be
 * the CA of that public key. Every problem is one CLUSTERD_ERR_INVALID_CONFIG naming the file
 * and the fix, never key material; the agent refuses to start with it.
 */

import { readFile, stat } from 'node:fs/promises'
import { ClusterdError } from '../../protocol/errors.js'
import { AttestationVerifier, signAttestation } from './eligibility-attestation.js'
import { parseSshEd25519PrivateKey, parseSshEd25519PublicKey } from './ssh-ed25519-key.js'

/** What membership needs: the verifier, and our own attestation (base64url) when eligible. */
export interface EligibilityTrust {
  verifier: AttestationVerifier
  attestation: string | null
}

/** The settings read here (AgentConfig's fields). */
export interface EligibilityFilesInit {
  sshCaPubFile: string | null
  sshCaKeyFile: string | null
  managerEligible: boolean
  peerId: string
  nodeName: string
}

function invalid (message: string): ClusterdError {
  return new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', message)
}

async function readText (path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw invalid(`cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

/** Null without `sshCaPubFile` (self-asserted eligibility); throws ClusterdError on any bad file. */
export async function loadEligibilityTrust (init: EligibilityFilesInit): Promise<EligibilityTrust | null> {
  if (init.sshCaPubFile === null) return null
  const pub = parseSshEd25519PublicKey(await readText(init.sshCaPubFile, 'cluster SSH CA public key (--ssh-ca-pub-file)'))
  if (!pub.ok) throw invalid(`--ssh-ca-pub-file ${init.sshCaPubFile}: ${pub.reason}`)
  let verifier: AttestationVerifier
  try {
    verifier = new AttestationVerifier(pub.value)
  } catch {
    throw invalid(`--ssh-ca-pub-file ${init.sshCaPubFile}: node:crypto refused the ed25519 public key`)
  }
  if (!init.managerEligible) return { verifier, attestation: null }

  const keyFile = init.sshCaKeyFile
  if (keyFile === null) {
    throw invalid('this agent is manager-eligible and --ssh-ca-pub-file is set, so it must attest its eligibility with the cluster SSH CA key: give --ssh-ca-key-file FILE (ssh-ca-key-file in the config file), or start it with --manager-eligible false')
  }
  const mode = await stat(keyFile).then(s => s.mode, () => null)
  if (mode !== null && (mode & 0o077) !== 0) {
    throw invalid(`the cluster SSH CA key ${keyFile} has mode ${(mode & 0o777).toString(8).padStart(4, '0')}, open to group or others: run chmod 600 ${keyFile}`)
  }
  const key = parseSshEd25519PrivateKey(await readText(keyFile, 'cluster SSH CA key (--ssh-ca-key-file)'))
  if (!key.ok) throw invalid(`--ssh-ca-key-file ${keyFile}: ${key.reason}`)
  const sig = signAttestation(key.value, init.peerId, init.nodeName)
  // A key of another CA would sign attestations nobody accepts: say so now, not by silence.
  if (!verifier.verify(init.peerId, init.nodeName, sig)) {
    throw invalid(`--ssh-ca-key-file ${keyFile} is not the private key of the CA in --ssh-ca-pub-file ${init.sshCaPubFile}`)
  }
  return { verifier, attestation: Buffer.from(sig).toString('base64url') }
}
