/**
 * Acknowledged writes: a writer that sets one config key to an increasing sequence number, one
 * write at a time, through whichever agent `pick` names, and remembers every write the API
 * acknowledged. Because writes are sequential and each supersedes the last, "no acknowledged
 * write lost" means: the value read back is at least the last sequence number acknowledged
 * before the read started (it may be one more: a write in flight that was applied but not yet
 * acknowledged).
 */
import type { AgentProcess } from '../harness/agent-process.js'
import { ApiClient } from '../../cli/client.js'

/** How a sequence number is written to the key and read back. */
export interface AckedKey {
  key: string
  encode: (seq: number) => unknown
  decode: (value: unknown) => number | null
}

/** `job-timeout` = seq (1..86400 seconds). */
export const JOB_TIMEOUT_KEY: AckedKey = {
  key: 'job-timeout',
  encode: seq => String(seq),
  decode: v => typeof v === 'number' ? v : null
}

/** `vars` = `{ [name]: "seq" }`: a second key, e.g. for the other side of a partition. */
export function varsKey (name: string): AckedKey {
  return {
    key: 'vars',
    encode: seq => ({ [name]: String(seq) }),
    decode: v => {
      const s = (v as Record<string, unknown> | null)?.[name]
      return typeof s === 'string' && /^\d+$/.test(s) ? Number(s) : null
    }
  }
}

/** One acknowledged write. */
export interface Ack { seq: number, at: number, via: string }

/** What a check found. */
export interface AckCheck {
  /** Value read back (null: unset or unreadable). */
  value: number | null
  /** Last sequence number acknowledged before the read started. */
  lastAcked: number
  /** Acknowledged writes missing from the value read (0 when none was lost). */
  lost: number
}

/** A sequential writer of one key. */
export class AckedWriter {
  readonly acks: Ack[] = []
  readonly errors: Array<{ at: number, via: string, message: string }> = []
  private seq: number
  private running = false
  private loop: Promise<void> = Promise.resolve()

  /**
   * @param pick the agent to write through (undefined: pause)
   * @param startSeq first sequence number (keep below the key's maximum)
   */
  constructor (private readonly pick: () => AgentProcess | undefined, readonly ak: AckedKey = JOB_TIMEOUT_KEY, startSeq = 1, private readonly pauseMs = 50) {
    this.seq = startSeq
  }

  /** Last acknowledged sequence number (0: none). */
  get lastAcked (): number { return this.acks.at(-1)?.seq ?? 0 }

  /** Start writing. */
  start (): void {
    if (this.running) return
    this.running = true
    this.loop = this.run()
  }

  /** Stop after the write in flight. */
  async stop (): Promise<void> {
    this.running = false
    await this.loop
  }

  /** One write now (outside the loop); true when acknowledged. */
  async writeOnce (via: AgentProcess, timeoutMs = 30_000): Promise<boolean> {
    const seq = this.seq++
    try {
      const client = new ApiClient({ addr: via.socket, timeoutMs })
      await client.request('PUT', `/v1/config/${this.ak.key}`, { value: this.ak.encode(seq) })
      this.acks.push({ seq, at: Date.now(), via: via.host.name })
      return true
    } catch (err) {
      this.errors.push({ at: Date.now(), via: via.host.name, message: (err as Error).message })
      return false
    }
  }

  /** Read the key through `reader` and compare with what was acknowledged before the read. */
  async check (reader: AgentProcess): Promise<AckCheck> {
    const lastAcked = this.lastAcked
    const got = await reader.client.request<{ key: string, value: unknown }>('GET', `/v1/config/${this.ak.key}`)
    const value = this.ak.decode(got.value)
    const lost = value === null ? this.acks.length : this.acks.filter(a => a.seq > value && a.seq <= lastAcked).length
    return { value, lastAcked, lost }
  }

  private async run (): Promise<void> {
    while (this.running) {
      const via = this.pick()
      if (via !== undefined) await this.writeOnce(via)
      await new Promise(resolve => setTimeout(resolve, this.pauseMs))
    }
  }
}
