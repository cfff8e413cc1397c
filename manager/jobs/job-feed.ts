/**
 * The watcher feed behind `--wait` and `job logs --follow`: a job's events after a cursor, then
 * (when following) each new event and each change of the job record until the job ends (or pauses).
 * Writers call `JobWatchers.notify` after a write; a reader also wakes once a second, so a
 * missed notification costs at most that.
 */

import { isRestingJobStatus } from '../../protocol/jobs.js'
import type { JobStore } from '../store/index.js'
import type { JobFeedItem } from './job-service.js'

/** Readers waiting for a change of a job, by job id. */
export class JobWatchers {
  private readonly watchers = new Map<string, Set<() => void>>()

  /** Resolves on the next `notify(id)`, after a second, or when `signal` aborts. */
  wait (id: string, signal: AbortSignal): Promise<void> {
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

  /** Wake every reader of job `id`. */
  notify (id: string): void {
    for (const w of [...(this.watchers.get(id) ?? [])]) w()
  }
}

/** Events of job `id` after `afterSeq`, and the job each time it changed; see JobService.feed. */
export async function * jobFeed (
  store: Pick<JobStore, 'getJob' | 'listJobEvents'>, watchers: JobWatchers, id: string,
  options: { afterSeq: number, follow: boolean, signal: AbortSignal }
): AsyncIterable<JobFeedItem> {
  let after = options.afterSeq
  let lastJob = ''
  while (!options.signal.aborted) {
    const wake = watchers.wait(id, options.signal)
    for (const event of await store.listJobEvents(id, { afterSeq: after })) {
      after = event.seq
      yield { type: 'event', event }
    }
    const job = await store.getJob(id)
    if (job === undefined) return
    const snapshot = JSON.stringify(job)
    if (snapshot !== lastJob) {
      lastJob = snapshot
      yield { type: 'job', job }
    }
    // A paused rollout ends the feed too: it moves again only when an operator resumes it.
    if (!options.follow || isRestingJobStatus(job.status)) return
    await wake
  }
}
