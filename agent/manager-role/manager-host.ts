/**
 * Hosts the manager role inside the agent: starts it when this agent is elected, stops it
 * when another manager takes over (higher epoch) or the agent leaves. Transitions run one at
 * a time, so a quick depose-and-reelect never runs two managers in one process.
 */

import type { Logger } from 'pino'
import type { ApiHandler } from '../../protocol/api-handler.js'
import type { ManagerFactory, ManagerRole } from '../../protocol/manager-role.js'
import type { ManagerFigures } from '../../protocol/manager-metrics.js'
import type { Election } from '../election/election.js'

/**
 * Hand-over of the manager store directory: the replica closes it before the role opens it
 * and reopens it once the role has stopped (or failed to start).
 */
export interface StoreHandover {
  release: () => Promise<void>
  reclaim: () => Promise<void>
}

/** Starts and stops the manager role as elections go. */
export class ManagerHost {
  private readonly election: Election
  private readonly logger: Logger
  private readonly factory: ManagerFactory
  private running: { role: ManagerRole, epoch: number } | null = null
  private ready = false
  private lastError: string | null = null
  private retryTimer: NodeJS.Timeout | null = null
  private chain = Promise.resolve()
  private unsubscribe: (() => void) | null = null
  private readonly handover: StoreHandover | undefined
  private stopping = false

  constructor (components: { election: Election, logger: Logger, factory: ManagerFactory, handover?: StoreHandover }) {
    this.election = components.election
    this.logger = components.logger
    this.factory = components.factory
    this.handover = components.handover
  }

  /** Revision of the running manager's store, or null when no role runs here. */
  localRevision (): number | null {
    return this.ready && this.running !== null ? this.running.role.revision?.() ?? null : null
  }

  /** The running manager's figures for `GET /metrics`, or null when no role serves here. */
  metrics (): ManagerFigures | null {
    return this.ready && this.running !== null ? this.running.role.metrics?.() ?? null : null
  }

  /** True while a manager role runs here and has started. */
  get serving (): boolean { return this.ready && this.running !== null }

  /** Follow the election. */
  start (): void {
    this.unsubscribe = this.election.onChange(() => { this.reconcile() })
    this.reconcile()
  }

  /** Stop following and stop the manager role if it runs. */
  async stop (): Promise<void> {
    this.stopping = true
    this.unsubscribe?.()
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    this.chain = this.chain.then(async () => { await this.stopRole() })
    await this.chain
  }

  /** Why the manager role is not running although this agent was elected, if it failed to start. */
  get startError (): string | null { return this.lastError }

  /** The running manager's routes, or null when this agent is not (yet) serving as manager. */
  localRoutes (): Map<string, ApiHandler> | null {
    return this.ready && this.running !== null ? this.running.role.routes() : null
  }

  private reconcile (): void {
    this.chain = this.chain.then(async () => {
      const m = this.election.manager()
      const shouldRun = m !== null && m.local
      if (this.running !== null && (!shouldRun || m.epoch !== this.running.epoch)) await this.stopRole()
      if (shouldRun && this.running === null) {
        const role = this.factory({ epoch: m.epoch })
        this.running = { role, epoch: m.epoch }
        try {
          await this.handover?.release()
          // The election may have moved on while the replica closed: a role for a lost epoch
          // would only slow everyone down (its writes wait for replicas that follow another).
          const still = this.election.manager()
          if (still === null || !still.local || still.epoch !== m.epoch) {
            this.running = null
            await this.reclaim()
            return
          }
          await role.start()
          this.ready = true
          this.lastError = null
          this.logger.info({ epoch: m.epoch }, 'manager role started')
        } catch (err) {
          this.lastError = (err as Error).message
          this.logger.error({ err }, 'manager role failed to start; retrying in 5 s')
          this.running = null
          await this.reclaim()
          // Still elected: try again rather than leave the cluster with a manager that serves nothing.
          this.retryTimer = setTimeout(() => { this.retryTimer = null; this.reconcile() }, 5000)
          this.retryTimer.unref()
        }
      }
    }).catch(err => { this.logger.error({ err }, 'manager host transition failed') })
  }

  private async stopRole (): Promise<void> {
    if (this.running === null) return
    const { role, epoch } = this.running
    this.ready = false
    this.running = null
    await role.stop().catch(err => { this.logger.error({ err }, 'manager role failed to stop cleanly') })
    this.logger.info({ epoch }, 'manager role stopped')
    await this.reclaim()
  }

  private async reclaim (): Promise<void> {
    if (this.stopping) return // the agent is shutting down: nothing to hand back to
    await this.handover?.reclaim().catch(err => { this.logger.error({ err }, 'could not reopen the replica store') })
  }
}
