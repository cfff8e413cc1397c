/**
 * Keys, sshd config and client-side ssh arguments for test hosts. Host keys are generated
 * here and known_hosts is written from them: no keyscan, no accept-any.
 */
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN, REPO_ROOT, SSH_CONNECT_TIMEOUT_S } from './constants.js'
import { runOk } from './proc.js'

/** Generates an unencrypted ed25519 key pair at `path` (+ `.pub`); returns the public key line. */
export async function generateKey (path: string, comment: string): Promise<string> {
  await rm(path, { force: true })
  await rm(`${path}.pub`, { force: true })
  await runOk([BIN.sshKeygen, '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path])
  return (await readFile(`${path}.pub`, 'utf8')).trim()
}

/** `ssh-ed25519 AAAA...` without the comment: what known_hosts and authorized_keys compare. */
export function keyWithoutComment (publicKeyLine: string): string {
  const [type, blob] = publicKeyLine.trim().split(/\s+/)
  if (type == null || blob == null) throw new Error(`not a public key line: ${publicKeyLine}`)
  return `${type} ${blob}`
}

/** The node gate in the repository (installed on each host as bootstrap.sh installs it on a node). */
export const GATE_SOURCE = join(REPO_ROOT, 'agent/fencing/clusterd-gate.py')
/** Where the gate is installed on a host (as bootstrap.sh does). */
export const GATE_PATH = '/usr/local/lib/clusterd/clusterd-gate'
/** The sshd drop-in that lets a session present its lease (as bootstrap.sh writes it). */
export const FENCE_DROP_IN = '/etc/ssh/sshd_config.d/clusterd-fence.conf'
/** Content of {@link FENCE_DROP_IN}, byte for byte what bootstrap.sh writes (so it sees nothing to change). */
export const FENCE_DROP_IN_TEXT = `# clusterd: a manager presents its node lease with each session (see ${GATE_PATH})\nAcceptEnv CLUSTERD_LEASE\n`
/** The gate's decision log on a host. */
export const GATE_LOG = '/var/log/clusterd/gate.log'

/**
 * authorized_keys options of the cluster's manager key: every session runs through the gate,
 * and the key opens no forwarding (as bootstrap.sh writes them).
 */
export function gateKeyOptions (leaseFile = '/var/lib/clusterd/lease.json'): string {
  return `command="${GATE_PATH} --lease-file ${leaseFile} --log ${GATE_LOG}",no-port-forwarding,no-agent-forwarding,no-X11-forwarding`
}

/** What one host's sshd needs to know. */
export interface SshdConfigInit {
  address: string
  pidFile: string
  hostKeyPath: string
}

/**
 * The host's /etc/ssh/sshd_config (replaces Debian's, so no Include of the machine's drop-ins),
 * except clusterd's own drop-ins, which bootstrap.sh writes inside the host as on a real node
 * (Debian's config includes sshd_config.d/*.conf first, so a drop-in's values win there too).
 */
export function sshdConfig (init: SshdConfigInit): string {
  return [
    'Include /etc/ssh/sshd_config.d/clusterd*.conf',
    `ListenAddress ${init.address}:22`,
    `HostKey ${init.hostKeyPath}`,
    `PidFile ${init.pidFile}`,
    'UsePAM no',
    'UseDNS no',
    'StrictModes yes',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'AuthorizedKeysFile .ssh/authorized_keys',
    'Subsystem sftp internal-sftp',
    // Ansible opens many sessions at once; the defaults (10:30:100, 10) drop some.
    'MaxStartups 200:30:400',
    'MaxSessions 64',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    'LogLevel INFO',
    // Only clusterd's own drop-in: the machine's others would change the hosts' sshd.
    `Include ${FENCE_DROP_IN}`,
    ''
  ].join('\n')
}

/** One known_hosts line naming a host by every name in `names`. */
export function knownHostsLine (names: readonly string[], publicKeyLine: string): string {
  return `${names.join(',')} ${keyWithoutComment(publicKeyLine)}`
}

/** Client-side identity and trust used to reach test hosts. */
export interface SshClientInit {
  clientKeyPath: string
  knownHostsPath: string
  /** A ControlPath (e.g. `<dir>/%C`) to multiplex; default: no multiplexing. */
  controlPath?: string
}

/**
 * `-o` options for any ssh to a test host: only our key, only our known_hosts, strict checking,
 * never a prompt, and no ~/.ssh/config of the machine (-F /dev/null).
 */
export function sshOptions (init: SshClientInit): string[] {
  const opts = [
    '-F', '/dev/null',
    '-i', init.clientKeyPath,
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${init.knownHostsPath}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', `ConnectTimeout=${SSH_CONNECT_TIMEOUT_S}`,
    '-o', 'LogLevel=ERROR'
  ]
  if (init.controlPath == null) {
    opts.push('-o', 'ControlMaster=no', '-o', 'ControlPath=none')
  } else {
    opts.push('-o', 'ControlMaster=auto', '-o', `ControlPath=${init.controlPath}`, '-o', 'ControlPersist=60')
  }
  return opts
}

/** Full argv of `ssh root@address <remote command>`; each remote arg is quoted for the remote shell. */
export function sshArgv (init: SshClientInit, address: string, remote: readonly string[]): string[] {
  const argv = [BIN.ssh, ...sshOptions(init), `root@${address}`]
  if (remote.length > 0) argv.push('--', remote.map(shellQuote).join(' '))
  return argv
}

/** Quotes one argument for a POSIX shell (ssh always hands the command to the remote shell). */
export function shellQuote (arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg
  return `'${arg.replaceAll("'", "'\\''")}'`
}
