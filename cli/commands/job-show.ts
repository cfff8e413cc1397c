/** `clusterctl job show ID`: one job, with how each node fared (`GET /v1/jobs/:id`). */

import type { ApiClient } from '../client.js'
import { renderBatchTable, renderJobHeader, renderOutcomeTable } from '../job-format.js'
import { formatOutput, type OutputFormat } from '../output.js'

/** Options of `clusterctl job show`. */
export interface JobShowOptions {
  output: OutputFormat
}

/** Fetch one job and format it: a header block, a rolling upgrade's batches, then NODE OUTCOME STEP TASK OK CHANGED FAILED MESSAGE. */
export async function jobShow (client: ApiClient, id: string, opts: JobShowOptions): Promise<string> {
  const job = await client.job(id)
  return formatOutput(opts.output, job, () => {
    const batches = renderBatchTable(job)
    return renderJobHeader(job) + '\n' + (batches !== '' ? batches + '\n' : '') + renderOutcomeTable(job)
  })
}
