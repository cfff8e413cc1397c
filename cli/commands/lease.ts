/** `clusterctl lease`: this node's fencing state, as its own agent holds it (`GET /v1/lease`). */

import type { LeaseStatus } from '../../protocol/fencing-wire.js'
import type { ApiClient } from '../client.js'
import { formatOutput, renderFields, type OutputFormat } from '../output.js'

/** Options of `clusterctl lease`. */
export interface LeaseOptions {
  output: OutputFormat
  /** Clock for the time left; tests pin it. Default: now. */
  now?: Date
}

/** Fetch the local agent's lease status and format it as aligned fields. */
export async function lease (client: ApiClient, opts: LeaseOptions): Promise<string> {
  const status = await client.lease()
  const now = (opts.now ?? new Date()).getTime()
  return formatOutput(opts.output, status, () => {
    const l = status.lease
    const fields: Array<readonly [string, string]> = [['highest epoch', String(status.highestEpoch)]]
    if (l === null) {
      fields.push(['lease', 'none'])
    } else {
      const left = Math.round((l.expiresAt - now) / 1000)
      fields.push(
        ['lease', l.live ? `held, expires in ${Math.max(0, left)}s` : 'expired'],
        ['epoch', String(l.epoch)],
        ['holder', l.holder],
        ['lease id', l.leaseId],
        ['granted', new Date(l.grantedAt).toISOString()],
        ['expires', new Date(l.expiresAt).toISOString()]
      )
    }
    fields.push(['lease file', status.leaseFile])
    return renderFields(fields)
  })
}
