/** Defaults for clusterctl. */

/** The local agent's API socket, used when neither --addr nor CLUSTERCTL_ADDR is set. */
export const DEFAULT_ADDR = '/run/clusterd/clusterd.sock'

/** Environment variable holding the agent address (socket path or http(s) URL). */
export const ADDR_ENV_VAR = 'CLUSTERCTL_ADDR'

/** Environment variable naming the bearer token file for http(s) addresses. */
export const TOKEN_FILE_ENV_VAR = 'CLUSTERCTL_TOKEN_FILE'

/** Environment variable that, set to 1, adds stack traces to internal errors. */
export const DEBUG_ENV_VAR = 'CLUSTERD_DEBUG'

/** Default overall deadline of one request (connect, send, answer). */
export const DEFAULT_TIMEOUT_MS = 30_000

/** Largest response body the client buffers. */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024

/** Exit code for usage errors (bad flags or arguments), as for CLUSTERD_ERR_INVALID_ARGUMENT. */
export const EXIT_USAGE = 2

/** Exit code for bugs and unexpected failures (sysexits EX_SOFTWARE). */
export const EXIT_INTERNAL = 70
