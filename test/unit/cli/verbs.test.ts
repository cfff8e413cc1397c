/**
 * Every manager verb run as the real clusterctl process against a fake manager on a real
 * ApiServer: the request each verb sends (method, route, body, query), its output formats,
 * and its exit codes (0 ok, 2 usage, 4/5 agent errors, 7 a waited-for job failed).
 */

import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parse as parseYaml } from 'yaml'
import { DB1, EVENTS, FAILED_JOB, LEASE, MANAGER, NEW_PEER, NODES, startManagerFixture, type ManagerFixture } from './manager-fixture.js'

const MAIN = fileURLToPath(new URL('../../../cli/main.js', import.meta.url))

interface Run { code: number, stdout: string, stderr: string }

describe('clusterctl manager verbs (process)', () => {
  let fx: ManagerFixture

  /** Run clusterctl against the fixture, asynchronously (the in-process server must keep answering). */
  async function clusterctl (...args: string[]): Promise<Run> {
    return await new Promise(resolve => {
      execFile(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', CLUSTERCTL_ADDR: fx.socketPath }, timeout: 20_000 }, (err, stdout, stderr) => {
        resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
      })
    })
  }

  function ok (run: Run): Run {
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stderr, '')
    return run
  }

  function oneLine (run: Run): string {
    assert.equal(run.stderr.split('\n').filter(l => l !== '').length, 1, `one stderr line, got: ${run.stderr}`)
    assert.ok(!run.stderr.includes('    at '), 'no stack trace')
    return run.stderr.trimEnd()
  }

  before(async () => { fx = await startManagerFixture() })
  after(async () => { await fx.close() })

  it('lease: the local agent\'s fencing state as fields, json and yaml', async () => {
    const [table, json] = await Promise.all([clusterctl('lease'), clusterctl('lease', '-o', 'json')])
    assert.match(ok(table).stdout, /^highest epoch: +4\n/)
    assert.match(table.stdout, /holder: +12D3KooWA\n/)
    assert.deepEqual(JSON.parse(ok(json).stdout), LEASE)
  })

  it('reads: manager, nodes, node show, jobs, job show, job logs, events, config get: table, json, yaml', async () => {
    const [managerJson, nodesTable, nodesJson, nodesYaml, nodeTable, nodeJson, jobsJson, jobTable, logs, follow, eventsJson, configYaml, configKey] = await Promise.all([
      clusterctl('manager', '-o', 'json'),
      clusterctl('nodes'),
      clusterctl('nodes', '-o', 'json'),
      clusterctl('nodes', '-o', 'yaml'),
      clusterctl('node', 'show', 'db1'),
      clusterctl('node', 'show', 'db1', '--output', 'json'),
      clusterctl('jobs', '--status', 'failed', '--node', 'web2', '-o', 'json'),
      clusterctl('job', 'show', FAILED_JOB.id),
      clusterctl('job', 'logs', FAILED_JOB.id),
      clusterctl('job', 'logs', FAILED_JOB.id, '--follow', '-o', 'json'),
      clusterctl('events', '--node', 'db1', '--limit', '5', '-o', 'json'),
      clusterctl('config', 'get', '-o', 'yaml'),
      clusterctl('config', 'get', 'on-return')
    ].map(async p => ok(await p)))
    assert.deepEqual(JSON.parse(managerJson?.stdout ?? ''), MANAGER)
    assert.match(nodesTable?.stdout ?? '', /^NAME\s+STATE\s+ROLES\s+REACHABLE\s+DRIFT\s+LAST-JOB\s+SINCE\ndb1\s+commissioned\s+base,storage\s+yes\s+1 task\s+j-20261122-1\s+\S+ ago\n/)
    assert.deepEqual(JSON.parse(nodesJson?.stdout ?? ''), NODES)
    assert.deepEqual(parseYaml(nodesYaml?.stdout ?? ''), NODES)
    assert.match(nodeTable?.stdout ?? '', /^NAME: {9}db1\n[\s\S]*\nFacts:\n {2}OS: {9}Debian[\s\S]*\nRecent events:\n {2}SEQ /)
    assert.deepEqual(JSON.parse(nodeJson?.stdout ?? ''), DB1)
    assert.deepEqual(JSON.parse(jobsJson?.stdout ?? ''), [FAILED_JOB])
    assert.match(jobTable?.stdout ?? '', /^ID: {8}j-20261122-2\n[\s\S]*\n\nNODE\s+OUTCOME\s+STEP\s+TASK\s+OK\s+CHANGED\s+FAILED\s+MESSAGE\nweb2\s+failed\s+playbook/)
    assert.equal(logs?.stdout.split('\n').length, 4)
    assert.equal(follow?.stdout.trimEnd().split('\n').map(l => JSON.parse(l).seq).join(','), '1,2,3')
    assert.deepEqual(JSON.parse(eventsJson?.stdout ?? ''), EVENTS)
    assert.deepEqual(parseYaml(configYaml?.stdout ?? ''), { 'on-return': 'reconfigure', vars: { ntp_server: '10.0.0.9' } })
    assert.equal(configKey?.stdout, 'KEY         VALUE\non-return   reconfigure\n')

    const seen = (route: string): unknown[] => fx.requestsTo(route).map(r => [r.method, r.params, r.query])
    assert.deepEqual(seen('manager'), [['GET', {}, {}]])
    assert.deepEqual(seen('showNode'), [['GET', { name: 'db1' }, {}], ['GET', { name: 'db1' }, {}]])
    assert.deepEqual(seen('listJobs'), [['GET', {}, { status: 'failed', node: 'web2' }]])
    assert.deepEqual(seen('jobEvents').map(r => JSON.stringify(r)).sort(), [['GET', { id: FAILED_JOB.id }, {}], ['GET', { id: FAILED_JOB.id }, { follow: '1' }]].map(r => JSON.stringify(r)).sort())
    assert.deepEqual(seen('listEvents'), [['GET', {}, { node: 'db1', limit: '5' }]])
    assert.deepEqual(seen('getConfigKey'), [['GET', { key: 'on-return' }, {}]])
  })

  it('writes: commission, decommission --yes, upgrade --all, job cancel, config set send their bodies', async () => {
    const varsFile = join(fx.dir, 'vars.yaml')
    await writeFile(varsFile, 'ntp: "10.0.0.1"\nmotd: from file\n')
    const runs = await Promise.all([
      clusterctl('commission', 'web1', 'web3', '--role', 'worker', '--role', 'base', '--var', 'motd=from flag', '--vars-file', varsFile),
      clusterctl('decommission', 'web4', '--yes'),
      clusterctl('upgrade', '--all', '--var', 'channel=stable'),
      clusterctl('config', 'set', 'max-parallel-jobs', '8')
    ])
    for (const run of runs) ok(run)
    assert.equal(runs[0]?.stdout, 'job commission-ok queued: commission of web1, web3 (roles: worker, base)\nfollow it with: clusterctl job logs commission-ok --follow\n')
    assert.equal(runs[3]?.stdout, 'max-parallel-jobs = 8\n')
    const cancel = ok(await clusterctl('job', 'cancel', 'commission-ok'))
    assert.equal(cancel.stdout, 'job commission-ok cancelled: cancelled: by operator\n')
    const body = (route: string): unknown[] => fx.requestsTo(route).map(r => [r.method, r.params, r.body])
    assert.deepEqual(body('commission'), [['POST', {}, { nodes: ['web1', 'web3'], roles: ['worker', 'base'], vars: { ntp: '10.0.0.1', motd: 'from flag' }, allDiscovered: false }]])
    assert.deepEqual(body('decommission'), [['POST', {}, { nodes: ['web4'] }]])
    assert.deepEqual(body('upgrade'), [['POST', {}, { nodes: [], all: true, vars: { channel: 'stable' } }]])
    assert.deepEqual(body('cancelJob'), [['POST', { id: 'commission-ok' }, undefined]])
    assert.deepEqual(body('setConfigKey'), [['PUT', { key: 'max-parallel-jobs' }, { value: '8' }]])
  })

  it('--wait: exit 0 with a summary when every node is ok; exit 7 with the summary and one error line when not', async () => {
    const [good, bad] = await Promise.all([
      clusterctl('commission', 'web1', 'web3', '--role', 'worker', '--wait'),
      clusterctl('upgrade', 'web1', 'bad1', '--wait')
    ])
    ok(good)
    assert.match(good.stdout, /^job commission-ok queued: commission of web1, web3 \(roles: worker\)\n/)
    assert.match(good.stdout, /web1 {10}task-changed {2}Install packages\n/, 'progress lines when stdout is not a terminal')
    assert.doesNotMatch(good.stdout, /\u001b\[/, 'no cursor movement when stdout is not a terminal')
    assert.match(good.stdout, /\n\nNODE   OUTCOME   OK   CHANGED   FAILED   MESSAGE\nweb1   ok        3    1         0        -\nweb3   ok        3    1         0        -\n$/)
    assert.equal(bad.code, 7)
    assert.match(bad.stdout, /\nNODE   OUTCOME   OK   CHANGED   FAILED   MESSAGE\nweb1   ok        3    1         0        -\nbad1   failed    1    0         1        task Install packages failed\n$/)
    assert.equal(oneLine(bad), 'clusterctl: job upgrade-fail failed: 1 of 2 node(s) failed: bad1 (task Install packages failed)')
  })

  it('refuses locally with exit 2 and sends nothing: decommission without --yes and no terminal, bad --var, bad flags', async () => {
    const before = fx.requests.length
    const runs = await Promise.all([
      clusterctl('decommission', 'web1'),
      clusterctl('commission', 'web1', '--role', 'worker', '--var', 'novalue'),
      clusterctl('commission', 'web1'),
      clusterctl('jobs', '--status', 'done'),
      clusterctl('config', 'set', 'colour', 'blue')
    ])
    const [decom, badVar, noRole, badStatus, badKey] = runs.map(run => {
      assert.equal(run.code, 2, run.stderr)
      assert.equal(run.stdout, '')
      return oneLine(run)
    })
    assert.equal(decom, 'clusterctl: refusing to decommission web1 without confirmation: stdin is not a terminal; pass --yes')
    assert.equal(badVar, 'clusterctl: --var: expected NAME=VALUE (e.g. --var ntp_server=10.0.0.1); got "novalue"')
    assert.match(noRole ?? '', /^clusterctl: required option '--role <role>' not specified$/)
    assert.match(badStatus ?? '', /argument 'done' is invalid\. Allowed choices are queued, running, succeeded, failed, cancelled, paused\.$/)
    assert.match(badKey ?? '', /^clusterctl: unknown config key "colour"/)
    assert.equal(fx.requests.length, before, 'no request reached the manager')
  })

  it('errors from the manager are one line with their code and exit code', async () => {
    const [missingNode, missingJob, finished, busy] = await Promise.all([
      clusterctl('node', 'show', 'ghost'),
      clusterctl('job', 'show', 'nope'),
      clusterctl('job', 'cancel', FAILED_JOB.id),
      clusterctl('commission', 'busy1', '--role', 'worker')
    ])
    assert.equal(missingNode.code, 4)
    assert.equal(oneLine(missingNode), 'clusterctl: no node named ghost (CLUSTERD_ERR_NODE_NOT_FOUND)')
    assert.equal(missingJob.code, 4)
    assert.equal(oneLine(missingJob), 'clusterctl: no job with id nope (CLUSTERD_ERR_JOB_NOT_FOUND)')
    assert.equal(finished.code, 5)
    assert.equal(oneLine(finished), `clusterctl: job ${FAILED_JOB.id} already failed (CLUSTERD_ERR_JOB_FINISHED)`)
    assert.equal(busy.code, 5)
    assert.equal(oneLine(busy), 'clusterctl: node busy1 is already in job j-1; wait for it or cancel it (CLUSTERD_ERR_NODE_BUSY)')
  })

  it('node rebind and node forget: their bodies, output, confirmation and refusals', async () => {
    const before = fx.requests.length
    const local = await Promise.all([
      clusterctl('node', 'rebind', 'db1'),
      clusterctl('node', 'rebind', 'db1', '--peer', 'not-a-peer-id'),
      clusterctl('node', 'forget', 'db1')
    ])
    assert.deepEqual(local.map(r => r.code), [2, 2, 2])
    assert.match(local[1]?.stderr ?? '', /--peer: "not-a-peer-id" is not a peer id/)
    assert.equal(oneLine(local[2] as Run), 'clusterctl: refusing to forget db1 without confirmation: stdin is not a terminal; pass --yes')
    assert.equal(fx.requests.length, before, 'nothing was sent')

    const [moved, unknownPeer, reachable, forced, gone] = await Promise.all([
      clusterctl('node', 'rebind', 'db1', '--peer', NEW_PEER),
      clusterctl('node', 'rebind', 'db1', '--peer', 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'),
      clusterctl('node', 'forget', 'db1', '--yes'),
      clusterctl('node', 'forget', 'db1', '--yes', '--force'),
      clusterctl('node', 'forget', 'web2', '-y')
    ])
    assert.equal(ok(moved).stdout, 'node db1: name moved from peer 12D3KooWA to peer 12D3KooWNewMachineAfterReinstaWWWWWWWWWWWWWWWWWWWWWW (event 12)\n')
    assert.equal(unknownPeer.code, 5)
    assert.match(oneLine(unknownPeer), /\(CLUSTERD_ERR_PEER_NOT_CLAIMING\)$/)
    assert.equal(reachable.code, 5)
    assert.equal(oneLine(reachable), 'clusterctl: node db1 is reachable (CLUSTERD_ERR_NODE_REACHABLE)')
    assert.equal(ok(forced).stdout, 'node db1 forgotten (was commissioned, peer 12D3KooWA); its history stays: clusterctl events --node db1\n')
    assert.equal(ok(gone).stdout, 'node web2 forgotten (was commission-failed, peer 12D3KooWB); its history stays: clusterctl events --node web2\n')
    const body = (route: string): unknown[] => fx.requestsTo(route).map(r => [r.method, r.params, r.body]).sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)
    assert.deepEqual(body('rebindNode'), [
      ['POST', { name: 'db1' }, { peerId: '12D3KooWNewMachineAfterReinstaWWWWWWWWWWWWWWWWWWWWWW' }],
      ['POST', { name: 'db1' }, { peerId: 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N' }]
    ])
    assert.deepEqual(body('forgetNode'), [['POST', { name: 'db1' }, { force: true }], ['POST', { name: 'db1' }, {}], ['POST', { name: 'web2' }, {}]])
  })

  it('node show lists the peers refused its name', async () => {
    const shown = ok(await clusterctl('node', 'show', 'db1'))
    assert.match(shown.stdout, /\nCONFLICTS: +12D3KooWX \(since 2026-11-22T10:02:00\.000Z\) refused; clusterctl node rebind or forget decides\n/)
  })
})
