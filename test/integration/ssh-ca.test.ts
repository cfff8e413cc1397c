/**
 * The manager's SSH credential against real sshd on test hosts that trust a cluster SSH CA the
 * way bootstrap.sh sets them up (TrustedUserCAKeys + AuthorizedPrincipalsFile listing
 * clusterd-manager): the certificate SshCertIssuer signs opens a root session through the
 * OpenSSH connector the pre-checks use; renewal keeps it working past the first certificate's
 * expiry; a deposed manager's copy of its certificate is refused by sshd once it expires;
 * certificates from another CA or without the principal are refused; host keys stay pinned.
 */
import assert from 'node:assert/strict'
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { execa } from 'execa'
import { pino } from 'pino'
import { SshCertIssuer } from '../../manager/ssh/cert-issuer.js'
import { OpenSshConnector } from '../../manager/ssh/openssh-connector.js'
import { precheck, type PrecheckResult } from '../../manager/ssh/precheck.js'
import type { HostKey } from '../../protocol/members.js'
import { TestHosts, type TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'

const logger = pino({ level: 'silent' })
const KEYGEN = '/usr/bin/ssh-keygen'
/** Short on purpose: the test waits for expiries. */
const VALIDITY_S = 4

function pinned (publicKeyLine: string): HostKey {
  const [type, key] = publicKeyLine.trim().split(/\s+/)
  return { type: type ?? '', key: key ?? '' }
}

const outcome = (r: PrecheckResult): string => r.ok ? 'ok' : `${r.reason}: ${r.message}`

describe('manager SSH certificates from the cluster CA on real sshd', { timeout: 5 * 60_000 }, () => {
  let hosts: TestHosts
  let h: TestHost[]
  let dir: string
  let caKey: string

  /** What bootstrap.sh's trust_cluster_ssh_ca writes, then a reload of the host's sshd. */
  const trustCa = async (host: TestHost, caPub: string): Promise<void> => {
    const script = [
      'set -e; umask 077; mkdir -p /etc/clusterd/ssh-principals /etc/ssh/sshd_config.d',
      'printf "%s\\n" "$1" > /etc/clusterd/ssh-ca.pub',
      'echo clusterd-manager > /etc/clusterd/ssh-principals/root',
      'printf "TrustedUserCAKeys /etc/clusterd/ssh-ca.pub\\nAuthorizedPrincipalsFile /etc/clusterd/ssh-principals/%%u\\n" > /etc/ssh/sshd_config.d/clusterd-ca.conf',
      'chmod 644 /etc/ssh/sshd_config.d/clusterd-ca.conf',
      '/usr/sbin/sshd -t',
      '/usr/sbin/sshd -T | grep -qix "trustedusercakeys /etc/clusterd/ssh-ca.pub"'
    ].join('\n')
    const r = await host.exec(['bash', '-c', script, 'trust', caPub])
    assert.equal(r.code, 0, `trusting the CA on ${host.name}: ${r.stderr}`)
    process.kill(host.pid!, 'SIGHUP')
    // Reloaded once a login by the CA works: polled through the first precheck of each test.
  }

  const target = (i: number, key?: HostKey): { name: string, address: string, hostKeys: HostKey[] } =>
    ({ name: h[i]!.name, address: h[i]!.address, hostKeys: [key ?? pinned(h[i]!.hostKeyPublic)] })

  const connector = (privateKeyPath: string, certificatePath?: string): OpenSshConnector =>
    new OpenSshConnector({ logger }, { privateKeyPath, ...(certificatePath !== undefined ? { certificatePath } : {}), workDir: dir, connectTimeoutMs: 3000 })

  before(async () => {
    hosts = await TestHosts.create({ count: 2, prefix: 'sca' })
    h = hosts.hosts
    dir = await mkdtemp(join(tmpdir(), 'sca-it-'))
    caKey = join(dir, 'ssh-ca')
    await execa(KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', 'test-ca', '-f', caKey])
    // Host 0 trusts the CA; host 1 does not (a node bootstrap.sh never touched).
    await trustCa(h[0]!, (await readFile(`${caKey}.pub`, 'utf8')).trim())
  })

  after(async () => {
    await hosts?.destroy()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('the certificate opens a root session; renewal keeps it working past the first expiry; a deposed copy is refused once expired', async () => {
    const issuer = new SshCertIssuer({ logger }, { caKeyPath: caKey, dir: join(dir, 'manager-cert'), epoch: 7, nodeName: 'mgr-a', validityS: VALIDITY_S, renewMs: 1500 })
    await issuer.start()
    const ssh = connector(issuer.privateKeyPath, issuer.certificatePath)
    await waitFor(async () => (await precheck(ssh, target(0))).ok, { timeoutMs: 20_000, intervalMs: 250, message: 'a certificate login on the reloaded sshd' })
    const cert = await execa(KEYGEN, ['-L', '-f', issuer.certificatePath])
    assert.match(cert.stdout, /Key ID: "clusterd-manager epoch=7 node=mgr-a"/)
    assert.match(cert.stdout, /clusterd-manager\n\s+clusterd-epoch-7/)
    assert.match(cert.stdout, /Critical Options: \(none\)/)
    assert.match(cert.stdout, /Extensions: \n\s+permit-pty$/)

    // For the report: what a pre-check costs through OpenSSH with the certificate (one handshake, two commands).
    const times: number[] = []
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now()
      assert.equal(outcome(await precheck(ssh, target(0))), 'ok')
      times.push(performance.now() - t0)
    }
    console.error(`# precheck over OpenSSH with a certificate: ${times.map(t => t.toFixed(0)).join(', ')} ms`)

    // Renewed: still accepted after the first certificate's end.
    const firstEnd = issuer.validUntil
    await waitFor(async () => Date.now() > firstEnd + 1000, { timeoutMs: (VALIDITY_S + 3) * 1000, intervalMs: 200, message: 'the first certificate to expire' })
    assert.ok(issuer.validUntil > firstEnd, 'renewed')
    assert.equal(outcome(await precheck(ssh, target(0))), 'ok')

    // Deposed: a frozen manager may still hold its files; stop() deletes ours, the copy expires.
    const kept = join(dir, 'kept')
    // Read before copying: a renewal in between gives a copy that lasts longer, never shorter.
    const keptUntil = issuer.validUntil
    await copyFile(issuer.privateKeyPath, kept)
    await copyFile(issuer.certificatePath, `${kept}-cert.pub`)
    await issuer.stop()
    await assert.rejects(readFile(issuer.privateKeyPath), { code: 'ENOENT' })
    const deposed = connector(kept, `${kept}-cert.pub`)
    if (Date.now() < keptUntil - 500) assert.equal(outcome(await precheck(deposed, target(0))), 'ok', 'the copy works until it expires')
    const refused = await waitFor(async () => {
      const r = await precheck(deposed, target(0))
      return r.ok ? undefined : r
    }, { timeoutMs: (VALIDITY_S + 10) * 1000, intervalMs: 250, message: 'the deposed certificate to be refused' })
    assert.equal(refused.ok ? 'ok' : refused.reason, 'auth-failed')
    assert.ok(Date.now() >= keptUntil, `refused only at its expiry (${keptUntil - Date.now()} ms early)`)
    const log = await h[0]!.readFile('/var/log/sshd.log') ?? ''
    assert.match(log, /Accepted publickey for root .* ED25519-CERT .* ID clusterd-manager epoch=7 node=mgr-a/)
    assert.match(log, /[Cc]ertificate invalid: expired/)
  })

  it('refuses a certificate from another CA, one without the principal, a host that does not trust the CA, and a wrong host key', async () => {
    const key = join(dir, 'probe')
    await execa(KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-f', key])
    const sign = async (ca: string, principal: string): Promise<void> => {
      await execa(KEYGEN, ['-q', '-s', ca, '-I', 'probe', '-n', principal, '-V', '-1m:+5m', `${key}.pub`])
    }
    // Control: the CA with the right principal works (so the refusals below are about the certificate).
    await sign(caKey, 'clusterd-manager')
    await waitFor(async () => (await precheck(connector(key, `${key}-cert.pub`), target(0))).ok, { timeoutMs: 20_000, intervalMs: 250, message: 'the control login' })

    await sign(caKey, 'root')
    assert.match(outcome(await precheck(connector(key, `${key}-cert.pub`), target(0))), /^auth-failed: /)

    const otherCa = join(dir, 'other-ca')
    await execa(KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-f', otherCa])
    await sign(otherCa, 'clusterd-manager')
    assert.match(outcome(await precheck(connector(key, `${key}-cert.pub`), target(0))), /^auth-failed: /)

    await sign(caKey, 'clusterd-manager')
    assert.match(outcome(await precheck(connector(key, `${key}-cert.pub`), target(1))), /^auth-failed: .*cluster SSH CA/)
    assert.match(outcome(await precheck(connector(key, `${key}-cert.pub`), target(0, pinned(h[1]!.hostKeyPublic)))), /^host-key-mismatch: /)
  })
})
