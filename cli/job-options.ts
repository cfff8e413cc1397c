/**
 * The options job verbs share, built in one place so their help text cannot drift apart:
 * which nodes (`[names...]`, `--all` or `--all-discovered`, `-l/--selector`), request
 * variables (`--var`, `--vars-file`) and `--wait`. The registry (registry.ts) adds them to
 * commission, decommission, upgrade, verify, reconfigure, node set-roles, node label and
 * job resume/retry; the option order a verb's help shows is the order of these calls.
 */

import { Option, type Command } from 'commander'
import { collect } from './arguments.js'
import { selectorOption } from './selector.js'

/** How a job verb picks its nodes besides names and a selector. */
export interface JobTargetInit {
  /** The verb, as in `nodes to <verb>` and `<verb> every commissioned, uncordoned node`. */
  verb: string
  /**
   * The "every node" flag: `true` for `--all` with the usual text, a string for `--all` with
   * that help text, an Option for another flag (`--all-discovered`); absent: none.
   */
  all?: true | string | Option
}

/** `[names...]`, the verb's "every node" flag if any, and `-l/--selector`. */
export function jobTargetOptions (cmd: Command, init: JobTargetInit): Command {
  cmd.argument('[names...]', `nodes to ${init.verb}`)
  const all = init.all === undefined ? undefined
    : init.all instanceof Option ? init.all
      : new Option('--all', init.all === true ? `${init.verb} every commissioned, uncordoned node` : init.all)
  if (all !== undefined) cmd.addOption(all)
  return cmd.addOption(selectorOption())
}

/** `--var name=value` (repeatable). */
export function varOption (): Option {
  return new Option('--var <name=value>', 'request variable for the playbooks (repeatable)').argParser(collect)
}

/** `--var` and `--vars-file`, the request variables of a job that applies roles (cli/vars.ts reads them). */
export function requestVarsOptions (cmd: Command): Command {
  return cmd.addOption(varOption())
    .addOption(new Option('--vars-file <file>', 'YAML or JSON map of request variables (string values); --var wins'))
}

/** `--wait` of a job verb: exit 0 only if every node ends ok. */
export function waitOption (): Option {
  return new Option('--wait', 'follow the job, show progress per node, exit 0 only if every node ends ok (7 otherwise)')
}

/** `--wait` of `verify`, whose exit code also says drift. */
export function verifyWaitOption (): Option {
  return new Option('--wait', 'follow the job, show progress per node; exit 0 if every node is ok without drift, 9 on drift, 7 if a node could not be checked')
}
