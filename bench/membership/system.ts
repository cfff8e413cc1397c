/**
 * What the benchmark needs from a membership system under test, so clusterd and Serf go
 * through the very same measurement code: start an agent on a host (joining a seed), know
 * when it was spawned and when it listened, read its view, read its status-change log, stop it.
 */
import type { ChildProcess } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import type { TestHost } from '../../test/harness/hosts.js'

/** A member's status in one agent's view, by member name. */
export type View = Map<string, string>

/** A status change an agent logged about a member (its own log, so none is missed between polls). */
export interface LoggedChange {
  /** Monotonic time (performance.now()) the line was read. */
  at: number
  member: string
  to: string
  /**
   * False for a change the agent logs but its view does not show (memberlist's suspicion: Serf
   * lists a suspect member as alive), so the view built from the log matches the polled one.
   */
  inView: boolean
}

/** One running agent of the system under test. */
export interface BenchAgent {
  /** Node name (= the host's name). */
  readonly name: string
  readonly host: TestHost
  /** Pid of the agent process itself (for /proc). */
  readonly pid: number
  /** Monotonic time of the spawn. */
  readonly spawnedAt: number
  /** Monotonic time its "listening" log line was read, or null so far. */
  readonly readyAt: number | null
  /** Status changes it logged, oldest first. */
  readonly changes: readonly LoggedChange[]
  /** Calls `listener` with every status change logged from now on; returns the unsubscribe. */
  watch: (listener: (c: LoggedChange) => void) => () => void
  /** Its current view, or null while it does not answer. */
  view: (signal?: AbortSignal) => Promise<View | null>
  /** Kills it (SIGKILL) and waits for the exit. */
  kill: () => Promise<void>
  /**
   * Its Lifeguard local health score now (0 healthy; probes run at score + 1 times their
   * interval and timeouts), or null when the system does not expose it or the agent does not answer.
   */
  health?: () => Promise<number | null>
  /** Its recent output, for error messages. */
  tail: () => string
}

/** A membership system under test. */
export interface BenchSystem {
  /** `clusterd` or `serf`. */
  readonly id: string
  /** Spawns an agent on `host`; `seed` null makes it the first node. Returns at once (no wait for readiness). */
  start: (host: TestHost, seed: TestHost | null) => Promise<BenchAgent>
  /** Releases what the system set up for the run (temp dirs). Agents are killed by the caller. */
  close: () => Promise<void>
}

/** Common bookkeeping of one agent process: readiness and status changes parsed from its output. */
export class AgentOutput {
  readyAt: number | null = null
  readonly changes: LoggedChange[] = []
  private text = ''
  private partial = ''

  /**
   * `ready` recognises the "listening" line; `change` turns a line into a status change.
   */
  private readonly listeners = new Set<(c: LoggedChange) => void>()

  constructor (proc: ChildProcess, private readonly parse: { ready: (line: string) => boolean, change: (line: string) => Omit<LoggedChange, 'at'> | null }) {
    const onData = (b: Buffer): void => {
      const at = performance.now()
      const s = this.partial + b.toString('utf8')
      const lines = s.split('\n')
      this.partial = lines.pop() ?? ''
      for (const line of lines) this.line(line, at)
    }
    proc.stdout?.on('data', onData)
    proc.stderr?.on('data', onData)
  }

  private line (line: string, at: number): void {
    this.text = (this.text + line + '\n').slice(-200_000)
    if (this.readyAt === null && this.parse.ready(line)) this.readyAt = at
    const c = this.parse.change(line)
    if (c === null) return
    const change = { at, ...c }
    this.changes.push(change)
    for (const l of this.listeners) l(change)
  }

  /** See `BenchAgent.watch`. */
  watch (listener: (c: LoggedChange) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** The last ~200 KB of output. */
  tail (): string {
    return this.text
  }
}

/**
 * The view an agent's own log describes: its status changes folded in order (the ones its view
 * shows), up to and including those read by `until` (performance.now() time).
 */
export function loggedView (changes: readonly LoggedChange[], until = Infinity): View {
  const view: View = new Map()
  for (const c of changes) {
    if (c.at > until) break
    if (c.inView) view.set(c.member, c.to)
  }
  return view
}
