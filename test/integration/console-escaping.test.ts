// The web console shows hostile strings as text: a member controls the facts it reports
// (kernel, distro, disks), and task names, job messages and failure reasons come from
// playbooks and remote hosts. A real ApiServer with the console's real routes answers with
// such strings (scripted, so every field can carry markup); Debian's chromium loads each page.
// Nothing may become an element or run, and the strings must appear as written.

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
import type { JobRecord } from '../../protocol/jobs.js'
import type { Member } from '../../protocol/members.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import { browserSkipReason, launchChromium } from '../harness/browser.js'

const TOKEN = 'escaping-test-token-0123456789'
/** Markup that would set a flag if it ever ran, and an element that must never exist. */
const EVIL = '<img src=x onerror="window.__pwned=1"><i class="pwned">x</i>'
const skip = browserSkipReason()

describe('web console escaping in a real browser', { skip }, () => {
  let dir: string
  let server: ApiServer
  let browser: BrowserContext
  let base: string
  const now = new Date().toISOString()
  const node: NodeRecord = {
    name: 'n1', peerId: '12D3KooWEvil', state: 'commission-failed', roles: [`web${EVIL}`], vars: {}, reachable: true,
    currentJob: null, lastJob: 'j1', reason: `failed: ${EVIL}`, since: now, discoveredAt: now, updatedAt: now, boot: null,
    drift: { checkedAt: now, jobId: 'j1', changed: 1, tasks: [`task ${EVIL}`] }, nameConflicts: []
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
    server.route('GET', '/v1/members', async () => [member])
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
    await page.waitForFunction("document.querySelector('#job-feed')?.textContent?.startsWith('finished')")
    await clean(page, 'job page')
    await page.close()
  })
})
