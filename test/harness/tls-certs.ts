/**
 * Test certificates for the TCP API, made by openssl the way bootstrap.sh makes them: an EC
 * P-256 CA and server certificates naming the listen address (README.md, "Trust model"). Real
 * openssl, argument arrays only.
 */

import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'

/** Paths of a PEM key (mode 0600 for server keys) and its certificate. */
export interface KeyAndCert { key: string, cert: string }

async function openssl (args: string[]): Promise<void> {
  await execa('openssl', args, { stdin: 'ignore' })
}

/** A CA (key, cert) in `dir` under `name`. */
export async function makeCa (dir: string, name: string): Promise<KeyAndCert> {
  const key = join(dir, `${name}.key`)
  const cert = join(dir, `${name}.crt`)
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key])
  await openssl(['req', '-x509', '-new', '-key', key, '-subj', `/CN=${name}`, '-days', '1', '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', cert])
  return { key, cert }
}

/** A server certificate for `sans` (e.g. `IP:10.0.0.1`) signed by `ca`; its key has mode 0600. */
export async function makeServerCert (dir: string, name: string, ca: KeyAndCert, sans: string): Promise<KeyAndCert> {
  const key = join(dir, `${name}.key`)
  const cert = join(dir, `${name}.crt`)
  const ext = join(dir, `${name}.ext`)
  await writeFile(ext, `subjectAltName=${sans}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`)
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key])
  await chmod(key, 0o600)
  await openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', join(dir, `${name}.csr`)])
  await openssl(['x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', '0x1234', '-days', '1', '-sha256', '-extfile', ext, '-out', cert])
  return { key, cert }
}
