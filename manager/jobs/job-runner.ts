/**
 * Runs jobs: validate up front (changing nothing on refusal), record the job and each node's
 * lifecycle transition, then per node an SSH pre-check with the pinned host key, then the
 * playbooks of the plan through the PlaybookRunner, with every Ansible event persisted.
 * A node is in at most one job; jobs on disjoint nodes run concurrently up to a limit; one
 * failing node never fails the others. Deadlines are absolute (`timeoutAt`), so they survive
 * a restart. On stop, running jobs are left `running` in the store and resume on the next
 * start (playbooks are idempotent); nodes already finished in a job are not run again.
 */

import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { ClusterdError } from '../../protocol/errors.js'
import { isTerminalJobStatus, type JobNodeProgress, type JobRecord } from '../../protocol/jobs.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import type { HostKey } from '../../protocol/members.js'
import type { PlaybookEvent } from '../ansible/events.js'
import type { PlaybookRunner } from '../ansible/playbook-runner.js'
import type { HeldLease, JobFencing } from '../fencing/node-leases.js'
import { gateEnv } from '../../protocol/fencing-wire.js'
import { planFor, type PlanTarget } from '../roles/plan.js'
import type { RoleConfig } from '../roles/role-config.js'
import type { PrecheckResult } from '../ssh/precheck.js'
import type { ManagerStore, NewJobEvent, NodeCommand } from '../store/index.js'
import type { JobFeedItem, JobRequest, JobService } from './job-service.js'
import { describeDrift, driftOf, isMaintenanceKind, maintenanceNote } from './maintenance.js'

/** Where to reach a node: from membership (address) and its signed facts (host keys). */
export interface NodeTarget { address: string, port?: number, hostKeys: HostKey[] }

/** Collaborators of the job runner. */
export interface JobRunnerComponents {
  store: ManagerStore
  logger: Logger
  playbooks: PlaybookRunner
  /** `env`: the SSH session environment (the node lease the node's gate checks), when fenced. */
  precheck: (target: { name: string, env?: Record<string, string> } & NodeTarget, signal: AbortSignal) => Promise<PrecheckResult>
  /** Loads and validates roles.yaml; read per job so operators' edits take effect. */
  roles: () => Promise<RoleConfig>
  /** Target of a node, or a reason why the manager cannot reach it. */
  target: (node: NodeRecord) => NodeTarget | { unavailable: string }
  /**
   * Node leases (fencing): a node is worked on only under a lease from its own agent for this
   * manager's epoch. Without it, jobs run unfenced (unit tests, tools).
   */
  fencing?: JobFencing
}

/** Settings of the job runner. */
export interface JobRunnerInit {
  /** The manager's election epoch, stamped on every job it creates. */
  epoch: number
  /** Cluster name, injected into playbooks as clusterd_cluster. */
  cluster: string
  defaultTimeoutS?: number
  defaultMaxParallel?: number
  /** Pre-checks run at most this many at once. */
  precheckParallel?: number
  /** Cluster-level variables under the operator's `vars` config (e.g. agent_version). */
  baseVars?: Record<string, string>
}

interface Running { controller: AbortController, done: Promise<void> }

const STOP = 'manager-stopping'
const CANCEL = 'cancelled'
const TIMEOUT = 'timeout'

/** Create a job id: sortable by time, unique. */
export function newJobId (now: Date): string {
  return `j-${now.getTime().toString(36)}-${randomBytes(3).toString('hex')}`
}

/** The job runner. */
export class JobRunner implements JobService {
  private readonly c: JobRunnerComponents
  private readonly init: Required<JobRunnerInit>
  private readonly queue: string[] = []
  private readonly running = new Map<string, Running>()
  private readonly busy = new Map<string, string>()
  private readonly watchers = new Map<string, Set<() => void>>()
  private submitChain: Promise<unknown> = Promise.resolve()
  private status: 'stopped' | 'started' | 'stopping' = 'stopped'

  constructor (components: JobRunnerComponents, init: JobRunnerInit) {
    this.c = components
    this.init = { defaultTimeoutS: 1800, defaultMaxParallel: 4, precheckParallel: 8, baseVars: {}, ...init }
  }

  /** @inheritdoc */
  async start (): Promise<void> {
    if (this.status !== 'stopped') return
    const jobs = await this.c.store.listJobs()
    const live = new Set<string>()
    for (const job of jobs) {
      if (isTerminalJobStatus(job.status)) continue
      live.add(job.id)
      for (const n of job.nodes) if (!isFinal(job.perNode[n]?.outcome)) this.busy.set(n, job.id)
      if (job.status === 'running') {
        job.status = 'queued'
        await this.c.store.putJob(job)
        await this.c.store.appendJobEvents(job.id, [{ kind: 'status', message: 'the manager restarted during this job; resuming (finished nodes are not run again)' }])
      }
      this.queue.push(job.id)
    }
    // A node waiting in a transitional state for a job that no longer exists must not stay stuck.
    for (const f of await this.c.store.listInFlight()) {
      if (f.jobId !== null && live.has(f.jobId)) continue
      await this.c.store.applyTransition(f.node, { type: 'JOB_FAILED', jobId: f.jobId ?? '', reason: 'the job was lost when the manager restarted; issue the operation again' }, { actor: 'manager-restart' })
    }
    this.status = 'started'
    this.pump()
  }

  /** @inheritdoc */
  async stop (): Promise<void> {
    if (this.status !== 'started') return
    this.status = 'stopping'
    for (const r of this.running.values()) r.controller.abort(STOP)
    await Promise.allSettled([...this.running.values()].map(async r => await r.done))
    await this.submitChain.catch(() => {})
    // start() rebuilds both from the store, which may have changed meanwhile (a merge).
    this.queue.length = 0
    this.busy.clear()
    this.status = 'stopped'
  }

  /** @inheritdoc */
  async submit (req: JobRequest): Promise<JobRecord> {
    // Submissions are serialized so validation and recording see one consistent state.
    const next = this.submitChain.then(async () => await this.doSubmit(req))
    this.submitChain = next.catch(() => {})
    return await next
  }

  /** @inheritdoc */
  async cancel (id: string, reason = 'cancelled by the operator'): Promise<JobRecord> {
    const job = await this.c.store.getJob(id)
    if (job === undefined) throw new ClusterdError('CLUSTERD_ERR_JOB_NOT_FOUND', `no job with id ${id}`)
    if (isTerminalJobStatus(job.status)) throw new ClusterdError('CLUSTERD_ERR_JOB_FINISHED', `job ${id} already ${job.status}`)
    const running = this.running.get(id)
    if (running !== undefined) {
      running.controller.abort(`${CANCEL}: ${reason}`)
      await running.done
    } else {
      const i = this.queue.indexOf(id)
      if (i >= 0) this.queue.splice(i, 1)
      await this.finish(job, { cancelled: `cancelled: ${reason}` })
    }
    return (await this.c.store.getJob(id)) ?? job
  }

  /** @inheritdoc */
  async * feed (id: string, options: { afterSeq: number, follow: boolean, signal: AbortSignal }): AsyncIterable<JobFeedItem> {
    let after = options.afterSeq
    let lastJob = ''
    while (!options.signal.aborted) {
      const wake = this.waitForChange(id, options.signal)
      for (const event of await this.c.store.listJobEvents(id, { afterSeq: after })) {
        after = event.seq
        yield { type: 'event', event }
      }
      const job = await this.c.store.getJob(id)
      if (job === undefined) return
      const snapshot = JSON.stringify(job)
      if (snapshot !== lastJob) {
        lastJob = snapshot
        yield { type: 'job', job }
      }
      if (!options.follow || isTerminalJobStatus(job.status)) return
      await wake
    }
  }

  private waitForChange (id: string, signal: AbortSignal): Promise<void> {
    return new Promise(resolve => {
      const set = this.watchers.get(id) ?? new Set()
      this.watchers.set(id, set)
      const done = (): void => {
        clearTimeout(timer)
        set.delete(done)
        signal.removeEventListener('abort', done)
        resolve()
      }
      // A periodic wake as well: a missed notification costs at most a second.
      const timer = setTimeout(done, 1000)
      set.add(done)
      signal.addEventListener('abort', done, { once: true })
    })
  }

  private notify (id: string): void {
    for (const w of [...(this.watchers.get(id) ?? [])]) w()
  }

  private async doSubmit (req: JobRequest): Promise<JobRecord> {
    if (this.status !== 'started') throw new ClusterdError('CLUSTERD_ERR_NO_MANAGER', 'the manager is not accepting jobs (starting or stopping); retry shortly')
    const roles = await this.c.roles()
    const records: NodeRecord[] = []
    for (const name of req.nodes) {
      const node = await this.c.store.getNode(name)
      if (node === undefined) throw new ClusterdError('CLUSTERD_ERR_NODE_NOT_FOUND', `no node named ${name}`)
      const inJob = await this.busyWith(name) ?? node.currentJob
      if (inJob !== undefined && inJob !== null) throw new ClusterdError('CLUSTERD_ERR_NODE_BUSY', `node ${name} is already in job ${inJob}; wait for it or cancel it`)
      records.push(node)
    }
    const now = new Date()
    const id = newJobId(now)
    const command = (node: NodeRecord): NodeCommand => req.kind === 'commission'
      ? { type: 'COMMISSION', jobId: id, roles: req.roles, vars: req.vars }
      : { type: req.kind === 'upgrade' ? 'UPGRADE' : 'DECOMMISSION', jobId: id }
    // Verify and reconfigure keep the node commissioned: no machine transition, only notes.
    const maintenance = isMaintenanceKind(req.kind)
    for (const node of records) {
      if (maintenance) {
        if (node.state !== 'commissioned') throw new ClusterdError('CLUSTERD_ERR_INVALID_TRANSITION', `cannot ${req.kind} a node that is ${node.state}; allowed from: commissioned`)
        continue
      }
      const preview = await this.c.store.preview(node.name, command(node))
      if (!preview.ok) throw new ClusterdError(preview.code, preview.message)
    }
    // Validate the plan now (unknown role, missing required variable) with placeholder
    // addresses: nothing may be written for a request that cannot run.
    const cluster = await this.clusterVars()
    planFor(roles, req.kind, records.map(n => ({
      name: n.name, address: '0.0.0.0', hostKeys: [], roles: req.kind === 'commission' ? req.roles : n.roles, vars: n.vars
    })), { cluster: this.init.cluster, vars: { cluster, request: req.vars } })

    const timeoutS = numberConfig(await this.c.store.getConfig('job-timeout'), this.init.defaultTimeoutS)
    const perNode: Record<string, JobNodeProgress> = {}
    for (const n of records) perNode[n.name] = { outcome: 'pending', ok: 0, changed: 0, failed: 0 }
    const job: JobRecord = {
      id,
      kind: req.kind,
      nodes: records.map(n => n.name),
      roles: req.kind === 'commission' ? req.roles : [],
      vars: req.vars,
      status: 'queued',
      createdAt: now.toISOString(),
      startedAt: null,
      finishedAt: null,
      timeoutAt: new Date(now.getTime() + timeoutS * 1000).toISOString(),
      reason: null,
      perNode,
      epoch: this.init.epoch
    }
    await this.c.store.putJob(job)
    for (const node of records) {
      if (isMaintenanceKind(req.kind)) {
        await this.c.store.noteNode(node.name, { type: `${req.kind}-requested`, actor: req.actor, jobId: id })
        this.busy.set(node.name, id)
        continue
      }
      const res = await this.c.store.applyTransition(node.name, command(node), { actor: req.actor })
      if (!res.ok) {
        // Cannot happen while submissions are serialized; recorded rather than thrown so the job stays consistent.
        perNode[node.name] = { outcome: 'failed', ok: 0, changed: 0, failed: 0, message: res.message }
      } else {
        this.busy.set(node.name, id)
      }
    }
    await this.c.store.putJob(job)
    await this.c.store.appendJobEvents(id, [{ kind: 'status', message: `${req.kind} of ${job.nodes.join(', ')} queued by ${req.actor}` }])
    this.c.logger.info({ job: id, kind: req.kind, nodes: job.nodes, roles: job.roles, actor: req.actor }, 'job queued')
    this.queue.push(id)
    this.pump()
    return job
  }

  private pump (): void {
    if (this.status !== 'started') return
    void (async () => {
      const max = numberConfig(await this.c.store.getConfig('max-parallel-jobs'), this.init.defaultMaxParallel)
      while (this.running.size < max && this.queue.length > 0 && this.status === 'started') {
        const id = this.queue.shift() as string
        if (this.running.has(id)) continue
        const controller = new AbortController()
        const done = this.run(id, controller.signal)
          .catch(async err => {
            // A bug or an environment failure (disk full, missing directory) must not leave the
            // job running and its nodes stuck: fail what is not finished, with the reason.
            // Stopping the manager aborts what is in flight (an ssh pre-check, say): not a failure.
            if (controller.signal.aborted && controller.signal.reason === STOP) return
            this.c.logger.error({ err, job: id }, 'job run failed unexpectedly')
            const job = await this.c.store.getJob(id)
            if (job !== undefined && !isTerminalJobStatus(job.status)) {
              for (const n of job.nodes) {
                const p = job.perNode[n]
                if (p !== undefined && !isFinal(p.outcome)) setOutcome(p, 'failed', `manager error: ${(err as Error).message}`)
              }
              await this.finish(job, {})
            }
          })
          .catch(err => { this.c.logger.error({ err, job: id }, 'could not record the failure of a job') })
          .finally(() => { this.running.delete(id); this.pump() })
        this.running.set(id, { controller, done })
      }
    })().catch(err => { this.c.logger.error({ err }, 'job scheduling failed') })
  }

  private async run (id: string, signal: AbortSignal): Promise<void> {
    const job = await this.c.store.getJob(id)
    if (job === undefined || isTerminalJobStatus(job.status)) return
    const log = this.c.logger.child({ job: id })
    const controller = new AbortController()
    const timer = setTimeout(() => { controller.abort(TIMEOUT) }, Math.max(0, Date.parse(job.timeoutAt) - Date.now()))
    const runSignal = AbortSignal.any([signal, controller.signal])
    const events = new EventBuffer(this.c.store, id, () => { this.notify(id) }, log)
    // Node leases held by this run; all are released when it ends, whatever the outcome.
    const leases = new Map<string, HeldLease>()
    const dropLease = async (name: string): Promise<void> => { const l = leases.get(name); leases.delete(name); await l?.release() }
    try {
      job.status = 'running'
      job.startedAt ??= new Date().toISOString()
      await this.save(job)
      const pending = job.nodes.filter(n => !isFinal(job.perNode[n]?.outcome))
      const targets: PlanTarget[] = []
      const roleConfig = await this.c.roles()
      // Pre-check every pending node, a few at a time.
      await forEachLimit(pending, this.init.precheckParallel, async name => {
        const progress = job.perNode[name] as JobNodeProgress
        const node = await this.c.store.getNode(name)
        const t = node === undefined ? { unavailable: 'the node record is gone' } : this.c.target(node)
        if ('unavailable' in t || node === undefined) {
          setOutcome(progress, 'unreachable', 'unavailable' in t ? t.unavailable : 'unknown node')
          events.push({ kind: 'precheck', node: name, message: progress.message ?? '' })
          return
        }
        progress.outcome = 'running'
        let nodeSignal = runSignal
        if (this.c.fencing !== undefined) {
          // The lease comes first: not even the pre-check touches a node leased to another manager.
          progress.step = 'lease'
          const got = await this.c.fencing.acquire({ name, peerId: node.peerId }, runSignal)
          if (got.ok) leases.set(name, got.lease)
          if (runSignal.aborted) return
          if (!got.ok) {
            setOutcome(progress, got.unreachable ? 'unreachable' : 'failed', `lease not granted (${got.code}): ${got.message}`)
            events.push({ kind: 'lease', node: name, message: progress.message ?? '', data: { code: got.code } })
            return
          }
          events.push({ kind: 'lease', node: name, message: `lease ${got.lease.leaseId} granted for epoch ${got.lease.epoch} in ${got.lease.acquireMs} ms`, data: { leaseId: got.lease.leaseId, acquireMs: got.lease.acquireMs } })
          nodeSignal = AbortSignal.any([runSignal, got.lease.signal])
        }
        progress.step = 'precheck'
        const held = leases.get(name)
        const res = await this.c.precheck({ name, ...t, ...(held !== undefined ? { env: gateEnv(held) } : {}) }, nodeSignal)
        if (runSignal.aborted) return
        const lost = leases.get(name)?.signal
        if (lost?.aborted === true) {
          setOutcome(progress, 'failed', String(lost.reason))
          events.push({ kind: 'lease', node: name, message: progress.message ?? '' })
          await dropLease(name)
          return
        }
        if (!res.ok) {
          setOutcome(progress, res.reason === 'unreachable' ? 'unreachable' : 'failed', `pre-check failed (${res.reason}): ${res.message}`)
          events.push({ kind: 'precheck', node: name, message: progress.message ?? '', data: { reason: res.reason } })
          await dropLease(name)
          return
        }
        events.push({ kind: 'precheck', node: name, message: 'ok' })
        progress.step = 'playbook'
        targets.push({ name, ...t, roles: job.kind === 'commission' ? job.roles : node.roles, vars: node.vars })
      })
      await this.save(job)
      if (targets.length > 0 && !runSignal.aborted) {
        const unfenced = planFor(roleConfig, job.kind, targets, {
          cluster: this.init.cluster, vars: { cluster: await this.clusterVars(), request: job.vars }
        })
        const fencing = this.c.fencing
        const plan = fencing === undefined ? unfenced : fencing.guard(unfenced, leases)
        // One ansible-runner process serves every node of the job, so a lost lease stops the
        // whole run; each node's outcome says which lease was lost.
        const leaseLost = leases.size > 0 ? AbortSignal.any([...leases.values()].map(l => l.signal)) : undefined
        const result = await this.c.playbooks.run(plan, {
          signal: leaseLost === undefined ? runSignal : AbortSignal.any([runSignal, leaseLost]),
          onEvent: e => { this.onPlaybookEvent(job, e, events) },
          check: job.kind === 'verify'
        })
        log.info({ status: result.status, durationMs: result.durationMs }, 'playbook run ended')
        if (!runSignal.aborted && leaseLost?.aborted === true) {
          const losers = [...leases.values()].filter(l => l.signal.aborted)
          for (const t of targets) {
            const p = job.perNode[t.name] as JobNodeProgress
            const own = leases.get(t.name)?.signal
            if (own?.aborted === true) setOutcome(p, 'failed', String(own.reason))
            else setOutcome(p, 'failed', `stopped: the run was aborted because ${losers.map(l => l.node).join(', ')} lost its lease (CLUSTERD_ERR_LEASE_LOST); run the operation again`)
            events.push({ kind: 'lease', node: t.name, message: p.message ?? '' })
          }
        } else if (!runSignal.aborted) {
          for (const h of result.hosts) {
            const p = job.perNode[h.name]
            if (p === undefined) continue
            p.ok = h.ok
            p.changed = h.changed
            if (h.outcome === 'ok' && job.kind === 'verify') p.drift = driftOf(h)
            if (h.outcome === 'ok') setOutcome(p, 'ok', p.drift !== undefined ? describeDrift(p.drift) : undefined)
            else setOutcome(p, h.outcome === 'unreachable' ? 'unreachable' : 'failed', describeFailure(h.reason, h.failedTask, h.message))
          }
          if (result.status === 'error') {
            for (const t of targets) {
              const p = job.perNode[t.name] as JobNodeProgress
              if (!isFinal(p.outcome)) setOutcome(p, 'failed', `ansible-runner failed: ${result.message ?? 'unknown error'}`)
            }
          }
        }
      }
      await events.flush()
      const why = String(runSignal.reason ?? '')
      if (signal.aborted && signal.reason === STOP) {
        // Leave the job running in the store: the next manager start resumes it.
        await this.save(job)
        log.info('job interrupted by manager stop; it will resume')
        return
      }
      if (runSignal.aborted) await this.finish(job, { cancelled: why === TIMEOUT ? `timed out at ${job.timeoutAt}` : why }, events)
      else await this.finish(job, {}, events)
    } finally {
      clearTimeout(timer)
      await Promise.all([...leases.values()].map(async l => await l.release()))
      await events.flush()
    }
  }

  private onPlaybookEvent (job: JobRecord, e: PlaybookEvent, events: EventBuffer): void {
    const p = (host: string): JobNodeProgress | undefined => job.perNode[host]
    switch (e.type) {
      case 'task-start': events.push({ kind: 'task-start', task: e.task }); break
      case 'host-start': { const x = p(e.host); if (x !== undefined) x.task = e.task; break }
      case 'host-ok': {
        const x = p(e.host)
        if (x !== undefined) { x.ok++; if (e.changed) x.changed++; x.task = e.task }
        events.push({ kind: e.changed ? 'task-changed' : 'task-ok', node: e.host, task: e.task })
        break
      }
      case 'host-skipped': events.push({ kind: 'task-skipped', node: e.host, task: e.task }); break
      case 'host-failed': {
        const x = p(e.host)
        if (x !== undefined && !e.ignored) x.failed++
        events.push({ kind: 'task-failed', node: e.host, task: e.task, message: e.message, data: { ignored: e.ignored } })
        break
      }
      case 'host-unreachable': events.push({ kind: 'unreachable', node: e.host, task: e.task, message: e.message, data: { reason: e.reason } }); break
      case 'stats': events.push({ kind: 'stats', data: e.hosts }); break
      default: break
    }
    events.touch(async () => { await this.save(job) })
  }

  /** Final outcome: per-node lifecycle transitions, then the job's status. */
  private async finish (job: JobRecord, how: { cancelled?: string }, events?: EventBuffer): Promise<void> {
    // All nodes at once: the store's serial queue keeps each node's order and lets concurrent
    // writes share one disk sync (20 sequential synced transitions took seconds under load).
    await Promise.all(job.nodes.map(async name => {
      const p = job.perNode[name] as JobNodeProgress
      if (how.cancelled !== undefined && !isFinal(p.outcome)) setOutcome(p, 'cancelled', how.cancelled)
      else if (!isFinal(p.outcome)) setOutcome(p, 'failed', 'the node was not run (no result from ansible-runner)')
      const command: NodeCommand = p.outcome === 'ok'
        ? { type: 'JOB_SUCCEEDED', jobId: job.id }
        : p.outcome === 'cancelled'
          ? { type: 'JOB_CANCELLED', jobId: job.id, reason: p.message ?? 'cancelled' }
          : { type: 'JOB_FAILED', jobId: job.id, reason: p.message ?? 'failed' }
      if (isMaintenanceKind(job.kind)) await this.c.store.noteNode(name, maintenanceNote(job.kind, job.id, p, new Date().toISOString()))
      else await this.c.store.applyTransition(name, command, { actor: 'job-runner' })
      if (this.busy.get(name) === job.id) this.busy.delete(name)
    }))
    const failed = job.nodes.filter(n => job.perNode[n]?.outcome !== 'ok')
    job.status = how.cancelled !== undefined ? 'cancelled' : failed.length > 0 ? 'failed' : 'succeeded'
    job.reason = how.cancelled ?? (failed.length > 0 ? `${failed.length} of ${job.nodes.length} node(s) failed: ${failed.map(n => `${n} (${job.perNode[n]?.message ?? 'failed'})`).join('; ')}` : null)
    job.finishedAt = new Date().toISOString()
    await events?.flush()
    await this.c.store.appendJobEvents(job.id, [{ kind: 'status', message: `job ${job.status}${job.reason !== null ? `: ${job.reason}` : ''}` }])
    await this.save(job)
    this.c.logger.info({ job: job.id, status: job.status, reason: job.reason }, 'job finished')
  }

  /**
   * The job `name` is busy with, if that job has not finished. A merge from another lineage
   * (a deposed manager's last writes) can finish a job this runner had taken up: its entry here
   * is then stale and must not refuse new work.
   */
  private async busyWith (name: string): Promise<string | undefined> {
    const id = this.busy.get(name)
    if (id === undefined) return undefined
    const job = await this.c.store.getJob(id)
    if (job !== undefined && !isTerminalJobStatus(job.status)) return id
    this.busy.delete(name)
    return undefined
  }

  /** @inheritdoc */
  async nodeJob (node: string): Promise<string | null> {
    return await this.busyWith(node) ?? (await this.c.store.getNode(node))?.currentJob ?? null
  }

  /** Whether this runner is running, or holds nodes for, any of the jobs `ids`. */
  involves (ids: readonly string[]): boolean {
    const mine = new Set([...this.running.keys(), ...this.busy.values()])
    return ids.some(id => mine.has(id))
  }

  /**
   * Writes this runner's copy of `job`, unless the stored job has finished meanwhile (a merge
   * brought its end from another lineage): a finished job is never reopened or rewritten.
   */
  private async save (job: JobRecord): Promise<void> {
    const stored = await this.c.store.getJob(job.id)
    if (stored !== undefined && isTerminalJobStatus(stored.status) && stored.finishedAt !== job.finishedAt) {
      this.c.logger.warn({ job: job.id, stored: stored.status, ours: job.status }, 'not rewriting a job another manager finished')
      return
    }
    await this.c.store.putJob(job)
    this.notify(job.id)
  }

  private async clusterVars (): Promise<Record<string, string>> {
    const v = await this.c.store.getConfig('vars')
    return { ...this.init.baseVars, ...(typeof v === 'object' && v !== null ? v as Record<string, string> : {}) }
  }
}

/** Buffers job events and writes them in batches (one LevelDB batch per flush). */
class EventBuffer {
  private items: NewJobEvent[] = []
  private timer: NodeJS.Timeout | null = null
  private saveTimer: NodeJS.Timeout | null = null
  private writing: Promise<unknown> = Promise.resolve()

  constructor (private readonly store: ManagerStore, private readonly jobId: string, private readonly onFlush: () => void, private readonly log: Logger) {}

  push (e: NewJobEvent): void {
    this.items.push(e)
    // A refused write (a deposed manager's store refuses all) must not become an unhandled rejection.
    this.timer ??= setTimeout(() => { this.flush().catch(err => { this.log.warn({ err, job: this.jobId }, 'writing job events failed') }) }, 200)
  }

  /** Debounced extra work (saving per-node progress) alongside event flushes; errors are logged, not thrown. */
  touch (fn: () => Promise<void>): void {
    this.saveTimer ??= setTimeout(() => {
      this.saveTimer = null
      this.writing = this.writing.then(fn).catch(err => { this.log.warn({ err, job: this.jobId }, 'saving job progress failed') })
    }, 500)
  }

  /** Write what is buffered. A pending debounced save is dropped: the caller saves the job itself. */
  async flush (): Promise<void> {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null }
    if (this.saveTimer !== null) { clearTimeout(this.saveTimer); this.saveTimer = null }
    const batch = this.items
    this.items = []
    if (batch.length > 0) this.writing = this.writing.then(async () => await this.store.appendJobEvents(this.jobId, batch))
    await this.writing
    if (batch.length > 0) this.onFlush()
  }
}

function isFinal (outcome: JobNodeProgress['outcome'] | undefined): boolean {
  return outcome === 'ok' || outcome === 'failed' || outcome === 'unreachable' || outcome === 'cancelled'
}

function setOutcome (p: JobNodeProgress, outcome: JobNodeProgress['outcome'], message?: string): void {
  p.outcome = outcome
  p.step = 'done'
  if (message !== undefined) p.message = message
}

function describeFailure (reason: string | undefined, task: string | undefined, message: string | undefined): string {
  const what = reason === 'host-key-mismatch' ? 'host key does not match the pinned key' : reason ?? 'failed'
  return [what, task !== undefined ? `task "${task}"` : undefined, message].filter(x => x !== undefined && x !== '').join(': ')
}

function numberConfig (v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback
}

async function forEachLimit<T> (items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items]
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, async () => {
    while (queue.length > 0) await fn(queue.shift() as T)
  }))
}

