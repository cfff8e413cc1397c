/**
 * SshCertIssuer: the elected manager's SSH credential. Nodes trust the cluster's SSH CA
 * (`TrustedUserCAKeys`, written by bootstrap.sh), not a shared key: on taking the role the
 * manager makes a fresh key pair that never leaves its data directory and signs itself a
 * short-lived user certificate for its epoch with the CA key, which only manager-eligible nodes
 * hold. It re-signs while it holds the role; a deposed or dead manager's certificate expires on
 * its own within the validity (default 5 min), and its key is deleted when the role stops.
 * See docs/architecture.md, "Least privilege".
 */
import { chmod, copyFile, mkdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import type { Logger } from 'pino'
import {
  CERT_BACKDATE_S, CERT_PRINCIPAL, CERT_RENEW_MS, CERT_VALIDITY_S, SSH_KEYGEN_PATH, epochPrincipal
} from './constants.js'

/** Collaborators of {@link SshCertIssuer}. */
export interface SshCertIssuerComponents {
  logger: Logger
}

/** Settings of {@link SshCertIssuer}. */
export interface SshCertIssuerInit {
  /** The cluster SSH CA private key (mode 0600, on manager-eligible nodes only). */
  caKeyPath: string
  /** Private directory for the key and certificate; created 0700, removed on stop. */
  dir: string
  /** The manager's election epoch: named in the key id and a principal. */
  epoch: number
  /** This node's name, for the key id (sshd logs it with every login). */
  nodeName: string
  /** Certificate lifetime in seconds (default 300). */
  validityS?: number
  /** How often the certificate is re-signed while the role is held (default 2 min). */
  renewMs?: number
  sshKeygenPath?: string
}

/** Issues and renews the manager's own short-lived SSH user certificate. */
export class SshCertIssuer {
  private readonly log: Logger
  private readonly init: Required<SshCertIssuerInit>
  private timer: NodeJS.Timeout | undefined
  private renewing: Promise<void> = Promise.resolve()
  private stopped = false
  private signedUntil = 0

  constructor (components: SshCertIssuerComponents, init: SshCertIssuerInit) {
    this.log = components.logger.child({ component: 'ssh-cert' })
    this.init = { validityS: CERT_VALIDITY_S, renewMs: CERT_RENEW_MS, sshKeygenPath: SSH_KEYGEN_PATH, ...init }
    if (this.init.renewMs >= this.init.validityS * 1000) throw new TypeError('renewMs must be shorter than the validity')
  }

  /** The manager's private key for this epoch (`ssh -i`). */
  get privateKeyPath (): string { return join(this.init.dir, 'id_ed25519') }

  /** Its current certificate (`ssh -o CertificateFile=`), replaced atomically on renewal. */
  get certificatePath (): string { return join(this.init.dir, 'id_ed25519-cert.pub') }

  /** Wall-clock time (ms) before which the current certificate does not expire; 0 before the first. */
  get validUntil (): number { return this.signedUntil }

  /** Makes the key pair and the first certificate; throws when the CA key cannot sign. */
  async start (): Promise<void> {
    this.stopped = false
    await rm(this.init.dir, { recursive: true, force: true })
    await mkdir(this.init.dir, { recursive: true, mode: 0o700 })
    await chmod(this.init.dir, 0o700)
    try {
      await this.keygen(['-q', '-t', 'ed25519', '-N', '', '-C', this.keyId(), '-f', this.privateKeyPath])
      await this.sign()
    } catch (err) {
      // No half-made credential stays behind.
      await rm(this.init.dir, { recursive: true, force: true })
      throw err
    }
    this.timer = setInterval(() => {
      this.renewing = this.renewing.then(async () => {
        if (this.stopped) return
        try {
          await this.sign()
        } catch (err) {
          // The old certificate stays until it expires; the next tick tries again.
          this.log.error({ err: (err as Error).message, validUntil: new Date(this.signedUntil).toISOString() }, 'renewing the manager SSH certificate failed')
        }
      })
    }, this.init.renewMs)
    this.timer.unref()
  }

  /** Stops renewing and deletes the key and certificate. */
  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    await this.renewing
    await rm(this.init.dir, { recursive: true, force: true })
  }

  private keyId (): string {
    return `clusterd-manager epoch=${this.init.epoch} node=${this.init.nodeName}`
  }

  /** Signs the public key into a temporary certificate, then renames it into place. */
  private async sign (): Promise<void> {
    const next = join(this.init.dir, 'next')
    await rm(`${next}.pub`, { force: true })
    await rm(`${next}-cert.pub`, { force: true })
    // ssh-keygen writes `<name>-cert.pub` beside the public key it signs.
    await copyFile(`${this.privateKeyPath}.pub`, `${next}.pub`)
    const now = Date.now()
    await this.keygen([
      '-q', '-s', this.init.caKeyPath, '-I', this.keyId(),
      '-n', `${CERT_PRINCIPAL},${epochPrincipal(this.init.epoch)}`,
      '-V', `-${CERT_BACKDATE_S}s:+${this.init.validityS}s`,
      '-z', String(now),
      // No forwarding, X11 or user rc; a pty only because Ansible may ask for one.
      '-O', 'clear', '-O', 'permit-pty',
      `${next}.pub`
    ])
    await rename(`${next}-cert.pub`, this.certificatePath)
    await rm(`${next}.pub`, { force: true })
    // ssh-keygen counts whole seconds from its own clock reading, taken after `now`.
    this.signedUntil = (Math.floor(now / 1000) + this.init.validityS) * 1000
    this.log.debug({ validUntil: new Date(this.signedUntil).toISOString() }, 'signed the manager SSH certificate')
  }

  private async keygen (args: string[]): Promise<void> {
    const r = await execa(this.init.sshKeygenPath, args, { extendEnv: false, env: { PATH: '/usr/bin:/bin' }, reject: false, stdin: 'ignore' })
    if (r.exitCode !== 0) {
      throw new Error(`ssh-keygen ${args.includes('-s') ? 'signing the manager certificate' : 'making the manager key'} failed (exit ${String(r.exitCode)}): ${String(r.stderr).trim().slice(0, 500)}`)
    }
  }
}
