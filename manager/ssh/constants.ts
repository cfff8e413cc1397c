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

/** ssh-keygen, which signs the manager's certificates with the cluster CA. */
export const SSH_KEYGEN_PATH = '/usr/bin/ssh-keygen'

/** The OpenSSH client the certificate-based connector runs (the same one Ansible uses). */
export const OPENSSH_PATH = '/usr/bin/ssh'

/**
 * The principal every manager certificate carries; bootstrap.sh lists it in the node's
 * AuthorizedPrincipalsFile for root, so only certificates naming it open a session.
 */
export const CERT_PRINCIPAL = 'clusterd-manager'

/** A second principal naming the epoch (`clusterd-epoch-7`), for a node that pins epochs. */
export function epochPrincipal (epoch: number): string {
  return `clusterd-epoch-${epoch}`
}

/** Lifetime of a manager certificate: a deposed manager's credential is dead this long after its last renewal. */
export const CERT_VALIDITY_S = 300

/** Certificates start this far in the past, for nodes whose clocks are behind the manager's. */
export const CERT_BACKDATE_S = 60

/** Re-signing interval while the role is held (well inside the validity). */
export const CERT_RENEW_MS = 120_000
