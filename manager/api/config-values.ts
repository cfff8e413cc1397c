/**
 * Validation and normalisation of cluster configuration values (`clusterctl config set`).
 * Values arrive as strings from the CLI or as JSON from the API; both normalise to one stored
 * shape, and anything else is refused with a message showing the accepted forms.
 */

import type { ConfigKey } from '../../protocol/api-routes.js'
import { ClusterdError } from '../../protocol/errors.js'
import { ROLE_NAME_PATTERN, labelProblem } from '../../protocol/names.js'
import { DEFAULT_REPLICATION_ACKS } from '../replication/constants.js'
import { DEFAULT_RETENTION, type RetentionPolicy } from '../store/retention.js'

/** Stored auto-commission policy. */
export interface AutoCommissionPolicy {
  enabled: boolean
  roles: string[]
  /** Labels a node must carry (all of them) to be auto-commissioned. */
  selector: Record<string, string>
}

/** What to do when a commissioned node comes back after being unreachable. */
export type OnReturnPolicy = 'verify' | 'reconfigure' | 'none'

/** Defaults for keys that were never set. */
export const CONFIG_DEFAULTS = {
  'auto-commission': { enabled: false, roles: [], selector: {} } as AutoCommissionPolicy,
  'on-return': 'verify' as OnReturnPolicy,
  'job-timeout': 1800,
  'max-parallel-jobs': 4,
  vars: {} as Record<string, string>,
  'retention.jobs.max-count': DEFAULT_RETENTION.jobsMaxCount,
  'retention.jobs.max-age': DEFAULT_RETENTION.jobsMaxAgeS,
  'retention.events.max-per-node': DEFAULT_RETENTION.eventsMaxPerNode,
  'retention.events.max-age': DEFAULT_RETENTION.eventsMaxAgeS,
  'retention.revisions.max-count': DEFAULT_RETENTION.revisionsMaxCount,
  'replication.acks': DEFAULT_REPLICATION_ACKS
}

/** Largest `replication.acks`. */
export const MAX_REPLICATION_ACKS = 16

const DURATION = /^(\d{1,9})([smhd]?)$/
const UNIT_S: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }

/** Parse a duration (`3600`, `90m`, `12h`, `30d`) into seconds; NaN when malformed. */
export function parseDurationS (value: unknown): number {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : NaN
  const m = typeof value === 'string' ? DURATION.exec(value.trim()) : null
  return m === null ? NaN : Number(m[1]) * (UNIT_S[m[2] as string] as number)
}

/** A whole number from a config value (number or digits); NaN otherwise. */
function wholeNumber (value: unknown): number {
  const n = typeof value === 'string' && /^\d{1,16}$/.test(value.trim()) ? Number(value.trim()) : value
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : NaN
}

/** `replication.acks` from its stored value (the default when unset or no longer valid). */
export function replicationAcks (raw: unknown): number {
  if (raw === undefined) return DEFAULT_REPLICATION_ACKS
  try { return validateConfigValue('replication.acks', raw) as number } catch { return DEFAULT_REPLICATION_ACKS }
}

/** The retention policy from the stored config values (a stored value that no longer validates falls back to its default). */
export function retentionPolicy (get: (key: ConfigKey) => unknown): Required<RetentionPolicy> {
  const pick = (key: ConfigKey, fallback: number): number => {
    const raw = get(key)
    if (raw === undefined) return fallback
    try { return validateConfigValue(key, raw) as number } catch { return fallback }
  }
  return {
    jobsMaxCount: pick('retention.jobs.max-count', DEFAULT_RETENTION.jobsMaxCount),
    jobsMaxAgeS: pick('retention.jobs.max-age', DEFAULT_RETENTION.jobsMaxAgeS),
    eventsMaxPerNode: pick('retention.events.max-per-node', DEFAULT_RETENTION.eventsMaxPerNode),
    eventsMaxAgeS: pick('retention.events.max-age', DEFAULT_RETENTION.eventsMaxAgeS),
    revisionsMaxCount: pick('retention.revisions.max-count', DEFAULT_RETENTION.revisionsMaxCount)
  }
}

function invalid (key: string, message: string): ClusterdError {
  return new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `config ${key}: ${message}`)
}

/** Parse `off`, `on`-less compact `ROLE[,ROLE][@KEY=VALUE[,KEY=VALUE]]`, or a JSON policy. */
export function parseAutoCommission (value: unknown): AutoCommissionPolicy {
  const usage = 'expected "off", "ROLE[,ROLE...][@LABEL=VALUE[,LABEL=VALUE...]]" (e.g. "worker@zone=a"), or {"enabled":true,"roles":["worker"],"selector":{"zone":"a"}}'
  let v = value
  if (typeof v === 'string') {
    const s = v.trim()
    if (s === 'off' || s === 'false') return { enabled: false, roles: [], selector: {} }
    if (s.startsWith('{')) {
      try { v = JSON.parse(s) } catch { throw invalid('auto-commission', usage) }
    } else {
      const [rolePart = '', selectorPart] = s.split('@', 2)
      const roles = rolePart.split(',').map(r => r.trim()).filter(r => r !== '')
      const selector: Record<string, string> = {}
      for (const pair of (selectorPart ?? '').split(',').filter(p => p.trim() !== '')) {
        const eq = pair.indexOf('=')
        if (eq <= 0) throw invalid('auto-commission', `selector ${JSON.stringify(pair)} is not LABEL=VALUE; ${usage}`)
        selector[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim()
      }
      v = { enabled: true, roles, selector }
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('auto-commission', usage)
  const o = v as Record<string, unknown>
  const enabled = o.enabled === undefined ? true : o.enabled
  if (typeof enabled !== 'boolean') throw invalid('auto-commission', 'enabled must be a boolean')
  const roles = o.roles ?? []
  if (!Array.isArray(roles) || !roles.every(r => typeof r === 'string' && ROLE_NAME_PATTERN.test(r))) throw invalid('auto-commission', `roles must be role names; ${usage}`)
  if (enabled && roles.length === 0) throw invalid('auto-commission', `name at least one role; ${usage}`)
  const selector = o.selector ?? {}
  if (typeof selector !== 'object' || selector === null || Array.isArray(selector)) throw invalid('auto-commission', 'selector must be an object of label values')
  for (const [k, val] of Object.entries(selector)) {
    if (labelProblem(k, val) !== undefined) throw invalid('auto-commission', `selector label ${JSON.stringify(k)} is invalid`)
  }
  return { enabled, roles: [...new Set(roles as string[])], selector: { ...(selector as Record<string, string>) } }
}

/** Validate and normalise a value for `key`. */
export function validateConfigValue (key: ConfigKey, value: unknown): unknown {
  switch (key) {
    case 'auto-commission':
      return parseAutoCommission(value)
    case 'on-return':
      if (value !== 'verify' && value !== 'reconfigure' && value !== 'none') throw invalid(key, 'expected verify, reconfigure or none')
      return value
    case 'job-timeout':
    case 'max-parallel-jobs': {
      const n = typeof value === 'string' ? Number(value) : value
      const max = key === 'job-timeout' ? 86_400 : 64
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n > max) throw invalid(key, `expected a whole number from 1 to ${max}`)
      return n
    }
    case 'retention.jobs.max-count':
    case 'retention.events.max-per-node':
    case 'retention.revisions.max-count': {
      const n = wholeNumber(value)
      if (!(n >= 1 && n <= 10_000_000)) throw invalid(key, 'expected a whole number from 1 to 10000000')
      return n
    }
    case 'retention.jobs.max-age':
    case 'retention.events.max-age': {
      const n = parseDurationS(value)
      if (!(n >= 60 && n <= 3650 * 86_400)) throw invalid(key, 'expected a duration from 60 s to 3650 d: seconds, or a number with s, m, h or d (e.g. 30d, 12h)')
      return n
    }
    case 'replication.acks': {
      const n = wholeNumber(value)
      if (!(n >= 1 && n <= MAX_REPLICATION_ACKS)) throw invalid(key, `expected a whole number from 1 to ${MAX_REPLICATION_ACKS}`)
      return n
    }
    case 'vars': {
      let v = value
      if (typeof v === 'string') {
        try { v = JSON.parse(v) } catch { throw invalid(key, 'expected a JSON object of string values, e.g. {"ntp_server":"10.0.0.1"}') }
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(key, 'expected an object of string values')
      for (const [k, val] of Object.entries(v)) {
        if (!/^[a-z_][a-z0-9_]{0,63}$/i.test(k) || typeof val !== 'string') throw invalid(key, `variable ${JSON.stringify(k)} must have a valid name and a string value`)
      }
      return v
    }
  }
}

/** True when a node's labels satisfy every label of the selector. */
export function matchesSelector (labels: Record<string, string>, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v)
}
