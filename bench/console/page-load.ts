/**
 * Benchmark: the web console's page load time with 1,000 nodes in the manager store.
 *
 *   npm run bench:console -- [--nodes 1000] [--loads 20]
 *
 * A manager store is filled directly (bench/api/populate.ts), a real eligible agent opens it on
 * 127.0.0.1 with its API on TCP (bearer token, as an operator's browser reaches it), and
 * Debian's chromium (test/harness/browser.ts) signs in once and then loads each page `loads`
 * times. Measured per load, by the page itself: from navigation start to the page drawn with
 * its data (`performance.mark` in overview.js and node.js): the overview (every node in one
 * table, members, manager), and one node's page. Also the bytes the overview fetched. Progress
 * on stderr; stdout gets one JSON summary line.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Page } from 'playwright-core'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import { makeSecret, testDir } from '../../test/harness/agent-process.js'
import { launchChromium } from '../../test/harness/browser.js'
import { waitFor } from '../../test/harness/poll.js'
import { runOk } from '../../test/harness/proc.js'
import { QUIET_BUSY_FRACTION, QUIET_MAX_WAIT_MS } from '../commission/constants.js'
import { waitQuiet } from '../commission/machine-load.js'
import { machineInfo, progress, summarize } from '../commission/stats.js'
import { READY_TIMEOUT_MS } from '../api/constants.js'
import { freePort, LoopbackAgent } from '../api/loopback-agent.js'
import { benchNodeName, populateStore } from '../api/populate.js'
import { benchArgs, benchUsageError } from '../bench-args.js'

const { values } = benchArgs({ options: { nodes: { type: 'string', default: '1000' }, loads: { type: 'string', default: '20' } } })
const nodeCount = Number(values.nodes)
const loads = Number(values.loads)
if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 100_000) benchUsageError('--nodes: an integer in 1..100000')
if (!Number.isInteger(loads) || loads < 1 || loads > 1000) benchUsageError('--loads: an integer in 1..1000')

const TOKEN = 'bench-console-token-' + 'x'.repeat(20)
const machine = machineInfo()
const say = progress('bench:console', Date.now())

/** Load `url` `loads` times (after one warm-up); each time, ms from navigation to `mark`. */
async function timeLoads (page: Page, url: string, mark: string, selector: string): Promise<number[]> {
  const xs: number[] = []
  for (let i = 0; i <= loads; i++) {
    await page.goto('about:blank')
    await page.goto(url)
    await page.waitForSelector(selector, { timeout: 60_000 })
    const ms = await page.evaluate((name) => performance.getEntriesByName(name)[0]?.startTime ?? -1, mark)
    if (ms < 0) throw new Error(`${url}: no ${mark} mark`)
    if (i > 0) xs.push(ms)
  }
  return xs
}

const dir = await testDir('bench-console')
let agent: LoopbackAgent | null = null
try {
  say(`machine: ${JSON.stringify(machine)}`)
  const secretFile = await makeSecret(dir)
  const sshKey = join(dir, 'manager_ed25519')
  await runOk(['/usr/bin/ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'clusterd-bench-console', '-f', sshKey])
  const tokenFile = join(dir, 'api-token')
  await writeFile(tokenFile, TOKEN + '\n', { mode: 0o600 })
  const dataDir = join(dir, 'mgr')
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const populated = await populateStore(join(dataDir, 'manager'), nodeCount)
  say(`store: ${JSON.stringify(populated)}`)
  const apiPort = await freePort()
  const a = await LoopbackAgent.start({
    name: 'bench', dataDir, secretFile, socket: join(dir, 'm.sock'), eligible: true, sshKeyFile: sshKey,
    extraArgs: ['--api-listen', `127.0.0.1:${apiPort}`, '--api-token-file', tokenFile]
  })
  agent = a
  await waitFor(async () => (await a.client.request<ManagerInfo>('GET', '/v1/manager'))?.name === 'bench' ? true : undefined,
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 100, message: () => `the agent becoming manager:\n${a.output.slice(-2000)}` })
  await waitFor(async () => (await a.client.request<NodeRecord[]>('GET', '/v1/nodes')).length >= nodeCount ? true : undefined,
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 100, message: 'the manager listing every record' })

  const browser = await launchChromium(join(dir, 'chromium-profile'))
  try {
    const page = await browser.newPage()
    const base = `http://127.0.0.1:${apiPort}`
    await page.goto(`${base}/ui`)
    await page.waitForSelector('#token')
    await page.fill('#token', TOKEN)
    await page.click('#signin button[type=submit]')
    await page.waitForSelector('main[data-loaded=overview]', { timeout: 60_000 })
    const rows = await page.locator('#nodes tbody tr').count()
    if (rows < nodeCount) throw new Error(`the overview shows ${rows} node rows, expected ${nodeCount}`)
    const quiet = await waitQuiet(QUIET_BUSY_FRACTION, QUIET_MAX_WAIT_MS, [a.proc.pid as number])
    say(`other processes kept the CPUs ${Math.round(quiet.busy * 100)}% busy (waited ${quiet.waitedMs} ms)`)
    const t0 = performance.now()
    const overview = summarize(await timeLoads(page, `${base}/ui#/`, 'clusterd:overview', 'main[data-loaded=overview]'))
    say(`overview: ${JSON.stringify(overview)}`)
    const node = summarize(await timeLoads(page, `${base}/ui#/nodes/${benchNodeName(Math.floor(nodeCount / 2))}`, 'clusterd:node', 'main[data-loaded=node]'))
    say(`node page: ${JSON.stringify(node)}`)
    const fetched = await page.evaluate(async () => {
      const headers = { authorization: `Bearer ${sessionStorage.getItem('clusterd.api-token') ?? ''}` }
      const sizes = await Promise.all(['/v1/members?facts=cached', '/v1/manager', '/v1/nodes?limit=5000'].map(async p => (await (await fetch(p, { headers })).arrayBuffer()).byteLength))
      return sizes.reduce((x, y) => x + y, 0)
    })
    process.stdout.write(JSON.stringify({
      bench: 'console-page-load',
      machine,
      loadavg1AtEnd: machineInfo().loadavg1,
      nodes: nodeCount,
      store: populated,
      loads,
      overviewMs: overview,
      nodePageMs: node,
      overviewBytes: fetched,
      busyBefore: quiet.busy,
      wallMs: Math.round(performance.now() - t0)
    }) + '\n')
  } finally {
    await browser.close()
  }
} finally {
  await agent?.stop()
  await rm(dir, { recursive: true, force: true })
}
