/**
 * What the simulator needs from a membership core, written structurally so that the engine can
 * be tested with a trivial stand-in and driven by the real `SwimCore` (agent/membership/core)
 * without depending on its internals. The names follow the core contract.
 */

/** One address per member (UDP datagrams and the stream listener). */
export interface SimEndpoint { host: string, port: number }

/** A membership event the simulator observes (the core emits more kinds; others are ignored). */
export type SimEvent =
  | { t: 'member', id: string, status: string, previous?: string | null | undefined }
  | { t: 'incarnation', value: number }
  | { t: 'user', key: string, data: Uint8Array, version: number }
  | { t: string }

/** A push-pull exchange the core asks its wrapper to run. */
export interface SimSyncRequest<S> { to: SimEndpoint, id?: string | null, state: S }

/** Everything a core call returns. */
export interface SimOutput<M, S> {
  send: Array<{ to: SimEndpoint, msg: M }>
  syncs: Array<SimSyncRequest<S>>
  events: SimEvent[]
}

/** The calls the simulator makes on a core (the sans-I/O contract). */
export interface SimCore<M, S> {
  start: (now: number) => SimOutput<M, S>
  receive: (from: SimEndpoint, msg: M, now: number) => SimOutput<M, S>
  onSyncRequest: (state: S, now: number) => { reply: S, out: SimOutput<M, S> }
  onSyncReply: (state: S, now: number) => SimOutput<M, S>
  onSyncFailed: (to: SimEndpoint, now: number) => SimOutput<M, S>
  tick: (now: number) => SimOutput<M, S>
  nextDeadline: () => number
  /** This node's view of one member (undefined when unknown). */
  member: (id: string) => { status: string } | undefined
  /** Members not failed or left, self included. */
  size: () => number
  /** Whether a push-pull of its own has completed since it started (its join is done). */
  synced?: () => boolean
  /** Digest push-pull (three frames; agent/membership/core/digest.ts); absent in engine stand-ins. */
  onDigestRequest?: (digest: unknown, now: number) => { reply: unknown, out: SimOutput<M, S> }
  onDigestReply?: (reply: unknown, now: number) => { push: S, out: SimOutput<M, S> }
  onDigestPush?: (state: S, now: number) => SimOutput<M, S>
  /** Disseminate an application broadcast (manager claims); absent in engine stand-ins. */
  broadcast?: (key: string, data: Uint8Array, version: number, now: number) => SimOutput<M, S>
}

/** Builds the core of node `index` (a fresh process: start, join or restart). */
export interface SimNodeFactory<M, S> {
  /**
   * Creates a node's core; `seeds` are the endpoints it joins through. `booted` = one of the
   * initial nodes whose view will be preloaded (`preload`), as in a long-running cluster.
   */
  create: (index: number, incarnation: number, seeds: SimEndpoint[], booted?: boolean) => SimCore<M, S>
  /**
   * Gives every initial node a full, converged view without simulating the formation, plus
   * the latest application broadcasts (`user`: the sitting manager's claim).
   */
  preload?: (cores: Array<SimCore<M, S>>, now: number, user: Array<{ key: string, data: Uint8Array, version: number }>) => void
  /** Encoded size of a datagram (the real codec in the real factory). */
  datagramBytes: (msg: M) => number
  /** Encoded size of a push-pull state. */
  syncBytes: (state: S) => number
  /**
   * Push-pulls as digest exchanges (sync 3.0.0): the digest of a state and the encoded sizes of
   * a digest and of a reply; absent = whole states both ways (2.0.0).
   */
  digest?: { of: (state: S) => unknown, bytes: (digest: unknown) => number, replyBytes: (reply: unknown) => number }
  /** The periodic push-pull interval at N members (for the steady-state traffic figure). */
  pushPullIntervalMs?: (n: number) => number
  /** Peer id of node `index` (member events name members by id). */
  idOf: (index: number) => string
}
