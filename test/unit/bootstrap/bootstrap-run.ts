/**
 * Running bootstrap.sh as a real process with every path pointed into a temporary directory:
 * shared by the bootstrap tests.
 */

import { execFile, execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The compiled tree the tests run from (dist/ or a private build dir). */
const BUILD_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** The repository: the nearest ancestor of the build tree holding bootstrap.sh. */
function findRepo (): string {
  let dir = BUILD_ROOT
  while (!existsSync(join(dir, 'bootstrap.sh'))) {
    const up = dirname(dir)
    if (up === dir) throw new Error(`bootstrap.sh not found above ${BUILD_ROOT}`)
    dir = up
  }
  return dir
}

export const SCRIPT = join(findRepo(), 'bootstrap.sh')

export interface Run { code: number, stdout: string, stderr: string }

/**
 * A private sshd configuration for the node in `dir` (host key, pid file, the drop-in directory
 * included like Debian's), so bootstrap.sh's `sshd -t`/`-T` checks run against it and never
 * touch the machine's /etc/ssh. No sshd runs from it: bootstrap warns that none is running.
 */
function privateSshd (dir: string): { config: string, dropins: string } {
  const root = join(dir, 'sshd')
  const config = join(root, 'sshd_config')
  const dropins = join(root, 'sshd_config.d')
  if (!existsSync(config)) {
    mkdirSync(dropins, { recursive: true, mode: 0o755 })
    execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(root, 'host_ed25519')])
    writeFileSync(config, `Include ${dropins}/*.conf\nHostKey ${join(root, 'host_ed25519')}\nPidFile ${join(root, 'sshd.pid')}\n`)
  }
  return { config, dropins }
}

/** The environment that keeps one bootstrap "node" inside `dir`, plus `extra` overrides. */
export function nodeEnv (dir: string, extra: Record<string, string> = {}): Record<string, string> {
  const sshd = privateSshd(dir)
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    CLUSTERD_ETC: join(dir, 'etc'),
    CLUSTERD_RUN: join(dir, 'run'),
    CLUSTERD_LOG_DIR: join(dir, 'log'),
    CLUSTERD_SSHD_CONFIG: sshd.config,
    CLUSTERD_SSHD_DROP_IN_DIR: sshd.dropins,
    CLUSTERD_DATA_DIR: join(dir, 'data'),
    CLUSTERD_GATE_DIR: join(dir, 'gate'),
    CLUSTERD_SSHD_PID_FILE: join(dir, 'no-sshd.pid'),
    CLUSTERD_INIT: 'supervise',
    CLUSTERD_WAIT_SECONDS: '60',
    CLUSTERD_NODE_BIN: process.execPath,
    CLUSTERD_JS: join(BUILD_ROOT, 'agent', 'main.js'),
    CLUSTERCTL_JS: join(BUILD_ROOT, 'cli', 'main.js'),
    CLUSTERD_ALLOW_NON_ROOT: '1',
    // The programs above are run in place (nothing is installed); these keep it so regardless.
    CLUSTERD_PREFIX: join(dir, 'opt'),
    CLUSTERD_BIN_DIR: join(dir, 'bin'),
    ...extra
  }
}

/** Run bootstrap.sh for the node in `dir`; never rejects. */
export async function bootstrap (dir: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return await new Promise(resolve => {
    execFile(SCRIPT, args, { env: nodeEnv(dir, env), cwd: tmpdir(), timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
  })
}

/** A TCP port free on loopback right now. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
}

/** The pid in a pid file, or null. */
export function readPid (file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 ? pid : null
  } catch {
    return null
  }
}
