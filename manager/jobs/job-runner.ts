/**
 * Runs jobs: validate up front (changing nothing on refusal; job-submit.ts), record the job and
 * each node's lifecycle transition, then per node a lease and an SSH pre-check with the pinned
 * host key, then the playbooks of the plan through the PlaybookRunner (job-pipeline.ts), with
 * every Ansible event persisted (event-buffer.ts) and each node's outcome mapped by the pure
 * job-outcome.ts. This file holds the queue and the job's life around a run.
 * A node is in at most one job; jobs on disjoint nodes run concurrently up to a limit; one
 * failing node never fails the others. Deadlines are absolute (`timeoutAt`), so they survive
 * a restart. On stop, running jobs are left `running` in the store and resume on the next
 * start (playbooks are idempotent); nodes already finished in a job are not run again.
 * A rolling upgrade (a job with `rollout`) runs in waves (rollout-run.ts); when it pauses it
 * leaves the queue and rests, holding its nodes, until `resume` or `retryFailed`.
 */

import type { Logger } from 'pino'
import { ClusterdError } from '../../protocol/errors.js'
import { isTerminalJobStatus, type JobNodeProgress, type JobRecord } from '../../protocol/jobs.js'
import type { LifecycleActor, NodeRecord } from '../../protocol/nodes.js'
import type { HostKey } from '../../protocol/members.js'
import type { PlaybookRunner } from '../ansible/playbook-runner.js'
import type { HeldLease, JobFencing } from '../fencing/node-leases.js'
import type { RoleConfig } from '../roles/role-config.js'
import type { PrecheckResult } from '../ssh/precheck.js'
import type { ConfigStore, JobStore, NodeStore } from '../store/index.js'
import { EventBuffer } from './event-buffer.js'
import { JobWatchers, jobFeed } from './job-feed.js'
import { closeNode, isFinal, jobVerdict, managerError, outcomeCommand } from './job-outcome.js'
import { precheckNodes, runPlaybooks, type RunContext } from './job-pipeline.js'
import type { JobFeedItem, JobRequest, JobService } from './job-service.js'
import { clusterVars, numberConfig } from './job-settings.js'
import { checkSubmission, startCommand } from './job-submit.js'
import { appliedBy, isMaintenanceKind, isSetRoles, maintenanceNote } from './maintenance.js'
import { runRollout } from './rollout-run.js'
import { failedNodes, isRollout, resumeRollout, retryFailedInPlace, rolloutSettingsOf, type RolloutJob } from './rollout-plan.js'
import { byJobRevision } from '../revisions/upgrade-plan.js'
import type { ManagerMetricsSink } from '../../protocol/manager-metrics.js'
import { runAgentUpgrade, type AgentUpgradeRunInit } from '../agent-upgrade/agent-upgrade-run.js'

/** Where to reach a node: from membership (address) and its signed facts (host keys). */
export interface NodeTarget { address: string, port?: number, hostKeys: HostKey[] }

/** What the job runner needs of the store: nodes, jobs, and the config it reads. */
export type JobRunnerStore = NodeStore & JobStore & Pick<ConfigStore, 'getConfig'>

/** Collaborators of the job runner. */
export interface JobRunnerComponents {
  store: JobRunnerStore
  logger: Logger
  playbooks: PlaybookRunner
  /** `env`: the SSH session environment (the node lease the node's gate checks), when fenced. */
  precheck: (target: { name: string, env?: Record<string, string> } & NodeTarget, signal: AbortSignal) => Promise<PrecheckResult>
  /** Loads and validates roles.yaml of a configuration revision (null: the current one); read per job. */
  roles: (revision: number | null) => Promise<RoleConfig>
  /** The cluster's current configuration revision; absent: jobs carry no revision (unit tests). */
  currentRevision?: () => Promise<number | null>
  /** Target of a node, or a reason why the manager cannot reach it (may fetch what it lacks, within `signal`). */
  target: (node: NodeRecord, signal: AbortSignal) => NodeTarget | { unavailable: string } | Promise<NodeTarget | { unavailable: string }>
  /**
   * Node leases (fencing): a node is worked on only under a lease from its own agent for this
   * manager's epoch. Without it, jobs run unfenced (unit tests, tools).
   */
  fencing?: JobFencing
  /** Told of every job that ends (the agent's metrics). */
  metrics?: Pick<ManagerMetricsSink, 'jobFinished'>
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
  /** This manager's own node name: an agent upgrade does it last. */
  selfName?: string
  /** Agent-upgrade timings (tests shorten them). */
  agentUpgrade?: Pick<AgentUpgradeRunInit, 'rejoinWaitMs' | 'pollMs'>
}

interface Running { controller: AbortController, done: Promise<void> }

const STOP = 'manager-stopping'
const CANCEL = 'cancelled'
const TIMEOUT = 'timeout'

/** The job runner. */
export class JobRunner implements JobService {
  private readonly c: JobRunnerComponents
  private readonly init: Required<JobRunnerInit>
  private readonly queue: string[] = []
  private readonly running = new Map<string, Running>()
  private readonly busy = new Map<string, string>()
  private readonly watchers = new JobWatchers()
  private submitChain: Promise<unknown> = Promise.resolve()
  private status: 'stopped' | 'started' | 'stopping' = 'stopped'

  constructor (components: JobRunnerComponents, init: JobRunnerInit) {
    this.c = components
    this.init = { defaultTimeoutS: 1800, defaultMaxParallel: 4, precheckParallel: 8, baseVars: {}, selfName: '', agentUpgrade: {}, ...init }
  }

  /** Jobs queued or running now. */
  get active (): number { return this.queue.length + this.running.size }

  /** @inheritdoc */
  async start (): Promise<void> {
    if (this.status !== 'stopped') return
    const jobs = await this.c.store.listJobs()
    const live = new Set<string>()
    for (const job of jobs) {
      if (isTerminalJobStatus(job.status)) continue
      live.add(job.id)
      // A rollout holds all its nodes until it ends (a failed one may be retried), as at submission.
      for (const n of job.nodes) if (!isFinal(job.perNode[n]?.outcome) || isRollout(job)) this.busy.set(n, job.id)
      // A paused rollout rests: it holds its nodes but waits for `job resume` or `job retry`.
      if (job.status === 'paused') continue
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
    return await this.serialized(async () => await this.doSubmit(req))
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
  async resume (id: string, actor: LifecycleActor): Promise<JobRecord> {
    return await this.serialized(async () => {
      const job = await this.pausedJob(id)
      const accepted = resumeRollout(job)
      await this.requeue(job, `resumed by ${actor}${accepted.length > 0 ? `; failures accepted: ${accepted.join(', ')}` : ''}`)
      return job
    })
  }

  /** @inheritdoc */
  async retryFailed (id: string, actor: LifecycleActor): Promise<JobRecord> {
    const job = await this.c.store.getJob(id)
    if (job === undefined) throw new ClusterdError('CLUSTERD_ERR_JOB_NOT_FOUND', `no job with id ${id}`)
    if (isTerminalJobStatus(job.status)) {
      // A finished job is never reopened: its failed nodes go in a new job of the same kind.
      const failed = failedNodes(job)
      if (failed.length === 0) throw new ClusterdError('CLUSTERD_ERR_NOTHING_TO_RETRY', `no node of job ${id} failed`)
      // The same revision as the job it retries (not the newest), judged no further: what was
      // accepted then (a forced downgrade included) is what the failed nodes still lack.
      const sameRevision = job.revision !== undefined && job.nodeRevisions === undefined && job.kind !== 'verify' && job.kind !== 'reconfigure'
      return await this.submit({
        kind: job.kind, nodes: failed, roles: job.roles, vars: job.vars, actor,
        ...(sameRevision ? { revision: job.revision, force: true } : {}),
        ...(job.rollout !== undefined ? { rollout: rolloutSettingsOf(job.rollout) } : {})
      })
    }
    return await this.serialized(async () => {
      const paused = await this.pausedJob(id)
      if (failedNodes(paused).length === 0) throw new ClusterdError('CLUSTERD_ERR_NOTHING_TO_RETRY', `no node of job ${id} failed; \`clusterctl job resume ${id}\` continues it`)
      const retried = retryFailedInPlace(paused)
      await this.requeue(paused, `retry of ${retried.join(', ')} requested by ${actor}`)
      return paused
    })
  }

  /** @inheritdoc */
  feed (id: string, options: { afterSeq: number, follow: boolean, signal: AbortSignal }): AsyncIterable<JobFeedItem> {
    return jobFeed(this.c.store, this.watchers, id, options)
  }

  /** Run `fn` in the submission chain, so it sees and writes one consistent state. */
  private async serialized<T> (fn: () => Promise<T>): Promise<T> {
    const next = this.submitChain.then(fn)
    this.submitChain = next.catch(() => {})
    return await next
  }

  /** Job `id`, which must be a paused rollout. */
  private async pausedJob (id: string): Promise<RolloutJob> {
    if (this.status !== 'started') throw new ClusterdError('CLUSTERD_ERR_NO_MANAGER', 'the manager is not accepting jobs (starting or stopping); retry shortly')
    const job = await this.c.store.getJob(id)
    if (job === undefined) throw new ClusterdError('CLUSTERD_ERR_JOB_NOT_FOUND', `no job with id ${id}`)
    if (job.status !== 'paused' || !isRollout(job)) throw new ClusterdError('CLUSTERD_ERR_JOB_NOT_PAUSED', `job ${id} is ${job.status}, not a paused rolling upgrade`)
    return job
  }

  /** Queue a paused job again (saved first, so a failover resumes it too). */
  private async requeue (job: RolloutJob, note: string): Promise<void> {
    await this.save(job)
    await this.c.store.appendJobEvents(job.id, [{ kind: 'status', message: note }])
    this.c.logger.info({ job: job.id, note }, 'rollout queued again')
    this.queue.push(job.id)
    this.pump()
  }

  private async doSubmit (req: JobRequest): Promise<JobRecord> {
    if (this.status !== 'started') throw new ClusterdError('CLUSTERD_ERR_NO_MANAGER', 'the manager is not accepting jobs (starting or stopping); retry shortly')
    const { job, records } = await checkSubmission({
      store: this.c.store,
      roles: async revision => await this.c.roles(revision),
      ...(this.c.currentRevision !== undefined ? { currentRevision: this.c.currentRevision } : {}),
      busyWith: async name => await this.busyWith(name),
      clusterVars: async () => await this.clusterVars(),
      cluster: this.init.cluster,
      epoch: this.init.epoch,
      defaultTimeoutS: this.init.defaultTimeoutS
    }, req)
    const id = job.id
    const perNode = job.perNode
    await this.c.store.putJob(job)
    for (const node of records) {
      if (req.kind === 'agent-upgrade') { this.busy.set(node.name, id); continue }
      if (job.rollout !== undefined) {
        // A rolling upgrade moves each node when its wave starts (rollout-run.ts); until then it is held.
        this.busy.set(node.name, id)
        continue
      }
      if (isMaintenanceKind(req.kind)) {
        await this.c.store.noteNode(node.name, { type: `${req.kind}-requested`, actor: req.actor, jobId: id })
        this.busy.set(node.name, id)
        continue
      }
      const res = await this.c.store.applyTransition(node.name, startCommand(req, id), { actor: req.actor })
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
                if (p !== undefined) managerError(p, err as Error)
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
    const events = new EventBuffer(this.c.store, id, () => { this.watchers.notify(id) }, log)
    // Node leases held by this run; all are released when it ends, whatever the outcome.
    const leases = new Map<string, HeldLease>()
    const ctx: RunContext = {
      c: this.c,
      log,
      cluster: this.init.cluster,
      precheckParallel: this.init.precheckParallel,
      clusterVars: async () => await this.clusterVars(),
      save: async job => { await this.save(job) },
      events,
      leases
    }
    if (isRollout(job)) {
      // A rolling upgrade keeps its own deadlines (one per wave) and leases (released per wave).
      try {
        await runRollout(ctx, job, signal, {
          finish: async (j, how) => { await this.finish(j, how, events) },
          timeoutS: async () => numberConfig(await this.c.store.getConfig('job-timeout'), this.init.defaultTimeoutS),
          stopping: s => s.reason === STOP
        })
      } finally {
        await events.flush()
      }
      return
    }
    const controller = new AbortController()
    const timer = setTimeout(() => { controller.abort(TIMEOUT) }, Math.max(0, Date.parse(job.timeoutAt) - Date.now()))
    const runSignal = AbortSignal.any([signal, controller.signal])
    try {
      job.status = 'running'
      job.startedAt ??= new Date().toISOString()
      await this.save(job)
      if (job.kind === 'agent-upgrade') {
        const roleConfig = await this.c.roles(job.revision ?? null)
        await runAgentUpgrade(ctx, job, { playbookDir: roleConfig.dir, self: this.init.selfName, ...this.init.agentUpgrade }, runSignal)
      } else {
        // Checked before the pre-checks, so a revision that cannot be read fails the job at once.
        const groups = byJobRevision(job, job.nodes.map(name => ({ name })))
        const configs = new Map<number | null, RoleConfig>()
        for (const [revision] of groups) configs.set(revision, await this.c.roles(revision))
        const targets = await precheckNodes(ctx, job, runSignal)
        await this.save(job)
        // One ansible-runner per revision the job runs (one, except a verify or reconfigure of nodes at different revisions).
        for (const [revision, group] of byJobRevision(job, targets)) {
          if (runSignal.aborted) break
          await runPlaybooks(ctx, job, configs.get(revision) as RoleConfig, group, runSignal)
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

  /** Final outcome: per-node lifecycle transitions, then the job's status. */
  private async finish (job: JobRecord, how: { cancelled?: string }, events?: EventBuffer): Promise<void> {
    // All nodes at once: the store's serial queue keeps each node's order and lets concurrent
    // writes share one disk sync (20 sequential synced transitions took seconds under load).
    await Promise.all(job.nodes.map(async name => {
      const p = job.perNode[name] as JobNodeProgress
      closeNode(p, how.cancelled)
      const applied = appliedBy(job, name, p)
      // A set-roles that succeeded makes the new roles (and vars) the node's own, before the note.
      if (isSetRoles(job) && p.outcome === 'ok') await this.c.store.applyTransition(name, { type: 'SET_ROLES', jobId: job.id, roles: job.roles, vars: job.vars }, { actor: 'job-runner' })
      // An agent upgrade leaves the lifecycle alone: the job and its events are its record.
      if (job.kind === 'agent-upgrade') { /* nothing to transition */ } else if (isMaintenanceKind(job.kind)) await this.c.store.noteNode(name, { ...maintenanceNote(job.kind, job.id, p, new Date().toISOString()), ...applied })
      else await this.c.store.applyTransition(name, outcomeCommand(job.id, p), { actor: 'job-runner', ...applied })
      if (this.busy.get(name) === job.id) this.busy.delete(name)
    }))
    const verdict = jobVerdict(job, how.cancelled)
    job.status = verdict.status
    job.reason = verdict.reason
    job.finishedAt = new Date().toISOString()
    await events?.flush()
    await this.c.store.appendJobEvents(job.id, [{ kind: 'status', message: `job ${job.status}${job.reason !== null ? `: ${job.reason}` : ''}` }])
    await this.save(job)
    this.c.logger.info({ job: job.id, status: job.status, reason: job.reason }, 'job finished')
    const seconds = (Date.parse(job.finishedAt) - Date.parse(job.createdAt)) / 1000
    this.c.metrics?.jobFinished(job.kind, job.status, Number.isFinite(seconds) ? Math.max(0, seconds) : 0)
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
    this.watchers.notify(job.id)
  }

  private async clusterVars (): Promise<Record<string, string>> {
    return await clusterVars(this.c.store, this.init.baseVars)
  }
}
