/** Defaults for the manager's direct SSH sessions (prechecks, file pushes). */

/** Remote user for every session: commissioning configures the system. */
export const DEFAULT_SSH_USER = 'root'

/** SSH port when a target names none. */
export const DEFAULT_SSH_PORT = 22

/** Deadline for TCP connect plus handshake plus authentication. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000

/** Interpreter Ansible is pinned to; precheck requires it. */
export const DEFAULT_PYTHON_PATH = '/usr/bin/python3'

/** Deadline of each precheck command. */
export const PRECHECK_COMMAND_TIMEOUT_MS = 10_000

/** ssh2 host key algorithms to offer for each pinned key type. */
export const HOST_KEY_ALGORITHMS: Readonly<Record<string, readonly string[]>> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']
}
