/**
 * clusterd entry point (bin/clusterd.js imports the compiled file):
 *   clusterd agent [flags]       run the agent until SIGTERM/SIGINT
 *   clusterd keygen FILE [--force]  write a new cluster secret (mode 0600)
 *   clusterd store recover [--data-dir D] [--accept-empty]   repair a damaged manager store
 *   clusterd store restore FILE [--data-dir D]   put a backup in place as the manager store
 *   clusterd version
 *   clusterd compile-cache       load the agent's code once so Node's compile cache holds it
 * Errors end as one line on stderr through protocol/exit-codes.ts (the reporter clusterctl
 * uses too): a ClusterdError as `clusterd: <message> (<CODE>)` with its exit code, usage
 * errors with exit 2, anything else exit 70; stack traces only with CLUSTERD_DEBUG=1.
 */

import { flushCompileCache, getCompileCacheDir } from 'node:module'
import { Command, Option } from 'commander'
import { reportFatal } from '../protocol/exit-codes.js'
import { CLUSTERD_VERSION } from '../protocol/version.js'
import {
  CONFIG_ENV_VAR, DEFAULT_API_SOCKET, DEFAULT_SSH_KEY_FILE, DEFAULT_DATA_DIR, DEFAULT_LISTEN, DEFAULT_LOG_FORMAT, DEFAULT_LOG_LEVEL,
  DEFAULT_SECRET_FILE, LOG_FORMATS, LOG_LEVELS, DEFAULT_FAILURE_DETECTION, FAILURE_DETECTION_MODES
} from './config/constants.js'
import { parseAgentConfig, type AgentFlags } from './config/parse-agent-config.js'
import { writeSecretFile } from './transport/secret.js'

const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

function buildProgram (): Command {
  const program = new Command('clusterd')
    .description('clusterd: gossip-based cluster agent')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => { write(`clusterd: ${text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}\n`) } })
    .showSuggestionAfterError(true)

  program.command('agent')
    .description('Run the cluster agent until SIGTERM or SIGINT')
    // No commander defaults: a default would hide the config file's value. The parser
    // fills in defaults; they are repeated here for --help only.
    .addOption(new Option('--config <file>', `YAML config file with the same keys as these flags, kebab-case (env ${CONFIG_ENV_VAR})`))
    .addOption(new Option('--data-dir <dir>', `state directory (default ${DEFAULT_DATA_DIR})`))
    .addOption(new Option('--listen <host:port>', `gossip listen address (default ${DEFAULT_LISTEN})`))
    .addOption(new Option('--advertise <host:port>', 'address other members dial (default: the listen address)'))
    .addOption(new Option('--join <host:port>', 'seed member to join; repeatable').argParser(collect))
    .addOption(new Option('--secret-file <file>', `cluster secret (default ${DEFAULT_SECRET_FILE})`))
    .addOption(new Option('--node-name <name>', 'this node\'s name (default: the host name, lowercased)'))
    .addOption(new Option('--label <key=value>', 'operator label; repeatable').argParser(collect))
    .addOption(new Option('--api-socket <path>', `local API unix socket (default ${DEFAULT_API_SOCKET})`))
    .addOption(new Option('--api-listen <host:port>', 'also serve the API over TCP (needs --api-token-file)'))
    .addOption(new Option('--api-token-file <file>', 'bearer token the TCP API requires'))
    .addOption(new Option('--api-tls-cert <file>', 'TLS certificate of the TCP API (PEM; with --api-tls-key; required off loopback)'))
    .addOption(new Option('--api-tls-key <file>', 'private key of --api-tls-cert (PEM, mode 0600)'))
    .addOption(new Option('--manager-eligible <bool>', 'whether this node may become manager: true|false (default true)'))
    .addOption(new Option('--playbook-dir <dir>', 'roles.yaml and playbooks: revision 1 of a new cluster (default: the shipped playbooks/); later: clusterctl roles push'))
    .addOption(new Option('--ssh-key-file <file>', `the manager's SSH private key, when no CA is given (default ${DEFAULT_SSH_KEY_FILE})`))
    .addOption(new Option('--ssh-ca-key-file <file>', 'cluster SSH CA private key: the elected manager signs itself short-lived certificates with it'))
    .addOption(new Option('--ssh-ca-pub-file <file>', 'cluster SSH CA public key: manager eligibility counts only when attested by the CA'))
    .addOption(new Option('--log-level <level>', `${LOG_LEVELS.join('|')} (default ${DEFAULT_LOG_LEVEL})`))
    .addOption(new Option('--log-format <format>', `${LOG_FORMATS.join('|')}: pino JSON lines, or one readable line per event (default ${DEFAULT_LOG_FORMAT})`))
    .addOption(new Option('--failure-detection <timing>', `${FAILURE_DETECTION_MODES.join('|')}: tolerant of agents short of CPU, or about a second sooner with a core per agent; one setting for the whole cluster (default ${DEFAULT_FAILURE_DETECTION})`))
    .action(async (flags: AgentFlags) => {
      const config = parseAgentConfig(flags, process.env)
      // Loaded only here: keygen and version must not pay for libp2p's start-up.
      const { runAgent } = await import('./agent.js')
      // Node writes its compile cache (bin/compile-cache.js) at exit; an agent runs for months.
      flushCompileCache()
      await runAgent(config)
    })

  program.command('keygen')
    .description('Write a new random cluster secret to FILE (mode 0600)')
    .argument('<file>', 'where to write the secret')
    .option('--force', 'replace an existing file (every member then needs the new secret)')
    .action(async (file: string, opts: { force?: boolean }) => {
      await writeSecretFile(file, { force: opts.force === true })
      process.stdout.write(`wrote a new cluster secret to ${file}\n`)
    })

  const store = program.command('store').description('Inspect and repair the manager store')
  store.command('recover')
    .description('Recover a damaged manager store (run with the agent stopped): move it aside and take a snapshot from a replica on the next start')
    .addOption(new Option('--data-dir <dir>', `state directory (default ${DEFAULT_DATA_DIR})`))
    .option('--accept-empty', 'a lone node without any replica: start with an empty store, accepting the loss')
    .action(async (opts: { dataDir?: string, acceptEmpty?: boolean }) => {
      // `default`, not the named export: the bundle gives a dynamically imported CommonJS
      // module only its default export (the named one is undefined there).
      const { default: pino } = await import('pino')
      const { recoverStore } = await import('./replica/recover-command.js')
      const lines = await recoverStore(pino({ level: 'silent' }), { dataDir: opts.dataDir ?? DEFAULT_DATA_DIR, acceptEmpty: opts.acceptEmpty === true })
      process.stdout.write(lines.join('\n') + '\n')
    })
  store.command('restore')
    .description('Restore the manager store from a backup written by `clusterctl backup` (run with the agent stopped; the current store is moved aside)')
    .argument('<file>', 'the backup file')
    .addOption(new Option('--data-dir <dir>', `state directory (default ${DEFAULT_DATA_DIR})`))
    .action(async (file: string, opts: { dataDir?: string }) => {
      const { default: pino } = await import('pino')
      const { restoreStore } = await import('./replica/restore-command.js')
      const lines = await restoreStore(pino({ level: 'silent' }), { dataDir: opts.dataDir ?? DEFAULT_DATA_DIR, file })
      process.stdout.write(lines.join('\n') + '\n')
    })

  program.command('compile-cache')
    .description('Fill Node\'s compile cache with the agent\'s code (install does it), so a first start loads as fast as a restart')
    .action(async () => {
      // Importing is enough: Node caches what it compiles while loading; nothing is started.
      await import('./agent.js')
      flushCompileCache()
      const dir = getCompileCacheDir()
      process.stdout.write(dir === undefined ? 'compile cache is off (CLUSTERD_COMPILE_CACHE=off, NODE_DISABLE_COMPILE_CACHE, or no writable directory)\n' : `compile cache filled: ${dir}\n`)
    })

  program.command('version')
    .description('Print the clusterd version')
    .action(() => { process.stdout.write(`clusterd ${CLUSTERD_VERSION}\n`) })

  return program
}

try {
  await buildProgram().parseAsync(process.argv)
} catch (err) {
  process.exitCode = reportFatal(err, { program: 'clusterd', stderr: text => { process.stderr.write(text) }, debug: process.env.CLUSTERD_DEBUG === '1' })
}
