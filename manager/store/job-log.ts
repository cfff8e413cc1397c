/**
 * Jobs and their event logs, and retention's pruning step (finished jobs, configuration
 * revisions nothing needs, old lifecycle events). Every job record is stamped with the writing
 * manager's epoch, so a merge lets the higher epoch win (merge.ts). Part of the manager store
 * (manager-store.ts).
 */
import { ClusterdError } from '../../protocol/errors.js'
import { JOB_KINDS, JOB_STATUSES, type JobEvent, type JobRecord } from '../../protocol/jobs.js'
import { DEFAULT_LIST_LIMIT, PREFIX } from './constants.js'
import { assertName, jobEventKey, jobKey, range, rangeAfter } from './keys.js'
import { guardRead, parseStored, readValues } from './restore.js'
import { DEFAULT_PRUNE_LIMITS, planPrune, type PruneCursor, type PruneLimits, type RetentionPolicy } from './retention.js'
import type { StoreCore } from './store-core.js'
import type { ListJobsOptions, NewJobEvent } from './types.js'

/** Jobs, job events and pruning, on the shared core. */
export class JobLog {
  constructor (private readonly core: StoreCore) {}

  /** See ManagerStore.putJob. */
  async putJob (job: JobRecord): Promise<void> {
    const core = this.core
    core.assertStarted()
    checkJob(job)
    const stamped: JobRecord = core.epoch === undefined ? job : { ...job, writtenEpoch: core.epoch, writtenAt: core.now().toISOString() }
    await core.write(async () => {
      await core.knownJobSeq(job.id)
      return core.stage([{ type: 'put', key: jobKey(job.id), value: JSON.stringify(stamped) }], undefined, undefined)
    })
  }

  /** See ManagerStore.getJob. */
  async getJob (id: string): Promise<JobRecord | undefined> {
    const db = this.core.assertStarted()
    assertName(id, 'job id')
    const raw = await guardRead(this.core.path, db.get(jobKey(id)), jobKey(id))
    return raw === undefined ? undefined : parseStored(jobKey(id), raw) as JobRecord
  }

  /** See ManagerStore.listJobs. */
  async listJobs (options: ListJobsOptions): Promise<JobRecord[]> {
    const db = this.core.assertStarted()
    let jobs = (await readValues(this.core.path, db, range(PREFIX.job))) as JobRecord[]
    if (options.status !== undefined) jobs = jobs.filter(j => j.status === options.status)
    if (options.node !== undefined) jobs = jobs.filter(j => j.nodes.includes(options.node as string))
    jobs.sort((a, b) => a.createdAt === b.createdAt ? (a.id < b.id ? -1 : 1) : (a.createdAt < b.createdAt ? -1 : 1))
    return options.limit === undefined ? jobs : jobs.slice(-options.limit)
  }

  /** See ManagerStore.appendJobEvents. */
  async appendJobEvents (jobId: string, events: NewJobEvent[]): Promise<JobEvent[]> {
    const core = this.core
    core.assertStarted()
    assertName(jobId, 'job id')
    return await core.write(async () => {
      let seq = await core.knownJobSeq(jobId, true)
      const at = core.now().toISOString()
      const out: JobEvent[] = events.map(e => ({ ...e, jobId, seq: ++seq, at: e.at ?? at }))
      core.jobSeq.set(jobId, seq)
      if (out.length === 0) return core.noWrite(out)
      return core.stage(out.map(e => ({ type: 'put', key: jobEventKey(jobId, e.seq), value: JSON.stringify(e) })), undefined, out)
    })
  }

  /** See ManagerStore.listJobEvents. */
  async listJobEvents (jobId: string, options: { afterSeq?: number, limit?: number }): Promise<JobEvent[]> {
    const db = this.core.assertStarted()
    assertName(jobId, 'job id')
    const bounds = { ...rangeAfter(`${PREFIX.jobEvent}!${jobId}`, options.afterSeq ?? 0), limit: options.limit ?? DEFAULT_LIST_LIMIT }
    return (await readValues(this.core.path, db, bounds)) as JobEvent[]
  }

  /** See ManagerStore.pruneStep. */
  async pruneStep (policy: RetentionPolicy, cursor: PruneCursor, limits: PruneLimits = DEFAULT_PRUNE_LIMITS): Promise<{ deleted: number, jobs: string[], next: PruneCursor | null }> {
    const core = this.core
    const db = core.assertStarted()
    return await core.write(async () => {
      // Plan against the disk with nothing staged ahead of it: what we read is what we delete.
      await core.barrier()
      const lastSeq = new Map([...core.nodes].map(([name, e]) => [name, e.lastSeq]))
      const nodeRevisions = [...core.nodes.values()].map(e => e.record.revision)
      const plan = await planPrune(db, core.path, lastSeq, nodeRevisions, policy, cursor, core.now().getTime(), limits)
      const result = { deleted: plan.ops.length, jobs: plan.jobsDeleted, next: plan.next }
      if (plan.ops.length === 0) return core.noWrite(result)
      for (const id of plan.jobsDeleted) core.jobSeq.delete(id)
      return core.stage(plan.ops, undefined, result)
    })
  }
}

function checkJob (job: JobRecord): void {
  assertName(job?.id, 'job id')
  if (!(JOB_KINDS as readonly string[]).includes(job.kind) || !(JOB_STATUSES as readonly string[]).includes(job.status) ||
    !Array.isArray(job.nodes) || typeof job.createdAt !== 'string' || typeof job.timeoutAt !== 'string') {
    throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `job ${job.id} is malformed`)
  }
}
