/**
 * Manager elections inside the simulation (placeholder until the pure election core lands):
 * counts elections and checks that each connected component has at most one manager.
 */

import type { Metrics } from './metrics.js'
import type { World } from './world.js'

/** Runs one election core per node and checks the one-manager invariant. */
export class ElectionProbe<M, S> {
  elections = 0
  violations = 0
  managerless = 0

  constructor (readonly world: World<M, S>, readonly metrics: Metrics<M, S>, readonly capacity: number) {}

  /** Initial nodes were booted converged. */
  booted (_first: number, _n: number): void {}
  /** Node `i` started (a join or restart). */
  started (_i: number): void {}
  /** Node `i` crashed. */
  crashed (_i: number): void {}
  /** Forget what the warm-up counted. */
  resetCounts (): void {
    this.elections = 0
    this.violations = 0
    this.managerless = 0
  }

  /** Invariant tick. */
  check (_now: number): void {}
}
