/**
 * Keeping secrets out of what clusterd hands to people (support bundles, diagnostics): by
 * key (a field named like a password or token) and by value (every known secret value, such
 * as the cluster secret, the API token or a private key's body, wherever it appears inside a
 * string). The agent redacts by value with the secrets it holds; clusterctl redacts by key
 * (and by the token it holds) whatever it writes. Pure: no I/O.
 */

/** What a redacted value becomes. */
export const REDACTED = '[REDACTED]'

/** Field names whose values are secrets (`db_password`, `apiToken`, `secret`...); `*File` paths are not. */
const SECRET_KEY = /(password|passwd|passphrase|secret|token|psk|private_?key|api_?key|credentials?)$/i

/** Shorter values are not searched for: they would match by accident (and are no secret worth the name). */
const MIN_SECRET_CHARS = 12

/** Deeper values are cut (nothing clusterd writes nests this deep; decoders refuse deeper). */
const MAX_DEPTH = 64

/** Whether a field of this name holds a secret. */
export function isSecretKey (key: string): boolean {
  return SECRET_KEY.test(key)
}

/**
 * The values worth searching for in a secret file's text: the whole text, and each line long
 * enough not to match by accident except PEM armour (`-----BEGIN ...`), so a private key's body
 * is found line by line as well as whole.
 */
export function secretValuesOfFile (text: string): string[] {
  const out = [text.trim()]
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line.length < MIN_SECRET_CHARS || line.startsWith('-----')) continue
    out.push(line)
    // A key written as hex (the cluster secret) may show up in another encoding of its bytes.
    if (/^(?:[0-9a-fA-F]{2}){16,}$/.test(line)) {
      const bytes = Buffer.from(line, 'hex')
      out.push(line.toLowerCase(), line.toUpperCase(), bytes.toString('base64'), bytes.toString('base64url'))
    }
  }
  return out
}

/**
 * The files an agent's configuration (`AgentDiagnostics.config`, the agent's AgentConfig) names
 * as secret: the cluster secret, the SSH key, the SSH CA key, the API token and TLS key.
 */
export function secretFilesOfConfig (config: Readonly<Record<string, unknown>>): string[] {
  const str = (v: unknown): string[] => typeof v === 'string' && v !== '' ? [v] : []
  const tcp = config.apiTcp as { tokenFile?: unknown, tls?: { keyFile?: unknown } | null } | null | undefined
  return [...str(config.secretFile), ...str(config.sshKeyFile), ...str(config.sshCaKeyFile), ...str(tcp?.tokenFile), ...str(tcp?.tls?.keyFile)]
}

/** Whether `value` (JSON-like) has a secret-named field with a value, at any depth (bounded). */
export function hasSecretField (value: unknown, depth = 0): boolean {
  if (typeof value !== 'object' || value === null || depth >= MAX_DEPTH) return false
  if (Array.isArray(value)) return value.some(v => hasSecretField(v, depth + 1))
  return Object.entries(value).some(([k, v]) => (isSecretKey(k) && v !== null && v !== undefined && v !== '') || hasSecretField(v, depth + 1))
}

/** Replaces secret values and the values of secret-named fields. */
export class Redactor {
  private readonly needles: string[]

  /** `values`: the secret values to search for (short or empty ones are ignored). */
  constructor (values: Iterable<string> = []) {
    // Longest first, so a whole key is replaced before one of its lines.
    this.needles = [...new Set([...values].filter(v => v.length >= MIN_SECRET_CHARS))].sort((a, b) => b.length - a.length)
  }

  /** `text` with every secret value replaced. */
  text (text: string): string {
    let out = text
    for (const n of this.needles) if (out.includes(n)) out = out.split(n).join(REDACTED)
    return out
  }

  /** A copy of `value` (JSON-like) with secret values and secret-named fields replaced. */
  value<T> (value: T): T {
    return this.walk(value, 0) as T
  }

  private walk (v: unknown, depth: number): unknown {
    if (typeof v === 'string') return this.text(v)
    if (typeof v !== 'object' || v === null) return v
    if (depth >= MAX_DEPTH) return REDACTED
    if (Array.isArray(v)) return v.map(x => this.walk(x, depth + 1))
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) {
      out[k] = isSecretKey(k) && x !== null && x !== undefined && x !== '' ? REDACTED : this.walk(x, depth + 1)
    }
    return out
  }
}
