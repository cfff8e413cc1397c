/**
 * The agent's persistent identity: an Ed25519 key in the data dir, so the peer id survives
 * restarts. Written 0600 atomically; a corrupt key file is an error, never silently replaced
 * (replacing it would make the node a stranger to its own cluster).
 */

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { ClusterdError } from '../../protocol/errors.js'

/** File name of the identity key inside the data dir. */
export const IDENTITY_FILE = 'identity.key'

/** Load the identity key from `dataDir`, creating it on first start. */
export async function loadOrCreateIdentity (dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, IDENTITY_FILE)
  let bytes: Buffer | undefined
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `cannot read identity key ${path}: ${(err as Error).message}`)
    }
  }
  if (bytes !== undefined) {
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `identity key ${path} is corrupt (${(err as Error).message}); restore it from a backup, or remove it to join as a new node`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
  await rename(tmp, path)
  return key
}
