/**
 * Builds the clusterctl commander program from the registry and runs it. Errors never
 * escape: one catch maps them to a one-line message and an exit code, returned to main.
 *
 * Exit codes (protocol/exit-codes.ts, docs/errors.md): 0 ok; 1 declined at a confirmation
 * prompt; 2 usage; for errors the agent returns, the exit code of their code in ERROR_CODES;
 * 6 when the agent cannot be reached or does not answer in time; 7 a waited-for job ended with
 * a node not ok; 70 bug.
 */

import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { Argument, Command, Option } from 'commander'
import { isLoopbackHost } from '../protocol/loopback.js'
import { CLUSTERD_VERSION } from '../protocol/version.js'
import { ApiClient } from './client.js'
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from './completion.js'
import {
  ADDR_ENV_VAR, CA_FILE_ENV_VAR, DEBUG_ENV_VAR, DEFAULT_ADDR, DEFAULT_CA_FILE, DEFAULT_COLUMNS, DEFAULT_TIMEOUT_MS, TOKEN_FILE_ENV_VAR
} from './constants.js'
import type { CommandContext } from './context.js'
import { usageError } from './errors.js'
import { reportFatal } from '../protocol/exit-codes.js'
import { outputOption } from './output.js'
import { COMMANDS, GROUPS, type CommandResult } from './registry.js'

/** Where clusterctl writes and what environment it sees; main passes the process's own. */
export interface CliIo {
  stdout: (text: string) => void
  stderr: (text: string) => void
  env: Readonly<Record<string, string | undefined>>
  /** stdout is a terminal (live progress redraws in place). Default false. */
  stdoutIsTTY?: boolean
  /** Terminal width. */
  columns?: number
  /** Ask yes/no on the terminal; leave undefined when stdin is not a terminal. */
  confirm?: (question: string) => Promise<boolean>
}

/** Global options, on every verb. */
interface GlobalOptions {
  addr?: string
  tokenFile?: string
  caFile?: string
  timeout?: string
}

function parseTimeout (text: string | undefined): number {
  if (text === undefined) return DEFAULT_TIMEOUT_MS
  const seconds = Number(text)
  if (!/^\d+(\.\d+)?$/.test(text) || seconds <= 0 || seconds > 3600) {
    throw usageError(`--timeout: expected seconds between 0 and 3600, e.g. 30; got ${JSON.stringify(text)}`)
  }
  return seconds * 1000
}

/** Build the client from --addr / CLUSTERCTL_ADDR and --token-file / CLUSTERCTL_TOKEN_FILE. */
export async function clientFromOptions (opts: GlobalOptions, env: CliIo['env']): Promise<ApiClient> {
  const addr = opts.addr ?? (env[ADDR_ENV_VAR] !== undefined && env[ADDR_ENV_VAR] !== '' ? env[ADDR_ENV_VAR] : DEFAULT_ADDR)
  const timeoutMs = parseTimeout(opts.timeout)
  const tokenFile = opts.tokenFile ?? (env[TOKEN_FILE_ENV_VAR] !== '' ? env[TOKEN_FILE_ENV_VAR] : undefined)
  let token: string | undefined
  // The socket is guarded by file permissions; a token is only ever sent to URLs.
  if (/^https?:\/\//i.test(addr) && tokenFile !== undefined) {
    try {
      token = (await readFile(tokenFile, 'utf8')).split('\n')[0]?.trim()
    } catch (err) {
      throw usageError(`--token-file: cannot read ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  }
  const caFile = opts.caFile ?? (env[CA_FILE_ENV_VAR] !== undefined && env[CA_FILE_ENV_VAR] !== '' ? env[CA_FILE_ENV_VAR] : undefined)
  const tls = await tlsTrust(addr, caFile, token !== undefined)
  return new ApiClient({ addr, timeoutMs, ...(token !== undefined ? { token } : {}), ...tls })
}

/**
 * What an http(s) address is trusted with: https:// verifies the agent against `caFile` (else
 * the cluster CA at DEFAULT_CA_FILE when present, else the system's CAs); a token is never sent
 * over plain http:// to anything but a loopback address.
 */
async function tlsTrust (addr: string, caFile: string | undefined, sendsToken: boolean): Promise<{ ca?: Buffer, caFile?: string }> {
  if (!/^https?:\/\//i.test(addr)) return {}
  let url: URL
  try {
    url = new URL(addr)
  } catch {
    return {}
  }
  if (url.protocol === 'http:') {
    if (sendsToken && !isLoopbackHost(url.hostname.replace(/^\[|\]$/g, '')) && url.hostname !== 'localhost') {
      throw usageError(`refusing to send the API token in clear to ${url.host} over http://: use https:// (the agent serves TLS off loopback)`)
    }
    return {}
  }
  const path = caFile ?? (existsSync(DEFAULT_CA_FILE) ? DEFAULT_CA_FILE : undefined)
  if (path === undefined) return {}
  try {
    return { ca: await readFile(path), caFile: path }
  } catch (err) {
    throw usageError(`--ca-file: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

async function emit (result: CommandResult, io: CliIo): Promise<void> {
  if (typeof result === 'string') {
    io.stdout(result)
    return
  }
  for await (const chunk of result) io.stdout(chunk)
}

/** The commander program; `io` receives all output. */
export function buildProgram (io: CliIo): Command {
  const program = new Command('clusterctl')
    .description('Inspect and operate a clusterd cluster through the local agent')
    .version(CLUSTERD_VERSION, '-V, --version', 'print the clusterctl version')
    .addOption(new Option('--addr <addr>', `agent API: a unix socket path or http(s):// URL (env ${ADDR_ENV_VAR}, default ${DEFAULT_ADDR})`))
    .addOption(new Option('--token-file <file>', `bearer token file for http(s) addresses (env ${TOKEN_FILE_ENV_VAR})`))
    .addOption(new Option('--ca-file <file>', `CA certificate an https:// agent must be signed by (env ${CA_FILE_ENV_VAR}, default ${DEFAULT_CA_FILE} when it exists)`))
    .addOption(new Option('--timeout <seconds>', `give up on a request after this long (default ${DEFAULT_TIMEOUT_MS / 1000})`))
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: (text, write) => { write(`clusterctl: ${text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}\n`) }
    })
    .showSuggestionAfterError(true)

  const ctx: CommandContext = {
    tty: io.stdoutIsTTY === true,
    columns: io.columns ?? DEFAULT_COLUMNS,
    warn: text => { io.stderr(`clusterctl: ${text}\n`) },
    ...(io.confirm !== undefined ? { confirm: io.confirm } : {})
  }
  for (const spec of COMMANDS) {
    const words = spec.verb.split(' ')
    const name = words.pop() ?? spec.verb
    let parent = program
    for (const group of words) {
      parent = parent.commands.find(c => c.name() === group) ??
        parent.command(group).description(GROUPS[group] ?? '')
    }
    const cmd = parent.command(name).description(spec.summary)
    if (spec.read) cmd.addOption(outputOption())
    spec.configure?.(cmd)
    cmd.action(async (...received: unknown[]) => {
      // commander passes the positional args (a variadic one as an array), then the options
      // object, then the command.
      const command = received[received.length - 1] as Command
      const args = received.slice(0, -2).flat().filter((a): a is string => typeof a === 'string')
      const client = await clientFromOptions(command.optsWithGlobals<GlobalOptions>(), io.env)
      await emit(await spec.run(client, command.opts(), args, ctx), io)
    })
  }
  // Not an API verb: it prints a script generated from this program, verbs above included.
  program.command('completion')
    .description('Print the shell completion script (bash: source <(clusterctl completion bash))')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(COMPLETION_SHELLS))
    .action((shell: CompletionShell) => { io.stdout(completionScript(program, shell)) })
  return program
}

/** Run clusterctl with `argv` (without node and script). Returns the exit code; never throws. */
export async function runCli (argv: string[], io: CliIo): Promise<number> {
  const program = buildProgram(io)
  try {
    await program.parseAsync(argv, { from: 'user' })
    return 0
  } catch (err) {
    return reportError(err, io)
  }
}

function reportError (err: unknown, io: CliIo): number {
  // Commander printed its own messages through outputError (or the help text) already.
  return reportFatal(err, { program: 'clusterctl', stderr: io.stderr, debug: io.env[DEBUG_ENV_VAR] === '1' })
}
