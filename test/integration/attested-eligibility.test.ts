// Manager eligibility attested by the cluster SSH CA, on real hosts (issue 11, hostile members):
// separate agent processes in network-namespace hosts, every one given the CA's public key
// (--ssh-ca-pub-file), the two eligible ones also the CA key. A worker restarted as eligible
// without the CA key refuses to start with a clear error. An impostor holding the cluster
// secret that claims eligibility with a self-made CA (its own key and .pub, so it attests
// itself and claims the manager role in its own view) is listed as not eligible by the others,
// its manager claims are refused, it is never named manager, not even when the real manager
// is killed, and a replica refuses its replication stream before reading it.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { runOk } from '../harness/proc.js'
import { AgentProcess, NODE, PORT, REPO } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'

const HOSTILE = join(REPO, 'dist/test/integration/hostile-peer.js')

describe('manager eligibility attested by the cluster SSH CA on real hosts', { timeout: 10 * 60_000 }, () => {
  let fleet: AgentFleet
  let ca: string
  let fakeCa: string
  const h = (i: number): TestHost => fleet.host(i)
  let real: AgentProcess[] = []
  let worker: AgentProcess
  let impostor: AgentProcess
  let impostorPeer = ''

  const start = async (i: number, eligible: boolean, args: string[]): Promise<AgentProcess> => await fleet.start(i, { eligible, extraArgs: args })
  const withCa = (key: boolean, caPath = ca): string[] => ['--ssh-ca-pub-file', `${caPath}.pub`, ...(key ? ['--ssh-ca-key-file', caPath] : [])]
  const eligibleIn = async (a: AgentProcess): Promise<Record<string, boolean> | null> => {
    const ms = await a.members()
    return ms === null ? null : Object.fromEntries(ms.map(m => [m.name, m.managerEligible]))
  }

  before(async () => {
    fleet = await AgentFleet.create({ suite: 'attested-eligibility', prefix: 'att', count: 4, seeds: i => i === 0 ? [] : [0, 1] })
    ca = join(fleet.dir, 'ssh-ca')
    fakeCa = join(fleet.dir, 'fake-ca')
    // As scripts/cluster-trust.sh makes the CA; the impostor makes its own the same way.
    await runOk(['/usr/bin/ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'clusterd-ssh-ca', '-f', ca])
    await runOk(['/usr/bin/ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'clusterd-ssh-ca', '-f', fakeCa])
    real = [await start(0, true, withCa(true)), await start(1, true, withCa(true))]
    worker = await start(2, false, withCa(false))
    await fleet.waitForFormed()
    await fleet.waitForManager({ among: [...real, worker] })
  })

  after(async () => {
    await fleet?.close()
  })

  it('attested eligible agents and a worker: everyone sees the same eligibility, a real one manages', async () => {
    for (const a of [...real, worker]) {
      assert.deepEqual(await eligibleIn(a), { [h(0).name]: true, [h(1).name]: true, [h(2).name]: false }, `${a.host.name}'s view`)
    }
    const m = await worker.manager()
    assert.ok(m !== null && [h(0).name, h(1).name].includes(m.name))
  })

  it('a worker started eligible without the CA key refuses to start, saying why', async () => {
    const a = await start(3, true, withCa(false))
    const code = await waitFor(async () => a.proc.exitCode ?? undefined, { timeoutMs: 30_000, message: () => `the agent did not exit:\n${a.output.slice(-2000)}` })
    assert.equal(code, 2)
    assert.match(a.output, /must attest its eligibility with the cluster SSH CA key: give --ssh-ca-key-file FILE .*or start it with --manager-eligible false \(CLUSTERD_ERR_INVALID_CONFIG\)/)
    assert.equal((await real[0]?.members())?.some(x => x.name === h(3).name), false, 'it never joined')
  })

  it('an impostor attesting itself with a self-made CA is not eligible, its claims are refused, it never becomes manager', async () => {
    impostor = await start(3, true, withCa(true, fakeCa))
    for (const a of [...real, worker]) {
      await waitFor(async () => { const e = await eligibleIn(a); return e !== null && e[h(3).name] === false ? true : undefined },
        { timeoutMs: 60_000, message: () => `${a.host.name} lists the impostor as not eligible:\n${a.output.slice(-2000)}` })
    }
    impostorPeer = (await real[0]?.members())?.find(x => x.name === h(3).name)?.peerId ?? ''
    assert.ok(impostorPeer !== '')
    // In its own view (its CA) only it is eligible: it claims the role, and the cluster refuses the claim.
    await waitFor(async () => (await impostor.manager())?.local === true ? true : undefined,
      { timeoutMs: 30_000, message: () => `the impostor claimed the role in its own view:\n${impostor.output.slice(-2000)}` })
    for (const a of real) {
      await waitFor(async () => /claims manager eligibility without a valid attestation/.test(a.output) ? true : undefined, { timeoutMs: 10_000, message: `${a.host.name} logs the refusal` })
      assert.equal(a.output.split('\n').filter(l => l.includes('without a valid attestation') && l.includes(impostorPeer)).length, 1, 'logged once per peer')
    }
  })

  it('a replica refuses the impostor\'s replication stream before reading it', async () => {
    const m = await real[0]?.manager()
    const replica = real.find(a => a.host.name !== m?.name) as AgentProcess
    const peer = (await replica.members())?.find(x => x.name === replica.host.name)?.peerId ?? ''
    const r = await h(3).exec([NODE, HOSTILE, '--secret', fleet.secret, '--identity-dir', '/var/lib/clusterd', '--listen', h(3).address,
      '--target', `/ip4/${replica.host.address}/tcp/${PORT}/p2p/${peer}`, '--protocol', 'replicate', '--streams', '1', '--bytes', '4096', '--valid-json'], { timeoutMs: 120_000 })
    assert.equal(r.code, 0, r.stderr.slice(-2000))
    const result = (JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as { results: Array<{ ended: string, reply?: string }> }).results[0]
    assert.ok(result !== undefined && (result.ended === 'reply' || result.ended === 'reset'), JSON.stringify(result))
    if (result.reply !== undefined) assert.match(result.reply, /not the current manager/)
    // Were the impostor counted eligible, its frame would be read (within the other senders' budget).
    await waitFor(async () => /refused a replication stream before reading it/.test(replica.output) ? true : undefined, { timeoutMs: 5000, message: 'the replica logs the refusal' })
  })

  it('the real manager dies: the other eligible agent takes over, the impostor is never named', async () => {
    const before = await real[0]?.manager()
    assert.ok(before !== null && before !== undefined && before.peerId !== impostorPeer)
    const victim = before.name === h(0).name ? real[0] as AgentProcess : real[1] as AgentProcess
    const survivor = victim === real[0] ? real[1] as AgentProcess : real[0] as AgentProcess
    await victim.stop('SIGKILL')
    let samples = 0
    const seenImpostor: string[] = []
    await waitFor(async () => {
      const views = await Promise.all([survivor, worker].map(async a => await a.manager()))
      samples++
      for (const v of views) if (v?.peerId === impostorPeer) seenImpostor.push(JSON.stringify(v))
      return views.every(v => v?.name === survivor.host.name) ? true : undefined
    }, { timeoutMs: 60_000, intervalMs: 200, message: () => `the survivor took over:\n${survivor.output.slice(-3000)}` })
    // Keep watching a while longer: the impostor keeps its claim alive in its own view.
    const until = Date.now() + 5000
    while (Date.now() < until) {
      for (const a of [survivor, worker]) { const v = await a.manager(); samples++; if (v?.peerId === impostorPeer) seenImpostor.push(JSON.stringify(v)) }
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    assert.deepEqual(seenImpostor, [], `the impostor was named manager in ${seenImpostor.length} of ${samples} samples`)
    assert.equal((await eligibleIn(survivor))?.[h(3).name], false)
    console.log(`failover with an impostor present: ${samples} samples of /v1/manager, impostor named in none`)
  })
})
