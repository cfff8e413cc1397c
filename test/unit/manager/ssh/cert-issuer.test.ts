/**
 * SshCertIssuer with the real ssh-keygen: what the manager's certificate says (key id,
 * principals, validity, options), that renewal replaces it in place, that stop removes the key,
 * and that a CA key that cannot sign fails the start with a clear message.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { execa } from 'execa'
import { pino } from 'pino'
import { SshCertIssuer } from '../../../../manager/ssh/cert-issuer.js'
import { waitFor } from '../../../harness/poll.js'

const logger = pino({ level: 'silent' })
const KEYGEN = '/usr/bin/ssh-keygen'

describe('SshCertIssuer', () => {
  let dir: string
  let ca: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cert-issuer-'))
    ca = join(dir, 'ca')
    await execa(KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-f', ca])
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('signs a short-lived certificate for its epoch, renews it in place and deletes the key on stop', async () => {
    const issuer = new SshCertIssuer({ logger }, { caKeyPath: ca, dir: join(dir, 'm'), epoch: 12, nodeName: 'mgr-1', validityS: 30, renewMs: 300 })
    const before = Date.now()
    await issuer.start()
    assert.equal((await stat(join(dir, 'm'))).mode & 0o777, 0o700)
    assert.equal((await stat(issuer.privateKeyPath)).mode & 0o777, 0o600)
    const shown = (await execa(KEYGEN, ['-L', '-f', issuer.certificatePath])).stdout
    assert.match(shown, /Type: ssh-ed25519-cert-v01@openssh\.com user certificate/)
    assert.match(shown, /Key ID: "clusterd-manager epoch=12 node=mgr-1"/)
    assert.match(shown, /Principals: \n\s+clusterd-manager\n\s+clusterd-epoch-12\n/)
    assert.match(shown, /Critical Options: \(none\)\n\s+Extensions: \n\s+permit-pty\s*$/)
    const caFingerprint = (await execa(KEYGEN, ['-l', '-f', `${ca}.pub`])).stdout.split(' ')[1]
    assert.ok(shown.includes(`Signing CA: ED25519 ${caFingerprint ?? '?'}`), shown)
    // Valid from a minute back (clock skew) to the validity ahead, to the second.
    assert.ok(issuer.validUntil > before + 29_000 && issuer.validUntil <= Date.now() + 30_000)
    const until = /Valid: from \S+ to (\S+)/.exec(shown)?.[1]
    assert.ok(until !== undefined && new Date(until).getTime() >= issuer.validUntil - 1000, `${String(until)} vs ${new Date(issuer.validUntil).toISOString()}`)

    const first = await readFile(issuer.certificatePath, 'utf8')
    const firstUntil = issuer.validUntil
    await waitFor(async () => issuer.validUntil > firstUntil, { timeoutMs: 5000, message: 'a renewal' })
    const second = await readFile(issuer.certificatePath, 'utf8')
    assert.notEqual(second, first, 'a new certificate (new serial and dates)')
    assert.equal(second.split(' ')[0], 'ssh-ed25519-cert-v01@openssh.com')

    await issuer.stop()
    await assert.rejects(stat(join(dir, 'm')), { code: 'ENOENT' })
  })

  it('a CA key that cannot sign fails the start with ssh-keygen\'s reason', async () => {
    const bad = join(dir, 'not-a-key')
    await writeFile(bad, 'garbage\n', { mode: 0o600 })
    const issuer = new SshCertIssuer({ logger }, { caKeyPath: bad, dir: join(dir, 'b'), epoch: 1, nodeName: 'mgr-1' })
    await assert.rejects(issuer.start(), /ssh-keygen signing the manager certificate failed \(exit \d+\)/)
    await assert.rejects(stat(join(dir, 'b')), { code: 'ENOENT' }, 'no key left behind')
  })

  it('refuses a renewal interval not shorter than the validity', () => {
    assert.throws(() => new SshCertIssuer({ logger }, { caKeyPath: ca, dir: join(dir, 'c'), epoch: 1, nodeName: 'n', validityS: 60, renewMs: 60_000 }), /renewMs must be shorter/)
  })
})
