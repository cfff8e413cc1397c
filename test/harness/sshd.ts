/**
 * Keys, sshd config and client-side ssh arguments for test hosts. Host keys are generated
 * here and known_hosts is written from them: no keyscan, no accept-any.
 */
import { readFile, rm } from 'node:fs/promises'
import { BIN, SSH_CONNECT_TIMEOUT_S } from './constants.js'
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
