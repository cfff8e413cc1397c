/**
 * Running commands (argument arrays only) and reading process facts from /proc.
 * /proc is read directly because PID 1 here reaps orphans late: `kill -0` says "alive" for
 * seconds after a kill, while /proc/PID/stat shows the zombie.
 */
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs'

/** Outcome of one command; `code` is null when it died by a signal. */
export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Options of `run` / `runSync`. */
export interface RunOptions {
  input?: string
  env?: NodeJS.ProcessEnv
  timeoutMs?: number
  signal?: AbortSignal
}

/** Runs argv to completion; never throws for a non-zero exit (that is a value). */
export async function run (argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv
  if (file == null) throw new Error('run: empty argv')
  return await new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: [opts.input == null ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      signal: opts.signal,
      timeout: opts.timeoutMs,
      killSignal: 'SIGKILL'
    })
    let stdout = ''
    let stderr = ''
    child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    child.on('error', (err: NodeJS.ErrnoException) => {
      // An abort or timeout is an outcome of the call, reported like a kill; anything else
      // (ENOENT for the binary) is a broken environment.
      if (err.name === 'AbortError') return
      reject(err)
    })
    child.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) })
    // A child may exit without reading its input (useradd given the key meant for a later step):
    // its exit status is the outcome, not an EPIPE on the pipe (CI failed on one such race).
    child.stdin?.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'EPIPE') reject(err) })
    if (opts.input != null) child.stdin?.end(opts.input)
  })
}

/** Synchronous `run`, for the process 'exit' hook only (no event loop there). */
export function runSync (argv: readonly string[], opts: Omit<RunOptions, 'signal'> = {}): RunResult {
  const [file, ...args] = argv
  if (file == null) throw new Error('runSync: empty argv')
  const r = spawnSync(file, args, {
    input: opts.input,
    env: opts.env ?? process.env,
    timeout: opts.timeoutMs,
    killSignal: 'SIGKILL',
    encoding: 'utf8'
  })
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }
}

/** Runs argv and throws when it does not exit 0: for setup steps, where failure is a broken machine. */
export async function runOk (argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts)
  if (r.code !== 0) {
    throw new Error(`${argv.join(' ')} failed (code ${String(r.code)}, signal ${String(r.signal)}): ${r.stderr.trim()}`)
  }
  return r.stdout
}

/** Resolves after ms (only for poll intervals inside bounded loops). */
export async function delay (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Blocks the thread for ms (for the synchronous exit-hook teardown only). */
export function delaySync (ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/**
 * Start time (field 22 of /proc/PID/stat) of a live process, or null when the pid is gone or
 * a zombie. Together with the pid it names one process even after pid reuse.
 */
export function processStartTime (pid: number): string | null {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // comm (field 2) may contain spaces and parentheses: fields after the last ')' are fixed.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const state = rest[0]
  if (state === 'Z' || state === 'X') return null
  return rest[19] ?? null
}

/**
 * Live processes whose command line (arguments joined by spaces) satisfies `match`; zombies
 * have an empty command line and are not listed.
 */
export function processesWhere (match: (cmdline: string) => boolean): number[] {
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let cmd: string
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
    } catch {
      continue
    }
    if (cmd !== '' && match(cmd.replaceAll('\0', ' ').trimEnd())) found.push(Number(entry))
  }
  return found
}

/** The inode identifying the network namespace pinned at /run/netns/NAME, or null. */
export function netnsInode (name: string): number | null {
  try {
    return statSync(`/run/netns/${name}`).ino
  } catch {
    return null
  }
}

/**
 * Every live pid whose network namespace is one of `inodes` (what `ip netns pids` does, for
 * many namespaces in one pass over /proc). Zombies have left their namespaces and are not listed.
 */
export function pidsInNetns (inodes: ReadonlySet<number>): number[] {
  if (inodes.size === 0) return []
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let link: string
    try {
      link = readlinkSync(`/proc/${entry}/ns/net`)
    } catch {
      continue
    }
    const m = /^net:\[(\d+)\]$/.exec(link)
    if (m?.[1] != null && inodes.has(Number(m[1]))) pids.push(Number(entry))
  }
  return pids
}

/** SIGKILLs pids, ignoring those already gone. */
export function killAll (pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
}
