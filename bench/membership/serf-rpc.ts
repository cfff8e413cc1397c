/**
 * A minimal client of the Serf agent RPC (msgpack over TCP: a `handshake`, then `members`).
 * The benchmark polls every agent every ~50 ms; running `serf members` that often would fork
 * a Go binary per agent per poll and load the 2-core machine far more than the agents do, so
 * the poller keeps one connection per agent open instead (as clusterd's poller does over its
 * unix socket).
 */
import { connect, type Socket } from 'node:net'
import { decode, encode, IncompleteError } from './msgpack.js'

/** One member in a Serf agent's view. */
export interface SerfMember {
  name: string
  /** `alive`, `leaving`, `left` or `failed`. */
  status: string
}

/** Where the agent's RPC listens. */
export interface SerfRpcInit {
  host: string
  port: number
  /** Deadline of one call, connection included (default 2 s). */
  timeoutMs?: number
}

/** One connection to one Serf agent; reconnects on the next call after a failure. */
export class SerfRpcClient {
  private readonly init: Required<SerfRpcInit>
  private socket: Socket | null = null
  private buffer: Buffer = Buffer.alloc(0)
  private seq = 0
  private waiter: (() => void) | null = null
  private closedReason: Error | null = null

  constructor (init: SerfRpcInit) {
    this.init = { timeoutMs: 2_000, ...init }
  }

  /** The agent's member list; throws on a refused, broken or timed-out connection. */
  async members (signal?: AbortSignal): Promise<SerfMember[]> {
    const timeout = AbortSignal.timeout(this.init.timeoutMs)
    const sig = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
    try {
      if (this.socket === null) await this.open(sig)
      const seq = this.seq++
      this.write({ Command: 'members', Seq: seq })
      await this.readHeader(seq, sig)
      const body = await this.readValue(sig) as { Members?: Array<{ Name?: unknown, Status?: unknown }> }
      return (body.Members ?? []).map(m => ({ name: String(m.Name), status: String(m.Status) }))
    } catch (err) {
      this.close()
      throw err
    }
  }

  /** Closes the connection (the next call opens a new one). */
  close (): void {
    this.socket?.destroy()
    this.socket = null
    this.buffer = Buffer.alloc(0)
    this.wake()
  }

  private async open (signal: AbortSignal): Promise<void> {
    this.closedReason = null
    this.buffer = Buffer.alloc(0)
    const socket = connect({ host: this.init.host, port: this.init.port })
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
      this.wake()
    })
    socket.on('error', err => { this.closedReason = err; this.wake() })
    socket.on('close', () => { this.closedReason ??= new Error('serf rpc connection closed'); this.wake() })
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
      socket.once('connect', () => { signal.removeEventListener('abort', onAbort); resolve() })
      socket.once('error', err => { signal.removeEventListener('abort', onAbort); reject(err) })
    })
    const seq = this.seq++
    this.write({ Command: 'handshake', Seq: seq })
    this.write({ Version: 1 })
    await this.readHeader(seq, signal)
  }

  private write (value: Record<string, string | number>): void {
    this.socket?.write(encode(value))
  }

  private wake (): void {
    const w = this.waiter
    this.waiter = null
    w?.()
  }

  private async readHeader (seq: number, signal: AbortSignal): Promise<void> {
    const header = await this.readValue(signal) as { Seq?: number, Error?: string }
    if (header.Seq !== seq) throw new Error(`serf rpc: response seq ${String(header.Seq)}, expected ${seq}`)
    if (header.Error !== undefined && header.Error !== '') throw new Error(`serf rpc: ${header.Error}`)
  }

  private async readValue (signal: AbortSignal): Promise<unknown> {
    for (;;) {
      signal.throwIfAborted()
      if (this.buffer.length > 0) {
        try {
          const { value, next } = decode(this.buffer)
          this.buffer = this.buffer.subarray(next)
          return value
        } catch (err) {
          if (!(err instanceof IncompleteError)) throw err
        }
      }
      if (this.closedReason !== null) throw this.closedReason
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => { this.waiter = null; reject(signal.reason) }
        signal.addEventListener('abort', onAbort, { once: true })
        this.waiter = () => { signal.removeEventListener('abort', onAbort); resolve() }
      })
    }
  }
}
