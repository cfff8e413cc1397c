/**
 * API routes served from the agent's own membership view. `GET /v1/members?bindings=1` also
 * marks each member's name binding from the manager's records (`nameBinding`, `nameBoundTo`):
 * a member whose name the manager binds to another peer is an impostor or a reinstalled
 * machine, refused until an operator rebinds or forgets the name (docs/architecture.md, "Name
 * bindings"). Without the parameter the list stays local (no manager round trip for pollers).
 */

import type { Member } from '../../protocol/members.js'
import type { NameBinding } from '../../protocol/nodes.js'
import type { ApiServer } from '../api/server.js'

/** How long the member list waits for the manager's bindings before marking them `unknown`. */
export const BINDINGS_TIMEOUT_MS = 2000

/** What the member routes read. */
export interface MemberRoutesComponents {
  members: () => Member[]
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

/** `GET /v1/members[?bindings=1]`: this agent's view of every member, with `bindings=1` each one's name binding. */
export function registerMemberRoutes (server: ApiServer, c: MemberRoutesComponents): void {
  server.route('GET', '/v1/members', async (req) => {
    const members = c.members()
    if (req.query.bindings !== '1' && req.query.bindings !== 'true') return members
    let bindings: Map<string, string> | undefined
    if (c.bindings !== undefined) {
      const timeout = new AbortController()
      const timer = setTimeout(() => { timeout.abort(new Error('no answer from the manager in time')) }, BINDINGS_TIMEOUT_MS)
      try {
        bindings = bindingsByName(await c.bindings(AbortSignal.any([req.signal, timeout.signal])))
      } catch {
        // No manager answered in time: the list still comes, marked `unknown`.
      } finally {
        clearTimeout(timer)
      }
    }
    return members.map(m => markBinding(m, bindings))
  })
}
