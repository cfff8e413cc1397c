/** `clusterctl manager`: which agent is the elected manager (`GET /v1/manager`). */

import type { ApiClient } from '../client.js'
import { formatAge, formatOutput, renderTable, type OutputFormat } from '../output.js'

/** Options of `clusterctl manager`. */
export interface ManagerOptions {
  output: OutputFormat
  /** Clock for SINCE; tests pin it. Default: now. */
  now?: Date
}

/** Fetch the manager and format it: table NAME PEER-ID EPOCH SINCE LOCAL. */
export async function manager (client: ApiClient, opts: ManagerOptions): Promise<string> {
  const info = await client.manager()
  const now = opts.now ?? new Date()
  return formatOutput(opts.output, info, () => renderTable([
    { header: 'NAME', cell: m => m.name },
    { header: 'PEER-ID', cell: m => m.peerId },
    { header: 'EPOCH', cell: m => String(m.epoch) },
    { header: 'SINCE', cell: m => formatAge(m.since, now) },
    { header: 'LOCAL', cell: m => (m.local ? 'yes' : 'no') }
  ], [info]))
}
