/**
 * Job events on their way to the store: `EventBuffer` batches them (one LevelDB batch per
 * flush, a debounced save of the job's progress alongside), and `playbookProgress` maps each
 * Ansible event onto the job's per-node counters and the job event it records.
 */

import type { Logger } from 'pino'
import type { JobNodeProgress, JobRecord } from '../../protocol/jobs.js'
import type { PlaybookEvent } from '../ansible/events.js'
import type { JobStore, NewJobEvent } from '../store/index.js'

/** Buffers job events and writes them in batches (one LevelDB batch per flush). */
export class EventBuffer {
  private items: NewJobEvent[] = []
  private timer: NodeJS.Timeout | null = null
  private saveTimer: NodeJS.Timeout | null = null
  private writing: Promise<unknown> = Promise.resolve()

  constructor (private readonly store: Pick<JobStore, 'appendJobEvents'>, private readonly jobId: string, private readonly onFlush: () => void, private readonly log: Logger) {}

  /** Buffer an event; it is written within 200 ms or by the next flush. */
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

/** Count an Ansible event on the job's per-node progress; the job event it records, if any. */
export function playbookProgress (job: JobRecord, e: PlaybookEvent): NewJobEvent | undefined {
  const p = (host: string): JobNodeProgress | undefined => job.perNode[host]
  switch (e.type) {
    case 'task-start': return { kind: 'task-start', task: e.task }
    case 'host-start': { const x = p(e.host); if (x !== undefined) x.task = e.task; return undefined }
    case 'host-ok': {
      const x = p(e.host)
      if (x !== undefined) { x.ok++; if (e.changed) x.changed++; x.task = e.task }
      return { kind: e.changed ? 'task-changed' : 'task-ok', node: e.host, task: e.task }
    }
    case 'host-skipped': return { kind: 'task-skipped', node: e.host, task: e.task }
    case 'host-failed': {
      const x = p(e.host)
      if (x !== undefined && !e.ignored) x.failed++
      return { kind: 'task-failed', node: e.host, task: e.task, message: e.message, data: { ignored: e.ignored } }
    }
    case 'host-unreachable': return { kind: 'unreachable', node: e.host, task: e.task, message: e.message, data: { reason: e.reason } }
    case 'stats': return { kind: 'stats', data: e.hosts }
    default: return undefined
  }
}
