/**
 * Every clusterctl verb: its help text, whether it reads (and so takes `-o`), and the
 * command function in `./commands/<verb>.ts`. One verb = one client method = one API route.
 */

import type { Command } from 'commander'
import type { ApiClient } from './client.js'
import { members, type MembersOptions } from './commands/members.js'

/** What a command produces: text to print, or (for `--follow`) text to print as it arrives. */
export type CommandResult = string | AsyncIterable<string>

/** One verb of clusterctl. */
export interface CommandSpec {
  verb: string
  summary: string
  /** Read commands get `-o, --output table|json|yaml`. */
  read: boolean
  /** Adds the verb's own arguments and options. */
  configure?: (cmd: Command) => void
  /** Runs the verb; `opts` holds the verb's options and `args` its positional arguments. */
  run: (client: ApiClient, opts: Record<string, unknown>, args: string[]) => Promise<CommandResult>
}

/** The registry, in help order. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    verb: 'members',
    summary: 'List the cluster members the local agent knows',
    read: true,
    run: async (client, opts) => await members(client, opts as unknown as MembersOptions)
  }
]
