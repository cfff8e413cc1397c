/**
 * `clusterctl commission NAME... --role ROLE [--var K=V] [--vars-file FILE]
 * [--all-discovered | -l SELECTOR] [--wait]` (`POST /v1/commission`).
 */

import type { CommissionRequest } from '../../protocol/api-routes.js'
import type { JobRecord } from '../../protocol/jobs.js'
import { nodeNames } from '../arguments.js'
import type { ApiClient } from '../client.js'
import type { CommandContext } from '../context.js'
import { usageError } from '../errors.js'
import { oneTarget, selectorFlag } from '../selector.js'
import { waitForJob, waitOptions, type WaitOptions } from '../job-progress.js'
import { requestVars } from '../vars.js'

/** Options of `clusterctl commission`. */
export interface CommissionOptions {
  role?: string[]
  var?: string[]
  varsFile?: string
  allDiscovered?: boolean
  selector?: string
  wait?: boolean
  /** Overrides of the wait's terminal and reconnect settings, for tests. */
  waitOptions?: Partial<WaitOptions>
}

/** The line that says a job was created, and how to follow it. */
export function createdText (job: JobRecord, wait: boolean): string {
  const roles = job.roles.length > 0 ? ` (roles: ${job.roles.join(', ')})` : ''
  const head = `job ${job.id} ${job.status}: ${job.kind} of ${job.nodes.join(', ')}${roles}\n`
  return wait ? head : head + `follow it with: clusterctl job logs ${job.id} --follow\n`
}

/** The command's output for a created job: the created line, then (with --wait) live progress. */
export function jobResult (client: ApiClient, job: JobRecord, opts: { wait?: boolean, waitOptions?: Partial<WaitOptions> }, ctx: CommandContext): string | AsyncIterable<string> {
  if (opts.wait !== true) return createdText(job, false)
  return (async function * () {
    yield createdText(job, true)
    yield * waitForJob(client, job, { ...waitOptions(ctx), ...opts.waitOptions })
  })()
}

/** Build the request, check it locally, create the job. */
export async function commission (client: ApiClient, names: string[], opts: CommissionOptions, ctx: CommandContext): Promise<string | AsyncIterable<string>> {
  const nodes = nodeNames(names)
  const allDiscovered = opts.allDiscovered === true
  const target = oneTarget('commission', nodes, allDiscovered, '--all-discovered', selectorFlag(opts.selector))
  const roles = opts.role ?? []
  if (roles.length === 0) throw usageError('commission needs at least one --role ROLE')
  const body: CommissionRequest = { nodes, roles, vars: await requestVars(opts), allDiscovered, ...target }
  return jobResult(client, await client.commission(body), opts, ctx)
}
