/**
 * API routes served from the agent's own membership view. `GET /v1/members` fetches members'
 * facts on demand (`?facts=cached` answers at once with the facts already held).
 * `GET /v1/members?bindings=1` also marks each member's name binding from the manager's records
 * (`nameBinding`, `nameBoundTo`): a member whose name the manager binds to another peer is an
 * impostor or a reinstalled machine, refused until an operator rebinds or forgets the name
 * (docs/architecture.md, "Name bindings"). Without it the list stays local (no manager round
 * trip for pollers). The two parameters combine; each is validated.
 */

import { LOCAL_ROUTES } from '../../protocol/api-routes.js'
import { ClusterdError } from '../../protocol/errors.js'
import type { Member } from '../../protocol/members.js'
import type { NameBinding } from '../../protocol/nodes.js'
import type { ApiServer } from './server.js'

/** How long `GET /v1/members` waits for members' facts before answering with what it has. */
export const MEMBER_FACTS_WAIT_MS = 3_000

/** How long the member list waits for the manager's bindings before marking them `unknown`. */
export const BINDINGS_TIMEOUT_MS = 2000

/** What the member routes read. */
export interface MemberRoutesComponents {
  /** The view with facts as cached (none fetched). */
  members: () => Member[]
  /** The view with the reachable members' facts fetched on demand (agent/facts/facts-stream.ts). */
  membersWithFacts?: (signal: AbortSignal) => Promise<Member[]>
  /**
   * The manager's name bindings (`GET /v1/bindings`), or null when no manager is elected.
   * Rejects when the manager cannot be asked; the caller's signal bounds the wait.
   */
  bindings?: (signal: AbortSignal) => Promise<unknown>
}

/** The bindings by name from a `GET /v1/bindings` answer; undefined when it is not one. */
export function bindingsByName (answer: unknown): Map<string, string> | undefined {
  if (!Array.isArray(answer)) return undefined
  const out = new Map<string, string>()
  for (const b of answer as Array<Partial<NameBinding> | null>) {
    if (typeof b?.name !== 'string' || typeof b.peerId !== 'string') return undefined
    out.set(b.name, b.peerId)
  }
  return out
}

/** How a member is marked given the manager's bindings by name (undefined: not known). */
export function markBinding (member: Member, bindings: ReadonlyMap<string, string> | undefined): Member {
  if (bindings === undefined) return { ...member, nameBinding: 'unknown', nameBoundTo: null }
  const bound = bindings.get(member.name)
  if (bound === undefined) return { ...member, nameBinding: 'unrecorded', nameBoundTo: null }
  return bound === member.peerId ? { ...member, nameBinding: 'bound', nameBoundTo: null } : { ...member, nameBinding: 'conflict', nameBoundTo: bound }
}

/** Whether `?bindings=` asks for bindings; throws CLUSTERD_ERR_INVALID_ARGUMENT on any other value. */
function wantsBindings (value: string | undefined): boolean {
  if (value === undefined || value === '0' || value === 'false') return false
  if (value === '1' || value === 'true') return true
  throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', 'bindings must be 1, true, 0 or false')
}

/** The manager's bindings by name, or undefined when none answered within BINDINGS_TIMEOUT_MS. */
async function fetchBindings (c: MemberRoutesComponents, signal: AbortSignal): Promise<Map<string, string> | undefined> {
  if (c.bindings === undefined) return undefined
  // A referenced timer, not AbortSignal.timeout (unreferenced): the wait is bounded even when
  // nothing else keeps the process alive.
  const timeout = new AbortController()
  const timer = setTimeout(() => { timeout.abort(new Error('no answer from the manager in time')) }, BINDINGS_TIMEOUT_MS)
  try {
    return bindingsByName(await c.bindings(AbortSignal.any([signal, timeout.signal])))
  } catch {
    // No manager answered in time: the list still comes, marked `unknown`.
    return undefined
  } finally {
    clearTimeout(timer)
  }
}

/**
 * `GET /v1/members[?facts=cached|fetch][&bindings=1]`: this agent's view of every member, with
 * their facts fetched from the members (cached by digest; at most MEMBER_FACTS_WAIT_MS) unless
 * `facts=cached`, and with `bindings=1` each one's name binding. Facts and bindings are fetched
 * at the same time, so the answer waits for the longer of the two bounds, not their sum.
 */
export function registerMemberRoutes (server: Pick<ApiServer, 'route'>, c: MemberRoutesComponents): void {
  server.route(LOCAL_ROUTES.members.method, LOCAL_ROUTES.members.pattern, async ({ query, signal }) => {
    if (query.facts !== undefined && query.facts !== 'cached' && query.facts !== 'fetch') {
      throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', 'facts must be cached or fetch')
    }
    const marked = wantsBindings(query.bindings)
    const [members, bindings] = await Promise.all([
      query.facts === 'cached' || c.membersWithFacts === undefined
        ? c.members()
        : c.membersWithFacts(AbortSignal.any([signal, AbortSignal.timeout(MEMBER_FACTS_WAIT_MS)])),
      marked ? fetchBindings(c, signal) : undefined
    ])
    return marked ? members.map(m => markBinding(m, bindings)) : members
  })
}
