/**
 * Every clusterctl verb: its help text, whether it reads (and so takes `-o`), and the
 * command function in `./commands/<verb>.ts`. One verb = one client method = one API route.
 * A two-word verb (`node show`) is a subcommand of its group (`node`).
 */

import { Option, type Command } from 'commander'
import { JOB_STATUSES } from '../protocol/jobs.js'
import { CONFIG_KEYS } from '../protocol/api-routes.js'
import { collect } from './arguments.js'
import type { ApiClient } from './client.js'
import { backup } from './commands/backup.js'
import { commission, type CommissionOptions } from './commands/commission.js'
import { configGet, configSet, type ConfigGetOptions } from './commands/config.js'
import { decommission, type DecommissionOptions } from './commands/decommission.js'
import { events, eventsFollow, type EventsOptions } from './commands/events.js'
import { jobCancel } from './commands/job-cancel.js'
import { jobResume, jobRetry, type JobResumeOptions } from './commands/job-resume.js'
import { jobLogs, type JobLogsOptions } from './commands/job-logs.js'
import { jobShow, type JobShowOptions } from './commands/job-show.js'
import { jobs, type JobsOptions } from './commands/jobs.js'
import { lease, type LeaseOptions } from './commands/lease.js'
import { logs, type LogsOptions } from './commands/logs.js'
import { manager, type ManagerOptions } from './commands/manager.js'
import { members, type MembersOptions } from './commands/members.js'
import { nodeForget, type NodeForgetOptions } from './commands/node-forget.js'
import { cordon, markBroken, markFixed, nodeLabel, type MarkBrokenOptions, type NodeLabelOptions } from './commands/node-maintenance.js'
import { nodeRebind, type NodeRebindOptions } from './commands/node-rebind.js'
import { nodeSetRoles, type SetRolesOptions } from './commands/node-set-roles.js'
import { nodeShow, type NodeShowOptions } from './commands/node-show.js'
import { nodes, type NodesOptions } from './commands/nodes.js'
import { agentUpgradeOptions, upgrade, type UpgradeOptions } from './commands/upgrade.js'
import { history, type HistoryOptions } from './commands/history.js'
import { rolesDiff, rolesList, rolesPush, rolesShow, type RolesPushOptions, type RolesReadOptions } from './commands/roles.js'
import { supportBundle, type SupportBundleOptions } from './commands/support-bundle.js'
import { reconfigure, verify, type MaintenanceOptions } from './commands/verify.js'
import type { CommandContext } from './context.js'
import { OUTPUT_FORMATS } from './output.js'
import { jobTargetOptions, requestVarsOptions, varOption, verifyWaitOption, waitOption } from './job-options.js'
import { selectorOption } from './selector.js'

/** What a command produces: text to print, or (for `--follow`, `--wait`) text to print as it arrives. */
export type CommandResult = string | AsyncIterable<string>

/** One verb of clusterctl. */
export interface CommandSpec {
  /** One word, or `group verb`. */
  verb: string
  summary: string
  /** Read commands get `-o, --output table|json|yaml`. */
  read: boolean
  /** Adds the verb's own arguments and options. */
  configure?: (cmd: Command) => void
  /** Runs the verb; `opts` holds the verb's options and `args` its positional arguments. */
  run: (client: ApiClient, opts: Record<string, unknown>, args: string[], ctx: CommandContext) => Promise<CommandResult>
}

/** Help text of the command groups of two-word verbs. */
export const GROUPS: Readonly<Record<string, string>> = {
  node: 'Inspect one node, change its roles or labels, move its name to another peer, or forget it',
  job: 'Inspect, follow, cancel, resume and retry jobs',
  config: 'Read and change the cluster configuration',
  roles: 'Configuration revisions held by the cluster: push a playbook directory, list, show, compare'
}

/** `upgrade --plan`, `--to REV`, `--force` and `-o` for the plan (the revisions part of `upgrade`). */
function upgradeRevisionOptions (cmd: Command): void {
  cmd.addOption(new Option('--plan', 'print what the upgrade would do, grouped by each node\'s revision; change nothing'))
    .addOption(new Option('--to <rev>', 'target configuration revision (default: the current one); no-ops and downgrades are refused'))
    .addOption(new Option('--force', 'with --to or an agent upgrade: upgrade also nodes for which it is a no-op or a downgrade'))
    .addOption(new Option('-o, --output <format>', 'output format of --plan').choices(OUTPUT_FORMATS))
}

/** The registry, in help order. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    verb: 'members',
    summary: 'List the cluster members the local agent knows',
    read: true,
    run: async (client, opts) => await members(client, opts as unknown as MembersOptions)
  },
  {
    verb: 'manager',
    summary: 'Show the elected manager',
    read: true,
    run: async (client, opts) => await manager(client, opts as unknown as ManagerOptions)
  },
  {
    verb: 'lease',
    summary: "Show this node's fencing state: highest manager epoch seen, the lease on record",
    read: true,
    run: async (client, opts) => await lease(client, opts as unknown as LeaseOptions)
  },
  {
    verb: 'nodes',
    summary: 'List every node with its lifecycle state',
    read: true,
    configure: cmd => {
      cmd.addOption(new Option('--limit <n>', 'at most this many nodes (the first by name)'))
        .addOption(new Option('--page-size <n>', 'nodes fetched per request (default 500, at most 5000)'))
        .addOption(selectorOption())
    },
    run: async (client, opts) => await nodes(client, opts as unknown as NodesOptions)
  },
  {
    verb: 'node show',
    summary: "Show one node: its record, key facts and recent events",
    read: true,
    configure: cmd => { cmd.argument('<name>', 'node name') },
    run: async (client, opts, [name]) => await nodeShow(client, name ?? '', opts as unknown as NodeShowOptions)
  },
  {
    verb: 'node rebind',
    summary: "Move a node's name to another peer (a reinstalled machine); its host keys are learned from that peer",
    read: false,
    configure: cmd => {
      cmd.argument('<name>', 'node name')
        .addOption(new Option('--peer <peer-id>', 'peer id of the member to bind the name to (clusterctl members -o json)').makeOptionMandatory())
    },
    run: async (client, opts, [name]) => await nodeRebind(client, name ?? '', opts as NodeRebindOptions)
  },
  {
    verb: 'node forget',
    summary: "Remove a node's record (a retired or long-failed machine); its events stay",
    read: false,
    configure: cmd => {
      cmd.argument('<name>', 'node name')
        .addOption(new Option('--force', 'also when the node is reachable (its running agent is then discovered again as a new node)'))
        .addOption(new Option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)'))
    },
    run: async (client, opts, [name], ctx) => await nodeForget(client, name ?? '', opts as NodeForgetOptions, ctx)
  },
  {
    verb: 'node set-roles',
    summary: "Change a commissioned node's roles (a reconfigure job): removed roles are cleaned up, the new set applied",
    read: false,
    configure: cmd => {
      cmd.argument('<name>', 'node name')
        .addOption(new Option('--role <role>', 'role the node has afterwards (repeatable, at least one: the whole new set)').argParser(collect).makeOptionMandatory())
      requestVarsOptions(cmd).addOption(waitOption())
    },
    run: async (client, opts, [name], ctx) => await nodeSetRoles(client, name ?? '', opts as SetRolesOptions, ctx)
  },
  {
    verb: 'node label',
    summary: "Set (K=V) or remove (K-) a node's operator labels (selectors -l match them) and re-apply its configuration with them (a reconfigure job)",
    read: false,
    configure: cmd => { cmd.argument('<name>', 'node name').argument('<changes...>', 'K=V to set, K- to remove').addOption(waitOption()) },
    run: async (client, opts, [name, ...changes], ctx) => await nodeLabel(client, name ?? '', changes, opts as NodeLabelOptions, ctx)
  },
  {
    verb: 'cordon',
    summary: 'Stop new jobs on a node (but decommission): skipped by --all, selectors and on-return',
    read: false,
    configure: cmd => { cmd.argument('<name>', 'node name') },
    run: async (client, _opts, [name]) => await cordon(client, name ?? '', true)
  },
  {
    verb: 'uncordon',
    summary: 'Let a cordoned node take jobs again',
    read: false,
    configure: cmd => { cmd.argument('<name>', 'node name') },
    run: async (client, _opts, [name]) => await cordon(client, name ?? '', false)
  },
  {
    verb: 'mark-broken',
    summary: 'Take a node out of service for repair (state broken) without decommissioning it',
    read: false,
    configure: cmd => {
      cmd.argument('<name>', 'node name')
        .addOption(new Option('--reason <text>', 'why the node is out of service (recorded in its events)').makeOptionMandatory())
    },
    run: async (client, opts, [name]) => await markBroken(client, name ?? '', opts as MarkBrokenOptions)
  },
  {
    verb: 'mark-fixed',
    summary: 'Return a broken node to the state it was marked broken from',
    read: false,
    configure: cmd => { cmd.argument('<name>', 'node name') },
    run: async (client, _opts, [name]) => await markFixed(client, name ?? '')
  },
  {
    verb: 'commission',
    summary: 'Configure nodes for their roles (a commission job)',
    read: false,
    configure: cmd => {
      requestVarsOptions(cmd.addOption(new Option('--role <role>', 'role to apply (repeatable, at least one)').argParser(collect).makeOptionMandatory()))
      jobTargetOptions(cmd, { verb: 'commission', all: new Option('--all-discovered', 'commission every uncordoned node in the discovered state') })
        .addOption(waitOption())
    },
    run: async (client, opts, args, ctx) => await commission(client, args, opts as CommissionOptions, ctx)
  },
  {
    verb: 'decommission',
    summary: 'Remove nodes from service (a decommission job)',
    read: false,
    configure: cmd => {
      jobTargetOptions(cmd, { verb: 'decommission' })
        .addOption(new Option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)'))
        .addOption(waitOption())
    },
    run: async (client, opts, args, ctx) => await decommission(client, args, opts as DecommissionOptions, ctx)
  },
  {
    verb: 'upgrade',
    summary: 'Run the upgrade playbook on commissioned nodes (an upgrade job; with --batch-size, a rolling upgrade), or with --agent-version/--agent-release install a new clusterd agent one node at a time (an agent-upgrade job)',
    read: false,
    configure: cmd => {
      jobTargetOptions(cmd, { verb: 'upgrade', all: 'upgrade every commissioned, uncordoned node (an agent upgrade: every reachable, uncordoned node)' })
        .addOption(varOption())
        .addOption(new Option('--batch-size <n>', 'rolling upgrade: N nodes per batch; each batch must pass the post-upgrade check and tests before the next'))
        .addOption(new Option('--max-unavailable <n>', 'rolling upgrade: at most N nodes upgrading or failed at once (default: the batch size)'))
        .addOption(new Option('--max-failures <n>', 'rolling upgrade: failed nodes tolerated before it pauses (default 0)'))
        .addOption(new Option('--pause-between <seconds>', 'rolling upgrade: wait between batches (default 0)'))
        .addOption(waitOption())
      upgradeRevisionOptions(cmd)
      agentUpgradeOptions(cmd)
    },
    run: async (client, opts, args, ctx) => await upgrade(client, args, opts as UpgradeOptions, ctx)
  },
  {
    verb: 'verify',
    summary: 'Check commissioned nodes against their roles in Ansible check mode; record drift, change nothing (a verify job)',
    read: false,
    configure: cmd => {
      jobTargetOptions(cmd, { verb: 'verify', all: true }).addOption(verifyWaitOption())
    },
    run: async (client, opts, args, ctx) => await verify(client, args, opts as MaintenanceOptions, ctx)
  },
  {
    verb: 'reconfigure',
    summary: "Re-apply commissioned nodes' roles, undoing drift (a reconfigure job)",
    read: false,
    configure: cmd => {
      jobTargetOptions(cmd, { verb: 'reconfigure', all: true }).addOption(waitOption())
    },
    run: async (client, opts, args, ctx) => await reconfigure(client, args, opts as MaintenanceOptions, ctx)
  },
  {
    verb: 'jobs',
    summary: 'List jobs',
    read: true,
    configure: cmd => {
      cmd.addOption(new Option('--status <status>', 'only jobs with this status').choices(JOB_STATUSES))
        .addOption(new Option('--node <name>', 'only jobs that include this node'))
    },
    run: async (client, opts) => await jobs(client, opts as unknown as JobsOptions)
  },
  {
    verb: 'job show',
    summary: 'Show one job and how each node fared',
    read: true,
    configure: cmd => { cmd.argument('<id>', 'job id') },
    run: async (client, opts, [id]) => await jobShow(client, id ?? '', opts as unknown as JobShowOptions)
  },
  {
    verb: 'job logs',
    summary: "Print a job's events; --follow streams them until the job ends",
    read: true,
    configure: cmd => {
      cmd.argument('<id>', 'job id')
        .addOption(new Option('-f, --follow', 'keep printing events until the job ends'))
    },
    run: async (client, opts, [id], ctx) => await jobLogs(client, id ?? '', opts as unknown as JobLogsOptions, ctx)
  },
  {
    verb: 'job cancel',
    summary: 'Cancel a queued or running job',
    read: false,
    configure: cmd => { cmd.argument('<id>', 'job id') },
    run: async (client, _opts, [id]) => await jobCancel(client, id ?? '')
  },
  {
    verb: 'job resume',
    summary: 'Continue a paused rolling upgrade, accepting the nodes that failed',
    read: false,
    configure: cmd => { cmd.argument('<id>', 'job id').addOption(waitOption()) },
    run: async (client, opts, [id], ctx) => await jobResume(client, id ?? '', opts as JobResumeOptions, ctx)
  },
  {
    verb: 'job retry',
    summary: 'Re-run only the failed nodes of a job (a paused rollout goes on; a finished job gets a new one)',
    read: false,
    configure: cmd => {
      cmd.argument('<id>', 'job id')
        .addOption(new Option('--failed', 'the nodes that failed (required)'))
        .addOption(waitOption())
    },
    run: async (client, opts, [id], ctx) => await jobRetry(client, id ?? '', opts as JobResumeOptions, ctx)
  },
  {
    verb: 'events',
    summary: 'List lifecycle events: every transition, when, why and which job',
    read: true,
    configure: cmd => {
      cmd.addOption(new Option('--node <name>', "only this node's events"))
        .addOption(new Option('--limit <n>', 'at most this many events (with --follow: to start with)'))
        .addOption(new Option('-f, --follow', 'keep printing new events as they happen, until interrupted (resumes across a manager failover)'))
    },
    run: async (client, opts, _args, ctx) => opts.follow === true
      ? eventsFollow(client, opts as unknown as EventsOptions, ctx)
      : await events(client, opts as unknown as EventsOptions)
  },
  {
    verb: 'roles push',
    summary: 'Check a playbook directory (roles.yaml and its playbooks) and store it as the next configuration revision',
    read: false,
    configure: cmd => {
      cmd.argument('<dir>', 'playbook directory holding roles.yaml')
        .addOption(new Option('-m, --message <text>', 'what changed, kept with the revision'))
    },
    run: async (client, opts, [dir]) => await rolesPush(client, dir ?? '', opts as RolesPushOptions)
  },
  {
    verb: 'roles list',
    summary: 'List the configuration revisions; * marks the current one',
    read: true,
    run: async (client, opts) => await rolesList(client, opts as unknown as RolesReadOptions)
  },
  {
    verb: 'roles show',
    summary: "Show one revision: hash, author, message, roles and files",
    read: true,
    configure: cmd => { cmd.argument('<rev>', 'revision number') },
    run: async (client, opts, [rev]) => await rolesShow(client, rev, opts as unknown as RolesReadOptions)
  },
  {
    verb: 'roles diff',
    summary: 'Show what changed between two revisions, per file',
    read: true,
    configure: cmd => { cmd.argument('<a>', 'revision number').argument('<b>', 'revision number') },
    run: async (client, opts, [a, b]) => await rolesDiff(client, a, b, opts as unknown as RolesReadOptions)
  },
  {
    verb: 'history',
    summary: 'What was applied to which node and when, with revisions (from the jobs retention keeps)',
    read: true,
    configure: cmd => { cmd.argument('[name]', 'only this node') },
    run: async (client, opts, [name]) => await history(client, name, opts as unknown as HistoryOptions)
  },
  {
    verb: 'config get',
    summary: 'Show the cluster configuration, or one key',
    read: true,
    configure: cmd => { cmd.argument('[key]', `one of ${Object.keys(CONFIG_KEYS).join(', ')}`) },
    run: async (client, opts, [key]) => await configGet(client, key, opts as unknown as ConfigGetOptions)
  },
  {
    verb: 'config set',
    summary: 'Set a cluster configuration key (the manager validates the value)',
    read: false,
    configure: cmd => {
      cmd.argument('<key>', `one of ${Object.keys(CONFIG_KEYS).join(', ')}`)
        .argument('<value>', 'e.g. auto-commission off | worker@zone=a; on-return verify|reconfigure|none; job-timeout SECONDS; max-parallel-jobs N; vars JSON')
    },
    run: async (client, _opts, [key, value]) => await configSet(client, key ?? '', value ?? '')
  },
  {
    verb: 'logs',
    summary: "Print an agent's recent log lines, one readable line each (-o json: its JSON lines); --follow keeps printing",
    read: true,
    configure: cmd => {
      cmd.addOption(new Option('--node <name>', 'another live member\'s logs, fetched by the local agent'))
        .addOption(new Option('--lines <n>', 'at most this many of the newest lines (default 100, at most 1000)'))
        .addOption(new Option('-f, --follow', 'keep printing new lines until interrupted'))
    },
    run: async (client, opts, _args, ctx) => await logs(client, opts as unknown as LogsOptions, ctx)
  },
  {
    verb: 'support-bundle',
    summary: 'Collect versions, each agent\'s view and logs, the store summary, events, job logs and config into one tar.gz (secrets redacted)',
    read: false,
    configure: cmd => {
      cmd.addOption(new Option('-o, --output <file>', 'bundle file to write (default clusterd-support-<node>-<UTC time>.tar.gz here)'))
        .addOption(new Option('--force', 'replace the file if it exists'))
        .addOption(new Option('--max-agents <n>', 'agents asked for their view and logs, the local one included (default 64)'))
        .addOption(new Option('--concurrency <n>', 'agents asked at once (default 8)'))
        .addOption(new Option('--agent-timeout <seconds>', 'how long one agent may take to answer (default 15)'))
    },
    run: async (client, opts, _args, ctx) => await supportBundle(client, opts as SupportBundleOptions, ctx)
  },
  {
    verb: 'backup',
    summary: 'Save a consistent snapshot of the manager store to FILE (mode 0600; restore with clusterd store restore)',
    read: false,
    configure: cmd => { cmd.argument('<file>', 'backup file to write (replaced atomically)') },
    run: async (client, _opts, [file]) => await backup(client, file ?? '')
  }
]
