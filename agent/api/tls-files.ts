/** Reading the TCP API's TLS certificate and key (made by bootstrap.sh from the cluster's API CA). */

import { readFile, stat } from 'node:fs/promises'
import { createSecureContext } from 'node:tls'
import { ClusterdError } from '../../protocol/errors.js'

/** PEM certificate chain and private key of the TCP API listener. */
export interface ApiTlsMaterial {
  cert: Buffer
  key: Buffer
}

/**
 * Reads `certFile` and `keyFile` and checks that they form a usable pair. The key is a secret:
 * a key file readable by group or others is refused. Every failure is
 * CLUSTERD_ERR_INVALID_CONFIG naming the file.
 */
export async function readApiTls (files: { certFile: string, keyFile: string }): Promise<ApiTlsMaterial> {
  const read = async (path: string, what: string): Promise<Buffer> => {
    try {
      return await readFile(path)
    } catch (err) {
      throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `cannot read the API TLS ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  }
  const cert = await read(files.certFile, 'certificate')
  const key = await read(files.keyFile, 'key')
  const mode = (await stat(files.keyFile)).mode & 0o777
  if ((mode & 0o077) !== 0) {
    throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `the API TLS key ${files.keyFile} has mode ${mode.toString(8)}: it must not be readable by group or others (chmod 600)`)
  }
  try {
    createSecureContext({ cert, key })
  } catch (err) {
    throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `the API TLS certificate ${files.certFile} and key ${files.keyFile} are not a usable pair: ${(err as Error).message}`)
  }
  return { cert, key }
}
