/** Defaults for the local HTTP API server. */

/** Largest accepted request body: 1 MiB. Larger bodies get CLUSTERD_ERR_PAYLOAD_TOO_LARGE. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024

/** Time a client has to send a whole request (headers and body). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

/** Time a client has to send the request headers. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000

/** How long an idle keep-alive connection stays open. */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000

/** How long start() waits for a process on an existing socket file to accept a connection. */
export const STALE_SOCKET_PROBE_TIMEOUT_MS = 1_000

/** Mode of the unix socket file: owner read/write only. */
export const SOCKET_MODE = 0o600

/** Mode of the socket's parent directory when start() creates it. */
export const SOCKET_DIR_MODE = 0o700

/** Content type of streamed responses: one JSON value per line. */
export const NDJSON_CONTENT_TYPE = 'application/x-ndjson'

/** Content type of ordinary responses. */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8'
