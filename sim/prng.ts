/**
 * The simulator's own seeded pseudo-random numbers: xoshiro128** seeded through splitmix32.
 * Never Math.random in the simulation path: the same seed must give the same run, byte for byte.
 * Each node and the network get their own stream (`fork`), so what one node draws does not
 * shift what another draws when a scenario changes elsewhere.
 */

/** splitmix32: spreads a 32-bit seed into well-mixed state words. */
function splitmix32 (state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0
  let z = state.s
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

/** A seeded xoshiro128** generator. */
export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: number, stream = 0) {
    const st = { s: (seed ^ Math.imul(stream + 1, 0x27d4eb2d)) | 0 }
    this.a = splitmix32(st)
    this.b = splitmix32(st)
    this.c = splitmix32(st)
    this.d = splitmix32(st)
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1
  }

  /** The next 32-bit unsigned integer. */
  nextU32 (): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a
    this.d ^= this.b
    this.b ^= this.c
    this.a ^= this.d
    this.c ^= t
    this.d = rotl(this.d, 11)
    return r
  }

  /** A float in [0, 1). */
  next (): number {
    return this.nextU32() / 4294967296
  }

  /** An integer in [0, n). */
  int (n: number): number {
    return Math.floor(this.next() * n)
  }

  /** A new independent generator derived from this seed and a stream number. */
  static stream (seed: number, stream: number): Prng {
    return new Prng(seed, stream)
  }
}

function rotl (x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}
