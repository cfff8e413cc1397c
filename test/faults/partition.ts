/**
 * Network partitions between test hosts. All hosts of a set share one bridge, so a partition is
 * made inside the hosts: each host of one side gets a blackhole route to every address of the
 * other side (and the other way round). Packets are dropped silently, as on a cut wire between
 * two switches: established connections hang rather than reset, and each side still reaches
 * its own members (and the test process reaches every agent through its unix socket).
 */
import { BIN } from '../harness/constants.js'
import type { TestHost } from '../harness/hosts.js'
import { runOk } from '../harness/proc.js'

/** A partition in place; `heal()` removes it. */
export class Partition {
  private healed = false

  private constructor (readonly a: readonly TestHost[], readonly b: readonly TestHost[]) {}

  /** Cut every path between the hosts of `a` and those of `b`. */
  static async between (a: readonly TestHost[], b: readonly TestHost[]): Promise<Partition> {
    const p = new Partition(a, b)
    await p.routes('add')
    return p
  }

  /** Remove the partition (idempotent). */
  async heal (): Promise<void> {
    if (this.healed) return
    this.healed = true
    await this.routes('del')
  }

  private async routes (op: 'add' | 'del'): Promise<void> {
    const cut = async (from: readonly TestHost[], to: readonly TestHost[]): Promise<void> => {
      await Promise.all(from.map(async h => {
        const lines = to.map(t => `route ${op} blackhole ${t.address}/32`)
        await runOk([BIN.ip, '-n', h.name, '-batch', '-'], { input: lines.join('\n') + '\n' })
      }))
    }
    await cut(this.a, this.b)
    await cut(this.b, this.a)
  }
}
