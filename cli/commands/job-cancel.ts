/** `clusterctl job cancel ID`: cancel a queued or running job (`POST /v1/jobs/:id/cancel`). */

import type { ApiClient } from '../client.js'

/** Cancel the job and say where it stands now. */
export async function jobCancel (client: ApiClient, id: string): Promise<string> {
  const job = await client.cancelJob(id)
  return `job ${job.id} ${job.status}${job.reason !== null ? `: ${job.reason}` : ''}\n`
}
