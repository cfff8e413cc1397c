/**
 * Defaults of the manager API benchmark (`clusterctl nodes -o json` over many node records).
 */

/** The target: `clusterctl nodes -o json` over 1,000 node records answers within this many ms. */
export const TARGET_MS = 150

/** Node records written into the manager store before the agent starts. */
export const DEFAULT_NODES = 1000

/** API samples per path (after the warm-up). */
export const DEFAULT_SAMPLES = 300
export const WARMUP_SAMPLES = 20

/** Full clusterctl processes timed per path. */
export const DEFAULT_CLI_RUNS = 20

/** Deadline for an agent to become (or learn) the manager and see every record. */
export const READY_TIMEOUT_MS = 120_000
