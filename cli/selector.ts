/**
 * `-l, --selector K=V[,K=V]`: the option every verb that picks nodes shares (nodes,
 * commission, decommission, upgrade, verify, reconfigure). The text is checked here with the
 * manager's own parser (protocol/selector.ts) so a typo fails before any request, and sent
 * as it is: the manager resolves it against its records.
 */

import { Option } from 'commander'
import { parseSelector } from '../protocol/selector.js'
import { usageError } from './errors.js'

/** The commander option. */
export function selectorOption (): Option {
  return new Option('-l, --selector <K=V[,K=V]>', 'nodes whose labels (and state=S, role=R) match; cordoned nodes are left out of jobs')
}

/** The checked selector text of a `--selector` flag, or undefined when it was not given. */
export function selectorFlag (text: string | undefined): string | undefined {
  if (text === undefined) return undefined
  const parsed = parseSelector(text)
  if (!parsed.ok) throw usageError(`--selector: ${parsed.reason}`)
  return text
}

/**
 * How a job verb was told which nodes: names, `allFlag` (e.g. `--all`) or a selector, exactly
 * one of them. Returns the request fields for the selector (empty when none).
 */
export function oneTarget (verb: string, names: readonly string[], all: boolean, allFlag: string | null, selector: string | undefined): { selector?: string } {
  const given = [names.length > 0, all, selector !== undefined].filter(Boolean).length
  const ways = allFlag === null ? 'node names, --selector' : `node names, ${allFlag}, --selector`
  if (given > 1) throw usageError(`give only one of: ${ways}`)
  if (given === 0) throw usageError(`name at least one node to ${verb}, or pass ${allFlag === null ? '' : `${allFlag} or `}--selector`)
  return selector === undefined ? {} : { selector }
}
