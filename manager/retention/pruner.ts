/**
 * Runs retention in the manager: every `intervalMs` a pass of bounded pruning steps
 * (ManagerStore.pruneStep), each one ordinary replicated write of at most a few hundred
 * deletes, with a yield to other work between steps. The policy is read from the config
 * (`retention.*`) at the start of every pass, so `clusterctl config set` takes effect on the
 * next pass.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { PruneCursor, PruneLimits, RetentionPolicy } from '../store/retention.js'

/** Collaborators of the pruner. */
export interface PrunerComponents {
  store: {
    pruneStep: (policy: RetentionPolicy, cursor?: PruneCursor, limits?: PruneLimits) => Promise<{ deleted: number, jobs: string[], next: PruneCursor | null }>
  }
  /** The policy now (from the config). */
  policy: () => Promise<RetentionPolicy>
  logger: Logger
}

/** Settings of the pruner. */
export interface PrunerInit {
  /** Time between passes. Default 10 minutes. */
  intervalMs?: number
  /** Delay of the first pass after start. Default 30 s (let the manager settle first). */
  firstPassMs?: number
  /** Most steps of one pass (the next pass goes on). Default 10,000. */
  maxStepsPerPass?: number
  /** Limits of one step. */
  limits?: PruneLimits
}

/** Periodically prunes the store's history. */
export class Pruner {
  private readonly c: PrunerComponents
  private readonly init: Required<Omit<PrunerInit, 'limits'>> & { limits?: PruneLimits }
  private timer: NodeJS.Timeout | null = null
  private running: Promise<number> | null = null
  private stopped = false

  constructor (components: PrunerComponents, init: PrunerInit = {}) {
    this.c = components
    this.init = { intervalMs: 600_000, firstPassMs: 30_000, maxStepsPerPass: 10_000, ...init }
  }

  /** Schedule passes. */
  start (): void {
    this.stopped = false
    const schedule = (ms: number): void => {
      this.timer = setTimeout(() => {
        void this.pass().finally(() => { if (!this.stopped) schedule(this.init.intervalMs) })
      }, ms)
      this.timer.unref()
    }
    schedule(this.init.firstPassMs)
  }

  /** Stop scheduling; waits for the step in flight. */
  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    await this.running?.catch(() => {})
  }

  /** Run one pass now (or join the one running); resolves with the number of keys deleted. */
  async pass (): Promise<number> {
    this.running ??= this.runPass().finally(() => { this.running = null })
    return await this.running
  }

  private async runPass (): Promise<number> {
    let deleted = 0
    let jobs = 0
    try {
      const policy = await this.c.policy()
      let cursor: PruneCursor | null = { afterNode: '' }
      for (let step = 0; cursor !== null && step < this.init.maxStepsPerPass && !this.stopped; step++) {
        const r: { deleted: number, jobs: string[], next: PruneCursor | null } = await this.c.store.pruneStep(policy, cursor, this.init.limits)
        deleted += r.deleted
        jobs += r.jobs.length
        cursor = r.next
        await yieldToLoop()
      }
      if (deleted > 0) this.c.logger.info({ deleted, jobs, policy }, 'retention pruned history')
    } catch (err) {
      this.c.logger.warn({ err, deleted }, 'retention pass stopped early; the next pass goes on')
    }
    return deleted
  }
}
