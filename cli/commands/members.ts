/** `clusterctl members`: list the members the local agent knows, with their name bindings (`GET /v1/members?bindings=1`). */

import type { Member } from '../../protocol/members.js'
import type { ApiClient } from '../client.js'
import { formatAge, formatOutput, renderTable, type Column, type OutputFormat } from '../output.js'

/** Options of `clusterctl members`. */
export interface MembersOptions {
  output: OutputFormat
  /** Clock for LAST-SEEN ages; tests pin it. Default: now. */
  now?: Date
}

/** `/ip4/10.0.0.1/tcp/7946` → `10.0.0.1:7946`; other multiaddrs are shown as they are. */
export function shortAddress (multiaddr: string): string {
  const m = /^\/(ip4|ip6|dns|dns4|dns6)\/([^/]+)\/tcp\/(\d+)(?:\/|$)/.exec(multiaddr)
  if (m == null) return multiaddr
  return m[1] === 'ip6' ? `[${m[2] ?? ''}]:${m[3] ?? ''}` : `${m[2] ?? ''}:${m[3] ?? ''}`
}

/**
 * A member's name binding in the table: `bound`, `unrecorded`, `unknown`, or for a refused
 * claim `CONFLICT` with the end of the peer id the name is bound to.
 */
export function bindingText (m: Member): string {
  if (m.nameBinding === 'conflict') return `CONFLICT (name bound to ...${(m.nameBoundTo ?? '').slice(-8)})`
  return m.nameBinding ?? '-'
}

function columns (now: Date): Array<Column<Member>> {
  return [
    { header: 'NAME', cell: m => m.name },
    { header: 'STATUS', cell: m => m.status },
    { header: 'BINDING', cell: bindingText },
    {
      header: 'ADDRESS',
      cell: m => {
        const first = m.addresses[0]
        if (first === undefined) return '-'
        return m.addresses.length > 1 ? `${shortAddress(first)} (+${m.addresses.length - 1})` : shortAddress(first)
      }
    },
    { header: 'INCARNATION', cell: m => String(m.incarnation) },
    {
      header: 'LABELS',
      cell: m => {
        const pairs = Object.entries(m.labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`)
        return pairs.length === 0 ? '-' : pairs.join(',')
      }
    },
    { header: 'LAST-SEEN', cell: m => formatAge(m.lastSeen, now) }
  ]
}

/** Fetch the members and format them; rows are sorted by name. */
export async function members (client: ApiClient, opts: MembersOptions): Promise<string> {
  // The table shows no facts: do not make the agent fetch every member's. Every output shows
  // each member's name binding (one round trip to the manager).
  const list = await client.members(opts.output === 'table' ? { facts: 'cached', bindings: true } : { bindings: true })
  return formatOutput(opts.output, list, () => {
    const sorted = [...list].sort((a, b) => a.name.localeCompare(b.name))
    return renderTable(columns(opts.now ?? new Date()), sorted)
  })
}
