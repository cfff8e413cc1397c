/**
 * The simulated world's one queued-event shape and its kinds. Separate from world.ts because
 * two modules queue and read these events: world.ts (timers, datagrams, actions, the CPU model)
 * and sync-exchanges.ts (the push-pull exchanges' frames and failures).
 */

/** A node's timer (its core's next deadline). */
export const K_TICK = 0
/** A datagram arriving. */
export const K_DGRAM = 1
/** A push-pull request (a whole state or a digest) arriving at the responder. */
export const K_SYNC_REQ = 2
/** The responder's answer arriving at the initiator. */
export const K_SYNC_REPLY = 3
/** A push-pull the initiator gives up (timeout, refusal, unknown or crashed peer). */
export const K_SYNC_FAIL = 4
/** A scenario's action (`World.at`). */
export const K_ACTION = 5
/** The CPU model only: a node's core starts once its start-up work is done; other work. */
export const K_START = 6
export const K_BACKGROUND = 7
/** Digest push-pull: the initiator's last frame (the entries the responder asked for). */
export const K_SYNC_PUSH = 8

/** One queued event; a single shape keeps the dispatch monomorphic. */
export class Ev {
  constructor (
    readonly k: number,
    readonly node: number,
    readonly from: number,
    readonly gen: number,
    readonly a: unknown,
    readonly b: unknown
  ) {}
}
