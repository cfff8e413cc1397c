import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
/**
 * Defaults and limits for `clusterd agent` flags and the YAML config file. Every default the
 * parser fills in lives here, so docs, help text and tests read from one place.
 */

/** Default directory for identity, LevelDB and runtime state. */
export const DEFAULT_DATA_DIR = '/var/lib/clusterd'

/** Default libp2p listen address. */
export const DEFAULT_LISTEN = '0.0.0.0:7946'

/** Default path of the cluster secret. */
export const DEFAULT_SECRET_FILE = '/etc/clusterd/secret'

/** Default path of the local API's unix socket. */
export const DEFAULT_API_SOCKET = '/run/clusterd/clusterd.sock'

/** Default pino log level. */
export const DEFAULT_LOG_LEVEL = 'info'

/** Log levels pino accepts, most to least severe. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const

/** Environment variable naming the config file when `--config` is not given. */
export const CONFIG_ENV_VAR = 'CLUSTERD_CONFIG'

/**
 * Node names: 1-63 letters, digits, `.` and `-`, starting and ending with a letter or digit.
 * Matched case-insensitively and stored lowercased, as DNS treats host names, so `Web1` and
 * `web1` are the same node.
 */
export const NODE_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9.-]{0,61}[a-z0-9])?$/i

/** Label keys: 1-63 letters, digits, `.`, `_`, `-`, `/`, starting and ending with a letter or digit; case-sensitive. */
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$/

/** Label values: empty, or 1-63 letters, digits, `.`, `_`, `-`, starting and ending with a letter or digit; case-sensitive. */
export const LABEL_VALUE_PATTERN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/

/** One DNS host name (RFC 1123 labels), used for `--advertise` and `--join` hosts. */
export const DNS_NAME_PATTERN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i

/** Linux `sun_path` holds 108 bytes including the terminating NUL. */
export const MAX_UNIX_SOCKET_PATH_BYTES = 107

/** Default playbook directory: the `playbooks/` of the installation (the nearest directory above the compiled code that has one). */
export const DEFAULT_PLAYBOOK_DIR: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 8 && dir !== dirname(dir); i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'playbooks'))) return join(dir, 'playbooks')
    dir = dirname(dir)
  }
  return fileURLToPath(new URL('../../../playbooks', import.meta.url))
})()

/** Default manager SSH private key (a cluster secret created by bootstrap.sh). */
export const DEFAULT_SSH_KEY_FILE = '/etc/clusterd/manager_ed25519'
