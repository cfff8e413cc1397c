/**
 * Runs jobs: validate up front (changing nothing on refusal; job-submit.ts), record the job and
 * each node's lifecycle transition, then per node a lease and an SSH pre-check with the pinned
 * host key, then the playbooks of the plan through the PlaybookRunner (job-pipeline.ts), with
 * every Ansible event persisted (event-buffer.ts) and each node's outcome mapped by the pure
 * job-outcome.ts. This file holds the queue: which job runs when, which nodes each job holds,
 * submission, cancel, resume and retry, and the restart; one job's run and end are job-run.ts.
 * A node is in at most one job; jobs on disjoint nodes run concurrently up to a limit; one
 * failing node never fails the others. Deadlines are absolute (`timeoutAt`), so they survive
 * a restart. On stop, running jobs are left `running` in the store and resume on the next
 * start (playbooks are idempotent); nodes already finished in a job are not run again.
 * A rolling upgrade (a job with `rollout`) runs in waves (rollout-run.ts); when it pauses it
 * leaves the queue and rests, holding its nodes, until `resume` or `retryFailed`.
 */

import type { Logger } from 'pino'
import { ClusterdError } from '../../protocol/errors.js'
import { isTerminalJobStatus, type JobRecord } from '../../protocol/jobs.js'
import type { LifecycleActor, NodeRecord } from '../../protocol/nodes.js'
import type { HostKey } from '../../protocol/members.js'
import type { PlaybookRunner } from '../ansible/playbook-runner.js'
import type { JobFencing } from '../fencing/node-leases.js'
import type { RoleConfig } from '../roles/role-config.js'
import type { PrecheckResult } from '../ssh/precheck.js'
import type { ConfigStore, JobStore, NodeStore } from '../store/index.js'
import { JobWatchers, jobFeed } from './job-feed.js'
import { isFinal, managerError } from './job-outcome.js'
import { finishJob, runJob, STOP, type JobRunHost } from './job-run.js'
import type { JobFeedItem, JobRequest, JobService } from './job-service.js'
import { clusterVars, numberConfig } from './job-settings.js'
import { checkSubmission, startCommand } from './job-submit.js'
import { isMaintenanceKind } from './maintenance.js'
import { failedNodes, isRollout, resumeRollout, retryFailedInPlace, rolloutSettingsOf, type RolloutJob } from './rollout-plan.js'
import type { ManagerMetricsSink } from '../../protocol/manager-metrics.js'
import type { AgentUpgradeRunInit } from '../agent-upgrade/agent-upgrade-run.js'

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

const CANCEL = 'cancelled'

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
  /** What a job's run (job-run.ts) borrows from this runner. */
  private readonly host: JobRunHost

  constructor (components: JobRunnerComponents, init: JobRunnerInit) {
    this.c = components
    this.init = { defaultTimeoutS: 1800, defaultMaxParallel: 4, precheckParallel: 8, baseVars: {}, selfName: '', agentUpgrade: {}, ...init }
    this.host = {
      c: this.c,
      init: this.init,
      save: async job => { await this.save(job) },
      notify: id => { this.watchers.notify(id) },
      release: (name, jobId) => { if (this.busy.get(name) === jobId) this.busy.delete(name) }
    }
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
      await finishJob(this.host, job, { cancelled: `cancelled: ${reason}` })
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
      clusterVars: async () => await clusterVars(this.c.store, this.init.baseVars),
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
        const done = runJob(this.host, id, controller.signal)
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
              await finishJob(this.host, job, {})
            }
          })
          .catch(err => { this.c.logger.error({ err, job: id }, 'could not record the failure of a job') })
          .finally(() => { this.running.delete(id); this.pump() })
        this.running.set(id, { controller, done })
      }
    })().catch(err => { this.c.logger.error({ err }, 'job scheduling failed') })
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

  /** @inheritdoc */
  async betweenSubmissions<T> (change: () => Promise<T>, options: { idleNode?: string } = {}): Promise<T> {
    return await this.serialized(async () => {
      const node = options.idleNode
      if (node !== undefined) {
        const job = await this.nodeJob(node)
        if (job !== null) throw new ClusterdError('CLUSTERD_ERR_NODE_BUSY', `node ${node} is in job ${job}; wait for it or cancel it first`)
      }
      return await change()
    })
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
}
