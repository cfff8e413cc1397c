/** Defaults for clusterctl. */

/** The local agent's API socket, used when neither --addr nor CLUSTERCTL_ADDR is set. */
export const DEFAULT_ADDR = '/run/clusterd/clusterd.sock'

/** Environment variable holding the agent address (socket path or http(s) URL). */
export const ADDR_ENV_VAR = 'CLUSTERCTL_ADDR'

/** Environment variable naming the bearer token file for http(s) addresses. */
export const TOKEN_FILE_ENV_VAR = 'CLUSTERCTL_TOKEN_FILE'

/** Environment variable naming the CA certificate that https:// agents must present a certificate from. */
export const CA_FILE_ENV_VAR = 'CLUSTERCTL_CA_FILE'

/** The cluster's API CA certificate bootstrap.sh writes; used for https:// when no CA file is given and it exists. */
export const DEFAULT_CA_FILE = '/etc/clusterd/api-ca.crt'

/** Environment variable that, set to 1, adds stack traces to internal errors. */
export const DEBUG_ENV_VAR = 'CLUSTERD_DEBUG'

/** Default overall deadline of one request (connect, send, answer). */
export const DEFAULT_TIMEOUT_MS = 30_000

/** Largest response body the client buffers. */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024

/** The exit codes clusterctl's own code uses; the one table of exit codes is protocol/exit-codes.ts. */
export { EXIT_DECLINED, EXIT_DRIFT, EXIT_INTERNAL, EXIT_JOB_FAILED, EXIT_USAGE } from '../protocol/exit-codes.js'

/** How long `--wait` and `job logs --follow` keep reconnecting a broken job stream (e.g. manager failover). */
export const RECONNECT_WINDOW_MS = 60_000

/** First pause before reconnecting a broken job stream; doubles up to RECONNECT_MAX_DELAY_MS. */
export const RECONNECT_FIRST_DELAY_MS = 250

/** Longest pause between reconnect attempts. */
export const RECONNECT_MAX_DELAY_MS = 5_000

/** `events --follow`: pause between two asks for new events when the last found none. */
export const EVENTS_POLL_INTERVAL_MS = 1_000

/** `events --follow`: most new events asked for at once (a full batch is followed by another ask at once). */
export const EVENTS_FOLLOW_BATCH = 1_000

/** Least time between two redraws of the live progress block on a terminal. */
export const REDRAW_INTERVAL_MS = 100

/** Terminal width assumed when the terminal does not say. */
export const DEFAULT_COLUMNS = 100
