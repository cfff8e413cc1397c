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

/** Default log format: pino JSON lines. */
export const DEFAULT_LOG_FORMAT = 'json'

/** Log formats of `--log-format`. */
export const LOG_FORMATS = ['json', 'pretty'] as const

/**
 * Failure-detection timings of `--failure-detection` (agent/membership/constants.ts has the
 * numbers): `standard` tolerates agents that share or lose their CPU for a while; `fast`
 * declares a dead member about a second sooner and wants a core per agent.
 */
export const FAILURE_DETECTION_MODES = ['standard', 'fast'] as const

/** One of FAILURE_DETECTION_MODES. */
export type FailureDetection = typeof FAILURE_DETECTION_MODES[number]

/** Default failure detection. */
export const DEFAULT_FAILURE_DETECTION = 'standard'

/** Log levels pino accepts, most to least severe. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const

/** Environment variable naming the config file when `--config` is not given. */
export const CONFIG_ENV_VAR = 'CLUSTERD_CONFIG'

/** Environment variable with membership timing overrides (JSON object of ms and counts; tests and benchmarks). */
export const TIMING_ENV_VAR = 'CLUSTERD_TIMING'

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
