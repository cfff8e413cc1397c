/** Preparing a unix socket path: parent directory, and removing a stale socket safely. */

import { connect } from 'node:net'
import { lstat, mkdir, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { ClusterdError } from '../../protocol/errors.js'
import { SOCKET_DIR_MODE, STALE_SOCKET_PROBE_TIMEOUT_MS } from './constants.js'

/** Whether something accepts connections on the socket at `path`. */
export type SocketProbe = 'listening' | 'dead' | 'missing'

/** Try to connect: `dead` when refused (a leftover file), `listening` when accepted or when no answer comes in time. */
export async function probeSocket (path: string, timeoutMs = STALE_SOCKET_PROBE_TIMEOUT_MS): Promise<SocketProbe> {
  return await new Promise((resolve, reject) => {
    const socket = connect({ path })
    const done = (result: SocketProbe | Error): void => {
      clearTimeout(timer)
      socket.destroy()
      if (result instanceof Error) reject(result)
      else resolve(result)
    }
    // A live server with a full backlog may not answer at once: treat silence as in use.
    const timer = setTimeout(() => { done('listening') }, timeoutMs)
    socket.once('connect', () => { done('listening') })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') done('dead')
      else if (err.code === 'ENOENT') done('missing')
      else done(new ClusterdError('CLUSTERD_ERR_ADDRESS_IN_USE', `cannot check the existing socket ${path}: ${err.code ?? err.message}`))
    })
  })
}

/**
 * Make `path` ready to bind: create its parent directory (mode 0700) when missing, and
 * remove an existing socket file only if nothing listens on it. A live socket throws
 * CLUSTERD_ERR_ADDRESS_IN_USE; a non-socket file there throws CLUSTERD_ERR_INVALID_CONFIG.
 */
export async function prepareSocketPath (path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: SOCKET_DIR_MODE })
  let isSocket: boolean
  try {
    isSocket = (await lstat(path)).isSocket()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  if (!isSocket) {
    throw new ClusterdError('CLUSTERD_ERR_INVALID_CONFIG', `API socket path ${path} exists and is not a socket; refusing to remove it`)
  }
  const state = await probeSocket(path)
  if (state === 'listening') {
    throw new ClusterdError('CLUSTERD_ERR_ADDRESS_IN_USE', `another process is listening on the API socket ${path} (is another clusterd running?)`)
  }
  if (state === 'dead') {
    try {
      await unlink(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
}
