/**
 * Pure parsers for single config values. Each returns the value or a reason; the caller
 * adds where the value came from (a flag or a config file key) and throws one error.
 */

import { isIP } from 'node:net'
import { DNS_NAME_PATTERN, labelProblem, nodeNameProblem } from '../../protocol/names.js'
import { FAILURE_DETECTION_MODES, LOG_FORMATS, LOG_LEVELS } from './constants.js'
import type { AgentConfig, HostPort } from './agent-config.js'

/** A parsed value, or why it could not be parsed (phrased to follow "<flag>: "). */
export type ParseResult<T> = { ok: true, value: T } | { ok: false, reason: string }

/** What a host:port value is used for; decides which hosts and ports are allowed. */
export interface HostPortRules {
  /** `ip`: an IP literal only (something to listen on); `ip-or-dns`: also a DNS name. */
  host: 'ip' | 'ip-or-dns'
  /** Allow port 0 (pick a free port; listeners only). */
  allowPortZero: boolean
  /** Allow 0.0.0.0 and :: (listeners only; nobody can dial them). */
  allowUnspecified: boolean
}

const ok = <T>(value: T): ParseResult<T> => ({ ok: true, value })
const fail = <T>(reason: string): ParseResult<T> => ({ ok: false, reason })

/** Parse `HOST:PORT`, `[IPV6]:PORT`; the returned host carries no brackets. */
export function parseHostPort (input: string, rules: HostPortRules): ParseResult<HostPort> {
  const example = rules.host === 'ip' ? 'IP:PORT, e.g. 0.0.0.0:7946 or [::]:7946' : 'HOST:PORT, e.g. 10.0.0.1:7946, node1.example.com:7946 or [fd00::1]:7946'
  const expected = `expected ${example}; got ${JSON.stringify(input)}`
  let host: string
  let portText: string
  const bracketed = /^\[([^\]]+)\]:([^:]*)$/.exec(input)
  if (bracketed != null) {
    host = bracketed[1] ?? ''
    portText = bracketed[2] ?? ''
    if (isIP(host) !== 6) return fail(`only IPv6 addresses go in brackets: ${expected}`)
  } else {
    const colon = input.lastIndexOf(':')
    if (colon < 0) return fail(`missing port: ${expected}`)
    host = input.slice(0, colon)
    portText = input.slice(colon + 1)
    if (host.includes(':')) return fail(`IPv6 addresses need brackets: ${expected}`)
  }
  if (host === '') return fail(`missing host: ${expected}`)
  const minPort = rules.allowPortZero ? 0 : 1
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < minPort || Number(portText) > 65535) {
    return fail(`port must be a number from ${minPort} to 65535: ${expected}`)
  }
  const ipVersion = isIP(host)
  if (ipVersion === 0) {
    if (rules.host === 'ip') return fail(`host must be an IP address: ${expected}`)
    if (!DNS_NAME_PATTERN.test(host)) return fail(`host is neither an IP address nor a DNS name: ${expected}`)
  }
  if (!rules.allowUnspecified && (host === '0.0.0.0' || (ipVersion === 6 && /^[0:]+$/.test(host)))) {
    return fail(`${host} cannot be dialled by other nodes; give a concrete address: ${expected}`)
  }
  return ok({ host, port: Number(portText) })
}

/** Parse a node name (protocol/names.ts); returns it lowercased. */
export function parseNodeName (input: string): ParseResult<string> {
  const problem = nodeNameProblem(input)
  return problem === undefined ? ok(input.toLowerCase()) : fail(problem)
}

/** Check one label key and value (protocol/names.ts). */
export function checkLabel (key: string, value: string): ParseResult<[string, string]> {
  const problem = labelProblem(key, value)
  return problem === undefined ? ok([key, value]) : fail(problem)
}

/** Parse `KEY=VALUE` (split at the first `=`; the value may be empty). */
export function parseLabel (input: string): ParseResult<[string, string]> {
  const eq = input.indexOf('=')
  if (eq < 0) return fail(`expected KEY=VALUE, e.g. rack=r1; got ${JSON.stringify(input)}`)
  return checkLabel(input.slice(0, eq), input.slice(eq + 1))
}

/** Parse `true` or `false` (YAML booleans arrive already parsed). */
export function parseBoolean (input: string | boolean): ParseResult<boolean> {
  if (typeof input === 'boolean') return ok(input)
  if (input === 'true') return ok(true)
  if (input === 'false') return ok(false)
  return fail(`expected true or false; got ${JSON.stringify(input)}`)
}

/** Parse a pino log level name. */
export function parseLogLevel (input: string): ParseResult<AgentConfig['logLevel']> {
  const level = LOG_LEVELS.find(l => l === input)
  if (level === undefined) return fail(`expected one of ${LOG_LEVELS.join(', ')}; got ${JSON.stringify(input)}`)
  return ok(level)
}

/** Parse a log format name (`--log-format`). */
export function parseLogFormat (input: string): ParseResult<AgentConfig['logFormat']> {
  const format = LOG_FORMATS.find(f => f === input)
  if (format === undefined) return fail(`expected one of ${LOG_FORMATS.join(', ')}; got ${JSON.stringify(input)}`)
  return ok(format)
}

/** Parse a failure-detection timing name (`--failure-detection`). */
export function parseFailureDetection (input: string): ParseResult<AgentConfig['failureDetection']> {
  const mode = FAILURE_DETECTION_MODES.find(m => m === input)
  if (mode === undefined) return fail(`expected one of ${FAILURE_DETECTION_MODES.join(', ')}; got ${JSON.stringify(input)}`)
  return ok(mode)
}

/**
 * Parse timing overrides (CLUSTERD_TIMING): a JSON object whose keys are among `known` and whose
 * values are finite numbers >= 0 (0 turns off the knobs that say so). A typo'd key or a string
 * is an error, not ignored.
 */
export function parseTimingOverrides (input: string, known: readonly string[]): ParseResult<Record<string, number>> {
  const form = 'a JSON object of numbers >= 0, e.g. {"probeIntervalMs":200}'
  let parsed: unknown
  try {
    parsed = JSON.parse(input)
  } catch {
    return fail(`expected ${form}; got ${JSON.stringify(input.length > 80 ? `${input.slice(0, 80)}...` : input)}, which is not JSON`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail(`expected ${form}; got ${Array.isArray(parsed) ? 'a list' : JSON.stringify(parsed)}`)
  const out: Record<string, number> = {}
  for (const [key, value] of Object.entries(parsed)) {
    if (!known.includes(key)) return fail(`unknown key ${JSON.stringify(key)}; known: ${known.join(', ')}`)
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return fail(`${key}: expected a number >= 0; got ${JSON.stringify(value)}`)
    out[key] = value
  }
  return ok(out)
}

/** Check a file system path is usable (non-empty, no NUL byte). */
export function parsePath (input: string): ParseResult<string> {
  if (input === '') return fail('expected a path; got an empty string')
  if (input.includes('\0')) return fail('path contains a NUL byte')
  return ok(input)
}
