import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { parseSshEd25519PrivateKey, parseSshEd25519PublicKey, type SshEd25519PrivateKey } from '../../../../agent/identity/ssh-ed25519-key.js'
import { AttestationVerifier, attestationPayload, signAttestation } from '../../../../agent/identity/eligibility-attestation.js'
import { loadEligibilityTrust } from '../../../../agent/identity/eligibility-files.js'
import { EligibilityGate } from '../../../../agent/membership/eligibility-gate.js'
import { SelfRecord } from '../../../../agent/membership/self-record.js'
import { verifyRecord } from '../../../../agent/membership/node-record.js'
import { ClusterdError } from '../../../../protocol/errors.js'
import type { NodeRecord } from '../../../../protocol/membership-wire.js'
import { peers, type TestPeer } from '../fake-broadcasts.js'

let dir: string
/** Key files made by ssh-keygen, as an operator (or cluster-trust.sh) makes them. */
const files: Record<string, string> = {}
let ca: SshEd25519PrivateKey
let other: SshEd25519PrivateKey
let caPub: Uint8Array
let A: TestPeer
let B: TestPeer

function keygen (name: string, ...args: string[]): void {
  execFileSync('ssh-keygen', ['-q', ...args, '-C', 'test', '-f', join(dir, name)], { stdio: 'ignore' })
  files[name] = join(dir, name)
}

function ok<T> (r: { ok: true, value: T } | { ok: false, reason: string }): T {
  if (!r.ok) throw new Error(r.reason)
  return r.value
}

function reason (r: { ok: boolean, reason?: string }): string {
  assert.equal(r.ok, false)
  return r.reason ?? ''
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'attest-'))
  keygen('ca', '-t', 'ed25519', '-N', '')
  keygen('other', '-t', 'ed25519', '-N', '')
  keygen('encrypted', '-t', 'ed25519', '-N', 'passphrase')
  keygen('rsa', '-t', 'rsa', '-b', '2048', '-N', '')
  keygen('pem-rsa', '-t', 'rsa', '-b', '2048', '-N', '', '-m', 'PEM')
  ca = ok(parseSshEd25519PrivateKey(await readFile(files.ca as string, 'utf8')))
  other = ok(parseSshEd25519PrivateKey(await readFile(files.other as string, 'utf8')))
  caPub = ok(parseSshEd25519PublicKey(await readFile(`${files.ca as string}.pub`, 'utf8')));
  [A, B] = await peers(2) as [TestPeer, TestPeer]
})
after(async () => { await rm(dir, { recursive: true, force: true }) })

describe('OpenSSH Ed25519 keys', () => {
  it('reads an unencrypted ssh-keygen key and its .pub, which agree', () => {
    assert.deepEqual(ca.publicKey, caPub)
    assert.equal(ca.publicKey.byteLength, 32)
    assert.notDeepEqual(other.publicKey, caPub)
  })

  it('refuses encrypted, RSA, PEM and garbage keys with a clear reason, never throwing', async () => {
    assert.match(reason(parseSshEd25519PrivateKey(await readFile(files.encrypted as string, 'utf8'))), /encrypted \(a passphrase\)/)
    assert.match(reason(parseSshEd25519PrivateKey(await readFile(files.rsa as string, 'utf8'))), /not ssh-ed25519/)
    assert.match(reason(parseSshEd25519PrivateKey(await readFile(files['pem-rsa'] as string, 'utf8'))), /not in the OpenSSH format/)
    assert.match(reason(parseSshEd25519PrivateKey('hello')), /not an OpenSSH private key/)
    assert.match(reason(parseSshEd25519PrivateKey('-----BEGIN OPENSSH PRIVATE KEY-----\n!!!\n-----END OPENSSH PRIVATE KEY-----')), /not base64/)
    assert.match(reason(parseSshEd25519PublicKey(await readFile(`${files.rsa as string}.pub`, 'utf8'))), /"ssh-rsa", not ssh-ed25519/)
    assert.match(reason(parseSshEd25519PublicKey('')), /empty/)
    assert.match(reason(parseSshEd25519PublicKey('ssh-ed25519 AAAA')), /truncated|32 bytes/)
  })

  it('never throws on truncated or bit-flipped keys, and accepts no damaged one', async () => {
    const text = await readFile(files.ca as string, 'utf8')
    const body = text.split('\n').filter(l => !l.startsWith('-----')).join('')
    const bin = Buffer.from(body, 'base64')
    const wrap = (b: Buffer): string => `-----BEGIN OPENSSH PRIVATE KEY-----\n${b.toString('base64')}\n-----END OPENSSH PRIVATE KEY-----\n`
    for (let n = 0; n < bin.length; n += 3) assert.equal(parseSshEd25519PrivateKey(wrap(bin.subarray(0, n))).ok, false, `truncated at ${n}`)
    let accepted = 0
    for (let i = 0; i < bin.length; i++) {
      const b = Buffer.from(bin)
      b[i] = (b[i] as number) ^ 0x01
      const r = parseSshEd25519PrivateKey(wrap(b))
      // A flip inside the comment (or of its length, taking in the padding) leaves the same key; anywhere that matters it is refused.
      if (r.ok) { accepted++; assert.deepEqual(r.value.publicKey, caPub) }
    }
    assert.ok(accepted <= 'test'.length + 1, `${accepted} flips accepted`)
  })
})

describe('eligibility attestations', () => {
  it('verify for the signed peer id and name only, and only under the CA that signed them', () => {
    const v = new AttestationVerifier(caPub)
    const sig = signAttestation(ca, A.id, 'db1')
    assert.equal(sig.byteLength, 64)
    assert.equal(v.verify(A.id, 'db1', sig), true)
    assert.equal(v.verify(B.id, 'db1', sig), false, 'another peer cannot reuse it')
    assert.equal(v.verify(A.id, 'db2', sig), false, 'nor another name')
    assert.equal(v.verify(A.id, 'db1', signAttestation(other, A.id, 'db1')), false, 'a self-made CA signs nothing the cluster accepts')
    assert.equal(v.verify(A.id, 'db1', sig.subarray(1)), false)
    assert.equal(v.verify(A.id, 'db1', new Uint8Array(64)), false)
    assert.match(new TextDecoder().decode(attestationPayload(A.id, 'db1')), /^clusterd-eligible\/1\n/)
  })

  it('ride in the signed record, and the gate counts eligibility only with a valid one', async () => {
    const gate = new EligibilityGate(new AttestationVerifier(caPub), pino({ level: 'silent' }))
    const record = (peer: TestPeer, eligible: boolean, signer: SshEd25519PrivateKey | null): NodeRecord => {
      const self = new SelfRecord({ privateKey: peer.key, collectFacts: async () => { throw new Error('unused') } }, {
        peerId: peer.id, nodeName: 'n1', labels: {}, managerEligible: eligible, advertise: { host: '10.0.0.1', port: 7946 },
        ...(signer !== null ? { attestation: Buffer.from(signAttestation(signer, peer.id, 'n1')).toString('base64url') } : {})
      })
      const { info } = self.sign(1, false)
      return ok(verifyRecord(info.record, peer.id))
    }
    const attested = record(A, true, ca)
    assert.equal(typeof attested.attestation, 'string')
    assert.equal(gate.eligible(attested), true)
    assert.equal(gate.eligible(record(B, true, null)), false, 'no attestation: not eligible')
    assert.equal(gate.eligible(record(B, true, other)), false, 'another CA: not eligible')
    const worker = record(B, false, ca)
    assert.equal(worker.attestation, undefined, 'a worker carries none')
    assert.equal(gate.eligible(worker), false)
    // A record of A carrying the attestation under B's id: B signed the record, but the CA did not attest B.
    assert.equal(gate.eligible({ ...attested, peerId: B.id }), false)
    assert.deepEqual(gate.stats, { refused: 3, attested: 1 })
    assert.equal(gate.eligible(attested), true)
    assert.deepEqual(gate.stats, { refused: 3, attested: 1 }, 'cached per record')
    const open = new EligibilityGate(null, pino({ level: 'silent' }))
    assert.equal(open.eligible(record(B, true, null)), true, 'without a CA, self-asserted as before')
    assert.equal(open.eligible(worker), false)
  })
})

describe('the CA files at agent start', () => {
  const init = (over: Partial<Parameters<typeof loadEligibilityTrust>[0]>): Parameters<typeof loadEligibilityTrust>[0] =>
    ({ sshCaPubFile: `${files.ca as string}.pub`, sshCaKeyFile: files.ca as string, managerEligible: true, peerId: A.id, nodeName: 'n1', ...over })
  const refuses = async (over: Partial<Parameters<typeof loadEligibilityTrust>[0]>, pattern: RegExp): Promise<void> => {
    await assert.rejects(loadEligibilityTrust(init(over)), (err: unknown) => {
      assert.ok(err instanceof ClusterdError)
      assert.equal(err.code, 'CLUSTERD_ERR_INVALID_CONFIG')
      assert.match(err.message, pattern)
      assert.doesNotMatch(err.message, /PRIVATE KEY|AAAA/, 'no key material')
      return true
    })
  }

  it('without a CA public key: nothing to check (self-asserted eligibility)', async () => {
    assert.equal(await loadEligibilityTrust(init({ sshCaPubFile: null, sshCaKeyFile: null })), null)
  })

  it('an eligible agent attests itself; a worker needs only the public key', async () => {
    const trust = await loadEligibilityTrust(init({}))
    assert.ok(trust !== null && trust.attestation !== null)
    assert.equal(trust.verifier.verify(A.id, 'n1', Buffer.from(trust.attestation, 'base64url')), true)
    const worker = await loadEligibilityTrust(init({ managerEligible: false, sshCaKeyFile: null }))
    assert.equal(worker?.attestation, null)
  })

  it('refuses an eligible agent without the CA key, with an unusable one, or with another CA\'s', async () => {
    await refuses({ sshCaKeyFile: null }, /must attest its eligibility .* --ssh-ca-key-file FILE .* --manager-eligible false/)
    await refuses({ sshCaKeyFile: join(dir, 'missing') }, /cannot read the cluster SSH CA key .*missing: ENOENT/)
    await refuses({ sshCaKeyFile: files.encrypted as string }, /encrypted/)
    await refuses({ sshCaKeyFile: files.other as string }, /is not the private key of the CA in --ssh-ca-pub-file/)
    await refuses({ sshCaPubFile: `${files.rsa as string}.pub` }, /--ssh-ca-pub-file .*not ssh-ed25519/)
    await refuses({ sshCaPubFile: join(dir, 'none.pub') }, /cannot read the cluster SSH CA public key/)
    const loose = join(dir, 'loose')
    await writeFile(loose, await readFile(files.ca as string))
    await chmod(loose, 0o644)
    await refuses({ sshCaKeyFile: loose }, /mode 0644, open to group or others: run chmod 600/)
  })
})
