/**
 * `clusterctl job resume ID [--wait]` (`POST /v1/jobs/:id/resume`) and `clusterctl job retry ID
 * --failed [--wait]` (`POST /v1/jobs/:id/retry`): set a paused rolling upgrade going again.
 */

import type { ApiClient } from '../client.js'
import type { CommandContext } from '../context.js'
import { usageError } from '../errors.js'
import type { WaitOptions } from '../job-progress.js'
import { jobResult } from './commission.js'

/** Options of `clusterctl job resume` and `job retry`. */
export interface JobResumeOptions {
  /** `job retry` only: re-run the failed nodes (required). */
  failed?: boolean
  wait?: boolean
  /** Overrides of the wait's terminal and reconnect settings, for tests. */
  waitOptions?: Partial<WaitOptions>
}

/** Resume a paused rollout: its failures so far are accepted and it goes on with the next nodes. */
export async function jobResume (client: ApiClient, id: string, opts: JobResumeOptions, ctx: CommandContext): Promise<string | AsyncIterable<string>> {
  return jobResult(client, await client.resumeJob(id), opts, ctx)
}

/** Re-run the failed nodes: in the same job when it is a paused rollout, else in a new job (its id is printed). */
export async function jobRetry (client: ApiClient, id: string, opts: JobResumeOptions, ctx: CommandContext): Promise<string | AsyncIterable<string>> {
  if (opts.failed !== true) throw usageError('job retry re-runs only the nodes that failed: pass --failed')
  return jobResult(client, await client.retryJob(id, { failed: true }), opts, ctx)
}
