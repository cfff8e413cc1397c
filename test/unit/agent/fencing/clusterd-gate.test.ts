// The node gate (agent/fencing/clusterd-gate.py, the real script under the system python3) run
// as sshd runs a forced command: the session's command in SSH_ORIGINAL_COMMAND, the presented
// lease in CLUSTERD_LEASE, the lease file as the node's agent writes it.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { writeLeaseFile } from '../../../../agent/fencing/lease-file.js'
import { REPO_ROOT } from '../../../harness/constants.js'
import { GATE_REFUSED_EXIT, gateLeaseTag, type Lease } from '../../../../protocol/fencing-wire.js'

const GATE = join(REPO_ROOT, 'agent/fencing/clusterd-gate.py')
const HOLDER = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'

describe('clusterd-gate', () => {
  let dir: string
  let leaseFile: string
  let log: string
  const lease = (over: Partial<Lease> = {}): Lease => ({ epoch: 5, holder: HOLDER, leaseId: 'ab'.repeat(16), grantedAt: Date.now(), expiresAt: Date.now() + 15_000, ...over })
  const gate = async (presented: string | undefined, command: string | undefined, args = ['--lease-file', leaseFile, '--log', log]): Promise<{ code: number, stdout: string, stderr: string }> => {
    const env: Record<string, string> = { PATH: '/usr/bin:/bin', SSH_CONNECTION: '10.0.0.9 50000 10.0.0.2 22' }
    if (presented !== undefined) env.CLUSTERD_LEASE = presented
    if (command !== undefined) env.SSH_ORIGINAL_COMMAND = command
    const r = await execa(GATE, args, { env, extendEnv: false, reject: false })
    return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }
  }
  const logged = async (): Promise<Array<Record<string, unknown>>> => (await readFile(log, 'utf8')).trim().split('\n').map(l => JSON.parse(l))

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gate-'))
    leaseFile = join(dir, 'lease.json')
    log = join(dir, 'log', 'gate.log')
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('runs the command of a session presenting the node\'s live lease, tagged with it, through the shell', async () => {
    const l = lease()
    await writeLeaseFile(leaseFile, l)
    const r = await gate(gateLeaseTag(l), 'echo "$CLUSTERD_LEASE" && echo two words | wc -w')
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, `${gateLeaseTag(l)}\n2`)
    const last = (await logged()).at(-1)
    assert.equal(last?.decision, 'run')
    assert.equal(last?.reason, 'live')
    assert.equal(last?.from, '10.0.0.9')
    assert.equal(last?.lease, gateLeaseTag(l))
  })

  it('passes the command\'s own exit status through', async () => {
    const l = lease()
    await writeLeaseFile(leaseFile, l)
    assert.equal((await gate(gateLeaseTag(l), 'exit 3')).code, 3)
  })

  it('refuses, with exit 77, a message and a log line, every session that does not present the live lease', async () => {
    const l = lease()
    const cases: Array<{ file: Lease | null | 'missing' | 'junk', presented: string | undefined, reason: RegExp }> = [
      { file: l, presented: undefined, reason: /no-lease-presented/ },
      { file: l, presented: '', reason: /no-lease-presented/ },
      { file: l, presented: '5:AB', reason: /malformed/ },
      { file: l, presented: `5:${'ab'.repeat(16)} ; id`, reason: /malformed/ },
      { file: 'missing', presented: gateLeaseTag(l), reason: /no-lease\b/ },
      { file: null, presented: gateLeaseTag(l), reason: /no-lease\b/ },
      { file: 'junk', presented: gateLeaseTag(l), reason: /lease-file-unusable/ },
      { file: l, presented: `4:${l.leaseId}`, reason: /stale-epoch/ },
      { file: l, presented: `5:${'cd'.repeat(16)}`, reason: /other-lease/ },
      { file: l, presented: `6:${l.leaseId}`, reason: /other-lease/ },
      { file: lease({ expiresAt: Date.now() - 1 }), presented: gateLeaseTag(l), reason: /expired/ }
    ]
    for (const c of cases) {
      await rm(leaseFile, { force: true })
      if (c.file === 'junk') await writeFile(leaseFile, '{"version":1,"lease":{"epoch":"5"}}')
      else if (c.file !== 'missing') await writeLeaseFile(leaseFile, c.file)
      const marker = join(dir, 'ran')
      const r = await gate(c.presented, `touch ${marker}`)
      assert.equal(r.code, GATE_REFUSED_EXIT, `${JSON.stringify(c)}: ${r.stderr}`)
      assert.match(r.stderr, /^clusterd-gate: refused \(/)
      assert.match(r.stderr, c.reason)
      await assert.rejects(readFile(marker), 'the refused command ran')
      const last = (await logged()).at(-1)
      assert.equal(last?.decision, 'refused')
      assert.match(String(last?.reason), c.reason)
    }
  })

  it('without arguments, takes its paths from clusterd-gate.json beside it (so the forced command is a constant)', async () => {
    const l = lease()
    await writeLeaseFile(leaseFile, l)
    const installed = join(dir, 'clusterd-gate')
    await copyFile(GATE, installed)
    await chmod(installed, 0o755)
    const otherLog = join(dir, 'other.log')
    await writeFile(`${installed}.json`, JSON.stringify({ leaseFile, log: otherLog }))
    const env = { PATH: '/usr/bin:/bin', CLUSTERD_LEASE: gateLeaseTag(l), SSH_ORIGINAL_COMMAND: 'echo ok' }
    const r = await execa(installed, [], { env, extendEnv: false, reject: false })
    assert.equal(r.exitCode, 0, String(r.stderr))
    assert.equal(r.stdout, 'ok')
    assert.match(await readFile(otherLog, 'utf8'), /"decision":"run"/)
  })

  it('refuses an interactive session even with the live lease, and bad arguments with a usage error', async () => {
    const l = lease()
    await writeLeaseFile(leaseFile, l)
    const r = await gate(gateLeaseTag(l), undefined)
    assert.equal(r.code, GATE_REFUSED_EXIT)
    assert.match(r.stderr, /no-command/)
    assert.equal((await gate(gateLeaseTag(l), 'true', ['--lease-file', 'relative'])).code, 64)
  })
})
