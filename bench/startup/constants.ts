/**
 * Defaults of the start-up benchmark (agent spawn -> API socket accepting, idle RSS).
 */

/** The target: a lone agent on an idle machine accepts API connections this soon after its spawn. */
export const TARGET_MS = 300

/** The idle-memory target per agent. */
export const TARGET_RSS_MB = 80

/** Lone-agent start-ups timed per variant (after one untimed start that fills the caches). */
export const DEFAULT_RUNS = 10

/** Agents started at the same moment in the "together" scenario: one seed and joiners. */
export const DEFAULT_TOGETHER = 16

/** Rounds of the "together" scenario per variant. */
export const DEFAULT_ROUNDS = 3

/** How long agents sit idle before their RSS is read. */
export const DEFAULT_IDLE_S = 10

/** Variants measured when none are given: `label=entry script` (relative to the repository). */
export const DEFAULT_VARIANTS = ['unbundled=dist/agent/main.js', 'bundled=bin/clusterd.js']

/** Deadline for one agent to accept on its API socket (16 at once on 2 cores took 5-9 s before bundling). */
export const LISTEN_TIMEOUT_MS = 60_000

/** Fallback poll of a socket that produced no directory event (the watch normally answers first). */
export const POLL_FALLBACK_MS = 20

/** Retry after ECONNREFUSED: the socket file exists between bind() and listen(). */
export const REFUSED_RETRY_MS = 1

/** Quiet-machine wait before each variant: busy fraction and how long to wait for it at most. */
export const QUIET_BUSY_FRACTION = 0.15
export const QUIET_MAX_WAIT_MS = 60_000
