// The web console in Debian's chromium against a real ApiServer with the console's real routes
// whose data routes are scripted, for what real agents cannot be made to send on demand:
// - hostile strings: a member controls the facts it reports (kernel, distro, disks), and task
//   names, job messages and failure reasons come from playbooks and remote hosts. Every field
//   carries markup here; nothing may become an element or run, and each string must appear
//   as written;
// - a refresh that fails: the overview keeps what it showed, says why, and recovers;
// - a job feed that breaks (the stream ends early, then the manager is briefly gone): the job
//   page resumes after the last event seen, as `clusterctl ... --wait` does, showing each
//   event once.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { BrowserContext, Page } from 'playwright-core'
import { ApiServer } from '../../agent/api/server.js'
import { findConsoleDir, loadConsoleFiles } from '../../agent/console/console-files.js'
import { registerConsoleRoutes } from '../../agent/console/console-routes.js'
import { ApiReply } from '../../protocol/api-handler.js'
import { ClusterdError } from '../../protocol/errors.js'
import type { JobRecord } from '../../protocol/jobs.js'
import type { Member } from '../../protocol/members.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import { browserSkipReason, launchChromium } from '../harness/browser.js'

const TOKEN = 'escaping-test-token-0123456789'
/** Markup that would set a flag if it ever ran, and an element that must never exist. */
const EVIL = '<img src=x onerror="window.__pwned=1"><i class="pwned">x</i>'
const skip = browserSkipReason()

describe('web console against a scripted API, in a real browser', { skip }, () => {
  let dir: string
  let server: ApiServer
  let browser: BrowserContext
  let base: string
  /** The `after` of each request for job j2's feed ('' when absent). */
  const feedRequests: string[] = []
  /** While true, `GET /v1/members` fails as an agent that is restarting would. */
  let membersDown = false
  const now = new Date().toISOString()
  const node: NodeRecord = {
    name: 'n1', peerId: '12D3KooWEvil', state: 'commission-failed', roles: [`web${EVIL}`], vars: {}, reachable: true,
    currentJob: null, lastJob: 'j1', reason: `failed: ${EVIL}`, since: now, discoveredAt: now, updatedAt: now, boot: null,
    drift: { checkedAt: now, jobId: 'j1', changed: 1, tasks: [`task ${EVIL}`] }, nameConflicts: [], revision: null, agentVersion: null, cordoned: false, labels: {}
  }
  const member: Member = {
    name: 'n1', peerId: node.peerId, addresses: [`/ip4/10.0.0.1/tcp/7946${EVIL}`], status: 'alive', incarnation: 1,
    labels: { rack: 'r1' }, facts: null, boot: null, managerEligible: true, lastSeen: now
  }
  const job: JobRecord = {
    id: 'j1', kind: 'commission', nodes: ['n1'], roles: ['web'], vars: {}, status: 'failed', createdAt: now, startedAt: now,
    finishedAt: now, timeoutAt: now, reason: `boom ${EVIL}`, epoch: 3,
    perNode: { n1: { outcome: 'failed', step: `playbook${EVIL}`, task: `task ${EVIL}`, ok: 1, changed: 0, failed: 1, message: `msg ${EVIL}` } }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'console-escaping-'))
    server = new ApiServer({ logger: pino({ level: 'silent' }) }, { socketPath: join(dir, 'api.sock'), tcp: { host: '127.0.0.1', port: 0, token: TOKEN } })
    server.route('GET', '/v1/members', async () => {
      if (membersDown) throw new ClusterdError('CLUSTERD_ERR_UNAVAILABLE', 'the agent is restarting')
      return [member]
    })
    server.route('GET', '/v1/manager', async () => ({ name: 'n1', peerId: node.peerId, epoch: 3, since: now, local: true }))
    server.route('GET', '/v1/nodes', async () => ({ items: [node], next: null }))
    server.route('GET', '/v1/nodes/:name', async () => ({
      node,
      member,
      facts: {
        hostname: `h${EVIL}`, addresses: [EVIL], os: { platform: 'linux', release: EVIL, distro: EVIL }, kernel: EVIL, arch: EVIL, cpus: 2,
        memoryBytes: 1024, disks: [{ mount: EVIL, sizeBytes: 1, freeBytes: 1 }], agentVersion: EVIL, sshHostKeys: [{ type: EVIL, key: 'k' }]
      },
      events: [{ seq: 1, gseq: 1, node: 'n1', at: now, type: 'job-failed', from: 'commissioning', to: 'commission-failed', reason: EVIL, jobId: 'j1', actor: EVIL }]
    }))
    server.route('GET', '/v1/jobs', async () => [job])
    server.route('GET', '/v1/jobs/:id/events', async () => (async function * () {
      yield { type: 'event', event: { jobId: 'j1', seq: 1, at: now, node: 'n1', kind: 'task-failed', task: EVIL, message: EVIL } }
      yield { type: 'job', job }
    })())
    // Job j2's feed: events 1-2, then the stream ends while the job runs; the next request
    // (after=2) finds no manager; the one after that (after=2) gets event 3 and the end.
    server.route('GET', '/v1/jobs/j2', async () => ({ ...job, id: 'j2', status: 'running' }))
    server.route('GET', '/v1/jobs/j2/events', async ({ query }) => {
      feedRequests.push(query.after ?? '')
      const running: JobRecord = { ...job, id: 'j2', status: 'running', reason: null, perNode: { n1: { outcome: 'running', ok: 1, changed: 0, failed: 0 } } }
      const event = (seq: number): unknown => ({ type: 'event', event: { jobId: 'j2', seq, at: now, node: 'n1', kind: 'log', message: `line ${seq}` } })
      if (feedRequests.length === 1) return (async function * () { yield event(1); yield event(2); yield { type: 'job', job: running } })()
      if (feedRequests.length === 2) throw new ClusterdError('CLUSTERD_ERR_NO_MANAGER', 'no manager is elected yet')
      return (async function * () {
        // A server that resends what the page already has must not make it show twice.
        yield event(2)
        yield event(3)
        yield { type: 'job', job: { ...running, status: 'succeeded', perNode: { n1: { outcome: 'ok', ok: 3, changed: 1, failed: 0 } } } }
      })()
    })
    server.route('POST', '/v1/verify', async () => new ApiReply(409, { error: { code: 'CLUSTERD_ERR_CONFLICT', message: EVIL } }))
    const files = findConsoleDir()
    assert.ok(files !== null, 'dist/ui is missing: npm run build')
    registerConsoleRoutes(server, await loadConsoleFiles(files))
    await server.start()
    base = `http://127.0.0.1:${server.tcpAddress()?.port ?? 0}`
    browser = await launchChromium(join(dir, 'profile'))
  })

  after(async () => {
    await browser?.close().catch(() => {})
    await server?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  const clean = async (page: Page, where: string): Promise<void> => {
    assert.equal(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned), undefined, `${where}: injected code ran`)
    assert.equal(await page.locator('.pwned, main img').count(), 0, `${where}: injected markup became elements`)
    assert.ok((await page.locator('main').innerText()).includes(EVIL), `${where}: the string is shown as written`)
  }

  it('no page turns API strings into elements or code', async () => {
    const page = await browser.newPage()
    await page.goto(`${base}/ui`)
    await page.fill('#token', TOKEN)
    await page.click('#signin button[type=submit]')
    await page.waitForSelector('main[data-loaded=overview]')
    await clean(page, 'overview')
    await page.goto(`${base}/ui#/nodes/n1`)
    await page.waitForSelector('main[data-loaded=node]')
    await clean(page, 'node page')
    await page.click('#act-verify')
    await page.click('#confirm-yes')
    await page.waitForSelector('#confirm .error')
    assert.ok((await page.locator('#confirm .error').innerText()).includes(EVIL))
    await clean(page, 'refused action')
    await page.goto(`${base}/ui#/jobs`)
    await page.waitForSelector('main[data-loaded=jobs]')
    await clean(page, 'jobs')
    await page.goto(`${base}/ui#/jobs/j1`)
    await page.waitForSelector('main[data-loaded=job]')
    await page.locator('#job-feed', { hasText: /^finished/ }).waitFor({ timeout: 30_000 })
    await clean(page, 'job page')
    await page.close()
  })

  it('the job page resumes a broken feed after the last event seen and shows each event once', async () => {
    const page = await browser.newPage()
    await page.goto(`${base}/ui`)
    await page.fill('#token', TOKEN)
    await page.click('#signin button[type=submit]')
    await page.waitForSelector('main[data-loaded=overview]')
    await page.goto(`${base}/ui#/jobs/j2`)
    await page.waitForSelector('main[data-loaded=job]')
    await page.locator('#job-feed', { hasText: /^finished/ }).waitFor({ timeout: 30_000 })
    assert.deepEqual(feedRequests, ['', '2', '2'])
    assert.deepEqual(await page.locator('#job-log li').allInnerTexts().then(xs => xs.map(x => x.replace(/^.*log: /, ''))), ['line 1', 'line 2', 'line 3'])
    assert.equal(await page.locator('#job-status').innerText(), 'succeeded')
    assert.match(await page.locator('#progress tbody tr').innerText(), /n1\s+ok/)
    await page.close()
  })

  it('a failed refresh keeps the overview, shows why above it, and clears once the agent answers', async () => {
    const page = await browser.newPage()
    await page.goto(`${base}/ui`)
    await page.fill('#token', TOKEN)
    await page.click('#signin button[type=submit]')
    await page.waitForSelector('main[data-loaded=overview]')
    membersDown = true
    await page.locator('main > .stale', { hasText: 'CLUSTERD_ERR_UNAVAILABLE' }).waitFor({ timeout: 15_000 })
    assert.equal(await page.locator('#nodes tbody tr').count(), 1, 'the last good overview stays')
    membersDown = false
    await page.locator('main > .stale').waitFor({ state: 'detached', timeout: 15_000 })
    assert.equal(await page.locator('#members tbody tr').count(), 1)
    await page.close()
  })
})
