/**
 * Turns `clusterd agent` flags, the optional YAML config file and the environment into a
 * validated AgentConfig. Precedence: defaults < config file < flags; a flag replaces the
 * file's value for that key entirely (for `--join` and `--label`, the whole list).
 *
 * Config file keys are the flag names without `--` (kebab-case), e.g. `data-dir: /srv/c`.
 * Relative paths in the file resolve against the file's directory; on the command line,
 * against the working directory. Every bad value throws one ClusterdError naming the flag
 * or file key and the expected form: CLUSTERD_ERR_INVALID_ARGUMENT for flags,
 * CLUSTERD_ERR_INVALID_CONFIG for the file.
 */

import { hostname as osHostname } from 'node:os'
import { dirname, resolve } from 'node:path'
import { ClusterdError } from '../../protocol/errors.js'
import {
  CONFIG_ENV_VAR, TIMING_ENV_VAR, DEFAULT_API_SOCKET, DEFAULT_DATA_DIR, DEFAULT_FAILURE_DETECTION, DEFAULT_LISTEN, DEFAULT_LOG_FORMAT, DEFAULT_LOG_LEVEL,
  DEFAULT_SECRET_FILE, DEFAULT_PLAYBOOK_DIR, DEFAULT_SSH_KEY_FILE, MAX_UNIX_SOCKET_PATH_BYTES
} from './constants.js'
import { loadConfigFile, type RawConfigFile } from './load-config-file.js'
import {
  checkLabel, parseBoolean, parseFailureDetection, parseHostPort, parseLabel, parseLogFormat, parseLogLevel, parseNodeName, parsePath, parseTimingOverrides,
  type HostPortRules, type ParseResult
} from './parse-values.js'
import type { AgentConfig, HostPort, TimingOverrides } from './agent-config.js'
import { SWIM_DEFAULTS } from '../membership/core/constants.js'
import { MEMBERSHIP_DEFAULTS } from '../membership/constants.js'
import { isLoopbackHost } from '../../protocol/loopback.js'

/** Options of `clusterd agent` as commander hands them over (all values still strings). */
export interface AgentFlags {
  config?: string
  dataDir?: string
  listen?: string
  advertise?: string
  join?: string[]
  secretFile?: string
  nodeName?: string
  label?: string[]
  apiSocket?: string
  apiListen?: string
  apiTokenFile?: string
  managerEligible?: string
  playbookDir?: string
  sshKeyFile?: string
  sshCaKeyFile?: string
  sshCaPubFile?: string
  apiTlsCert?: string
  apiTlsKey?: string
  logLevel?: string
  logFormat?: string
  failureDetection?: string
}

/** Environment variables the parser reads: only `CLUSTERD_CONFIG` (config file path). */
export type AgentEnv = Readonly<Record<string, string | undefined>>

/** Things the parser would otherwise take from the machine; tests pin them. */
export interface ParseAgentConfigInit {
  /** Host name used as the default node name. Default: `os.hostname()`. */
  hostname?: string
  /** Directory relative paths on the command line resolve against. Default: `process.cwd()`. */
  cwd?: string
}

/** Every key the config file accepts: the flag names without `--`, except `config`. */
export const CONFIG_FILE_KEYS = [
  'data-dir', 'listen', 'advertise', 'join', 'secret-file', 'node-name', 'label', 'api-socket',
  'api-listen', 'api-token-file', 'manager-eligible', 'playbook-dir', 'ssh-key-file', 'log-level',
  'ssh-ca-key-file', 'api-tls-cert', 'api-tls-key', 'ssh-ca-pub-file', 'log-format', 'failure-detection'
] as const

type ConfigKey = typeof CONFIG_FILE_KEYS[number]

/** Where one raw value came from: decides the error wording, code and path base. */
interface Source {
  where: string
  code: 'CLUSTERD_ERR_INVALID_ARGUMENT' | 'CLUSTERD_ERR_INVALID_CONFIG'
  baseDir: string
}

interface Picked { raw: unknown, src: Source }

const LISTENER: HostPortRules = { host: 'ip', allowPortZero: true, allowUnspecified: true }
const DIALLABLE: HostPortRules = { host: 'ip-or-dns', allowPortZero: false, allowUnspecified: false }

function fail (src: Source, reason: string): ClusterdError {
  return new ClusterdError(src.code, `${src.where}: ${reason}`)
}

function unwrap<T> (result: ParseResult<T>, src: Source): T {
  if (!result.ok) throw fail(src, result.reason)
  return result.value
}

/** Flag prop name for a config key: `data-dir` → `dataDir`. */
function propOf (key: ConfigKey): keyof AgentFlags {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof AgentFlags
}

/** YAML scalars (numbers, booleans) become strings, so `rack: 12` works as a label. */
function asString (raw: unknown, src: Source): string {
  if (typeof raw === 'string') return raw
  if ((typeof raw === 'number' && Number.isFinite(raw)) || typeof raw === 'boolean') return String(raw)
  throw fail(src, `expected a string; got ${raw === null ? 'null' : Array.isArray(raw) ? 'a list' : typeof raw}`)
}

function asList (raw: unknown, src: Source): string[] {
  if (Array.isArray(raw)) return raw.map(item => asString(item, src))
  return [asString(raw, src)]
}

function parseLabels (raw: unknown, src: Source): Record<string, string> {
  const labels: Record<string, string> = {}
  const add = ([key, value]: [string, string]): void => {
    if (Object.hasOwn(labels, key)) throw fail(src, `label key ${JSON.stringify(key)} given more than once`)
    labels[key] = value
  }
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    // In the file, a mapping is the natural YAML form: `label: { rack: r1 }`.
    for (const [key, value] of Object.entries(raw)) add(unwrap(checkLabel(key, asString(value, src)), src))
  } else {
    for (const item of asList(raw, src)) add(unwrap(parseLabel(item), src))
  }
  return labels
}

/**
 * Resolve the agent configuration. `env` is consulted only for `CLUSTERD_CONFIG` (the
 * config file when `--config` is absent) and `CLUSTERD_TIMING` (membership timing overrides). Throws ClusterdError on the first bad value.
 */
export function parseAgentConfig (flags: AgentFlags, env: AgentEnv = process.env, init: ParseAgentConfigInit = {}): AgentConfig {
  const cwd = init.cwd ?? process.cwd()
  const flagSource = (key: string): Source => ({ where: `--${key}`, code: 'CLUSTERD_ERR_INVALID_ARGUMENT', baseDir: cwd })

  let configPath: string | undefined
  if (flags.config !== undefined) {
    configPath = resolve(cwd, unwrap(parsePath(flags.config), flagSource('config')))
  } else if (env[CONFIG_ENV_VAR] !== undefined && env[CONFIG_ENV_VAR] !== '') {
    configPath = resolve(cwd, env[CONFIG_ENV_VAR])
  }
  const file: RawConfigFile = configPath === undefined ? new Map() : loadConfigFile(configPath, CONFIG_FILE_KEYS)

  const pick = (key: ConfigKey): Picked | undefined => {
    const flag = flags[propOf(key)]
    if (flag !== undefined && !(Array.isArray(flag) && flag.length === 0)) return { raw: flag, src: flagSource(key) }
    if (configPath !== undefined && file.has(key)) {
      return { raw: file.get(key), src: { where: `config file ${configPath}: ${key}`, code: 'CLUSTERD_ERR_INVALID_CONFIG', baseDir: dirname(configPath) } }
    }
    return undefined
  }
  const str = (key: ConfigKey, fallback: string): { value: string, src: Source } => {
    const p = pick(key)
    return p === undefined ? { value: fallback, src: flagSource(key) } : { value: asString(p.raw, p.src), src: p.src }
  }
  const path = (key: ConfigKey, fallback: string): string => {
    const { value, src } = str(key, fallback)
    return resolve(src.baseDir, unwrap(parsePath(value), src))
  }
  const hostPort = (key: ConfigKey, rules: HostPortRules): HostPort | null => {
    const p = pick(key)
    return p === undefined ? null : unwrap(parseHostPort(asString(p.raw, p.src), rules), p.src)
  }

  const dataDir = path('data-dir', DEFAULT_DATA_DIR)
  const listenPicked = str('listen', DEFAULT_LISTEN)
  const listen = unwrap(parseHostPort(listenPicked.value, LISTENER), listenPicked.src)
  const advertise = hostPort('advertise', DIALLABLE)

  const joinPicked = pick('join')
  const join = joinPicked === undefined
    ? []
    : asList(joinPicked.raw, joinPicked.src).map(seed => unwrap(parseHostPort(seed, DIALLABLE), joinPicked.src))

  const secretFile = path('secret-file', DEFAULT_SECRET_FILE)
  const playbookDir = path('playbook-dir', DEFAULT_PLAYBOOK_DIR)
  const sshKeyFile = path('ssh-key-file', DEFAULT_SSH_KEY_FILE)
  const sshCaKeyFile = pick('ssh-ca-key-file') === undefined ? null : path('ssh-ca-key-file', '')
  const sshCaPubFile = pick('ssh-ca-pub-file') === undefined ? null : path('ssh-ca-pub-file', '')

  const namePicked = pick('node-name')
  let nodeName: string
  if (namePicked !== undefined) {
    nodeName = unwrap(parseNodeName(asString(namePicked.raw, namePicked.src)), namePicked.src)
  } else {
    const host = init.hostname ?? osHostname()
    const parsed = parseNodeName(host)
    if (!parsed.ok) {
      throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `--node-name: the host name ${JSON.stringify(host)} is not a valid node name (1-63 letters, digits, "." or "-", starting and ending with a letter or digit); pass --node-name NAME`)
    }
    nodeName = parsed.value
  }

  const labelPicked = pick('label')
  const labels = labelPicked === undefined ? {} : parseLabels(labelPicked.raw, labelPicked.src)

  const apiSocketPicked = str('api-socket', DEFAULT_API_SOCKET)
  const apiSocket = path('api-socket', DEFAULT_API_SOCKET)
  if (Buffer.byteLength(apiSocket) > MAX_UNIX_SOCKET_PATH_BYTES) {
    throw fail(apiSocketPicked.src, `unix socket paths are limited to ${MAX_UNIX_SOCKET_PATH_BYTES} bytes; ${JSON.stringify(apiSocket)} has ${Buffer.byteLength(apiSocket)}`)
  }

  const apiListen = hostPort('api-listen', LISTENER)
  const tokenPicked = pick('api-token-file')
  let apiTcp: AgentConfig['apiTcp'] = null
  if (apiListen !== null) {
    if (tokenPicked === undefined) {
      throw fail(pick('api-listen')?.src ?? flagSource('api-listen'), 'the TCP API always requires a bearer token: also give --api-token-file FILE (api-token-file in the config file)')
    }
    const certPicked = pick('api-tls-cert')
    const keyPicked = pick('api-tls-key')
    if ((certPicked === undefined) !== (keyPicked === undefined)) {
      throw fail((certPicked ?? keyPicked)?.src ?? flagSource('api-tls-cert'), 'give both --api-tls-cert FILE and --api-tls-key FILE (api-tls-cert and api-tls-key in the config file)')
    }
    const tls = certPicked === undefined ? null : { certFile: path('api-tls-cert', ''), keyFile: path('api-tls-key', '') }
    // The bearer token must not cross a network in clear: plain HTTP only on loopback.
    if (tls === null && !isLoopbackHost(apiListen.host)) {
      throw fail(pick('api-listen')?.src ?? flagSource('api-listen'), `refusing to serve the API over plain HTTP on ${apiListen.host}, which is not a loopback address: give --api-tls-cert FILE and --api-tls-key FILE (bootstrap.sh makes them), or listen on 127.0.0.1`)
    }
    apiTcp = { listen: apiListen, tokenFile: path('api-token-file', ''), tls }
  } else if (tokenPicked !== undefined) {
    throw fail(tokenPicked.src, 'is only used with --api-listen HOST:PORT (api-listen in the config file)')
  } else {
    for (const key of ['api-tls-cert', 'api-tls-key'] as const) {
      const p = pick(key)
      if (p !== undefined) throw fail(p.src, 'is only used with --api-listen HOST:PORT (api-listen in the config file)')
    }
  }

  const eligiblePicked = pick('manager-eligible')
  let managerEligible = true
  if (eligiblePicked !== undefined) {
    const raw = eligiblePicked.raw
    managerEligible = unwrap(parseBoolean(typeof raw === 'boolean' ? raw : asString(raw, eligiblePicked.src)), eligiblePicked.src)
  }

  const levelPicked = str('log-level', DEFAULT_LOG_LEVEL)
  const logLevel = unwrap(parseLogLevel(levelPicked.value), levelPicked.src)
  const formatPicked = str('log-format', DEFAULT_LOG_FORMAT)
  const logFormat = unwrap(parseLogFormat(formatPicked.value), formatPicked.src)
  const detectionPicked = str('failure-detection', DEFAULT_FAILURE_DETECTION)
  const failureDetection = unwrap(parseFailureDetection(detectionPicked.value), detectionPicked.src)

  const rawTiming = env[TIMING_ENV_VAR]
  const timing: TimingOverrides = rawTiming === undefined || rawTiming === ''
    ? {}
    : unwrap(parseTimingOverrides(rawTiming, TIMING_KEYS), { where: TIMING_ENV_VAR, code: 'CLUSTERD_ERR_INVALID_CONFIG', baseDir: cwd })

  return { dataDir, listen, advertise, join, secretFile, nodeName, labels, apiSocket, apiTcp, managerEligible, playbookDir, sshKeyFile, sshCaKeyFile, sshCaPubFile, logLevel, logFormat, failureDetection, timing }
}

/** The knobs CLUSTERD_TIMING may set (TimingOverrides). */
const TIMING_KEYS: readonly string[] = [...Object.keys(SWIM_DEFAULTS), ...Object.keys(MEMBERSHIP_DEFAULTS), 'idleConnectionMs']

