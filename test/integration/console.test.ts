// The web console in a real browser against real agents: two agent processes on
// network-namespace hosts, the manager's API on TCP over TLS with a bearer token (as
// bootstrap.sh sets it up), Debian's chromium driven by playwright-core. The browser opens each
// page, the test checks what it shows (member names, the manager's epoch, node states, a real
// commission and verify job's per-node progress over real SSH and ansible-runner) and takes a
// screenshot of each page. A wrong token is refused and nothing with data renders; the unix
// socket (forwarded to a local port, as `ssh -L` would) needs no token.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, X509Certificate } from 'node:crypto'
import { once } from 'node:events'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { request, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { createServer, connect, type Server } from 'node:net'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { AgentProcess, REPO } from '../harness/agent-process.js'
import { AgentFleet } from '../harness/agent-fleet.js'
import { makeCa, makeServerCert } from '../harness/tls-certs.js'
import { browserSkipReason, launchChromium } from '../harness/browser.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'

const API_PORT = 7947
const TOKEN = 'console-test-token-' + 'x'.repeat(24)
/** Screenshots of every page land here (git-ignored), for a person to look at. */
const SHOTS = join(REPO, '.tmp', 'console-screens')

const skip = browserSkipReason()

interface Reply { status: number, headers: IncomingMessage['headers'], text: string }

async function read (res: IncomingMessage): Promise<string> {
  let text = ''
  for await (const chunk of res) text += String(chunk)
  return text
}

/** GET over an agent's unix socket, with extra headers. */
async function viaSocket (socketPath: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  const req = request({ socketPath, path, method, headers, agent: false, timeout: 10_000 })
  req.end()
  const [res] = await once(req, 'response') as [IncomingMessage]
  return { status: res.statusCode ?? 0, headers: res.headers, text: await read(res) }
}

/** GET over the TLS listener, trusting only the test CA. */
async function viaTls (url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  const req = httpsRequest(url, { ca, headers, agent: false, timeout: 10_000 })
  req.end()
  const [res] = await once(req, 'response') as [IncomingMessage]
  return { status: res.statusCode ?? 0, headers: res.headers, text: await read(res) }
}

/** SHA-256 of a certificate's public key, base64: what chromium's SPKI allow-list takes. */
function spkiHash (pem: string): string {
  const der = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(der).digest('base64')
}

describe('web console in a real browser', { skip }, () => {
  let fleet: AgentFleet
  let base: string
  let ca: Buffer
  let browser: BrowserContext
  let forward: Server | null = null
  const h = (i: number): TestHost => fleet.host(i)
  const agent = (i: number): AgentProcess => fleet.agent(i)
  const errors: string[] = []

  const shot = async (page: Page, name: string): Promise<void> => {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
  }
  const newPage = async (): Promise<Page> => {
    const page = await browser.newPage()
    page.on('pageerror', err => { errors.push(String(err)) })
    return page
  }
  const signIn = async (page: Page, token: string): Promise<void> => {
    await page.goto(`${base}/ui`)
    await page.waitForSelector('main[data-loaded=signin]')
    await page.fill('#token', token)
    await page.click('#signin button[type=submit]')
  }
  /** The text a selector shows, once it shows something `check` accepts. */
  const until = async (page: Page, selector: string, check: (text: string) => boolean, what: string, timeoutMs = 30_000): Promise<string> => {
    let last = ''
    return await waitFor(async () => {
      last = (await page.locator(selector).first().textContent({ timeout: 1000 }).catch(() => null)) ?? ''
      return check(last) ? last : undefined
    }, { timeoutMs, intervalMs: 200, message: () => `${what}; ${selector} shows ${JSON.stringify(last.slice(0, 500))}` })
  }

  before(async () => {
    await rm(SHOTS, { recursive: true, force: true })
    await mkdir(SHOTS, { recursive: true })
    // h0 is the manager (TCP API over TLS with a token); h1 a worker that joins it.
    fleet = await AgentFleet.create({ suite: 'console', prefix: 'cx', count: 2, managerKey: true, eligible: i => i === 0 })
    const dir = fleet.dir
    const caFiles = await makeCa(dir, 'api-ca')
    const server = await makeServerCert(dir, 'api', caFiles, `IP:${h(0).address}`)
    ca = await readFile(caFiles.cert)
    const tokenFile = join(dir, 'api-token')
    await writeFile(tokenFile, TOKEN + '\n', { mode: 0o600 })
    await fleet.start(0, {
      labels: { rack: 'r0' },
      extraArgs: ['--api-listen', `${h(0).address}:${API_PORT}`, '--api-token-file', tokenFile, '--api-tls-cert', server.cert, '--api-tls-key', server.key]
    })
    await fleet.start(1, { labels: { rack: 'r1', zone: 'z-1' } })
    base = `https://${h(0).address}:${API_PORT}`
    // Both nodes recorded by the manager: the pages have something to show.
    await waitFor(async () => {
      const nodes = await agent(0).client.request<NodeRecord[]>('GET', '/v1/nodes').catch(() => [])
      return nodes.length === 2 ? nodes : undefined
    }, { timeoutMs: 90_000, intervalMs: 500, message: () => `the manager never recorded both nodes:\n${agent(0).output.slice(-3000)}` })
    // The agent's certificate is trusted by its key alone (the CA is not in chromium's store).
    browser = await launchChromium(join(dir, 'chromium-profile'), [`--ignore-certificate-errors-spki-list=${spkiHash(await readFile(server.cert, 'utf8'))}`])
  })

  after(async () => {
    await browser?.close().catch(() => {})
    forward?.close()
    await fleet?.close()
    console.log(`# console screenshots: ${SHOTS}`)
  })

  it('serves the page without the token, with a strict policy and no data; data routes still need the token', async () => {
    const page = await viaTls(`${base}/ui`, ca)
    assert.equal(page.status, 200)
    assert.match(String(page.headers['content-type']), /^text\/html/)
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/)
    assert.equal(page.headers['x-content-type-options'], 'nosniff')
    assert.ok(!page.text.includes(h(0).name) && !page.text.includes(h(1).name), 'the shell holds no member names')
    assert.equal((await viaTls(`${base}/ui/app.js`, ca)).status, 200)
    assert.equal((await viaTls(`${base}/v1/members`, ca)).status, 401)
    assert.equal((await viaTls(`${base}/v1/members`, ca, { authorization: 'Bearer wrong-token-wrong-token' })).status, 401)
    assert.equal((await viaTls(`${base}/v1/members`, ca, { authorization: `Bearer ${TOKEN}` })).status, 200)
    // Over the socket: the page and the data, no token; a cross-site browser request is refused.
    assert.equal((await viaSocket(agent(1).socket, '/ui')).status, 200)
    assert.equal((await viaSocket(agent(1).socket, '/v1/members')).status, 200)
    const cross = await viaSocket(agent(1).socket, '/v1/decommission', { 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain' }, 'POST')
    assert.equal(cross.status, 401)
    assert.match(cross.text, /cross-site request refused/)
  })

  it('a wrong token is refused and nothing with data renders', async () => {
    const page = await newPage()
    await signIn(page, 'not-the-token-not-the-token')
    await page.waitForSelector('#token-refused')
    const text = await page.locator('body').innerText()
    assert.ok(!text.includes(h(0).name) && !text.includes(h(1).name), `data rendered after a wrong token:\n${text}`)
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a refused token is not kept')
    await shot(page, '0-wrong-token')
    await page.close()
  })

  it('the overview shows the members by status, the manager and its epoch, the nodes by state', async () => {
    const manager = await agent(0).client.request<ManagerInfo>('GET', '/v1/manager')
    const page = await newPage()
    await signIn(page, TOKEN)
    await page.waitForSelector('main[data-loaded=overview]')
    assert.equal(await page.locator('#manager-epoch').textContent(), String(manager.epoch))
    const members = await page.locator('#members').innerText()
    for (const name of [h(0).name, h(1).name]) assert.match(members, new RegExp(name))
    assert.match(members, /rack=r1\s*zone=z-1/, 'the member\'s labels')
    assert.equal(await page.locator('ul[aria-label="members by status"] li[data-key=alive] .count').textContent(), '2')
    assert.equal(await page.locator('ul[aria-label="nodes by lifecycle state"] li[data-key=discovered] .count').textContent(), '2')
    assert.match(await page.locator('#nodes').innerText(), new RegExp(`${h(1).name}\\s+discovered`))
    assert.ok(!page.url().includes(TOKEN), 'no token in the URL')
    await shot(page, '1-overview')
    await page.close()
  })

  it('a node page shows facts, labels and history; a confirmed commission runs a job whose progress the page follows live', async () => {
    const page = await newPage()
    await signIn(page, TOKEN)
    await page.waitForSelector('main[data-loaded=overview]')
    await page.click(`#nodes a:text-is("${h(1).name}")`)
    await page.waitForSelector('main[data-loaded=node]')
    assert.equal(await page.locator('#node-state').textContent(), 'discovered')
    assert.match(await page.locator('#labels').innerText(), /rack\s+r1/)
    assert.match(await page.locator('#history').innerText(), /discovered/)
    await shot(page, '2-node-discovered')
    await page.fill('#roles', 'worker')
    await page.click('#act-commission')
    // Nothing is sent before the confirmation: the node is still discovered.
    await page.waitForSelector('#confirm-yes')
    await shot(page, '3-confirm-commission')
    const still = (await agent(0).client.request<NodeRecord[]>('GET', '/v1/nodes')).find(n => n.name === h(1).name)
    assert.equal(still?.state, 'discovered')
    await page.click('#confirm-yes')
    await page.waitForSelector('main[data-loaded=job]', { timeout: 30_000 })
    const id = decodeURIComponent(page.url().split('#/jobs/')[1] ?? '')
    assert.ok(id !== '', page.url())
    // Progress while the job runs: a task name in the node's row, before the job ends.
    await until(page, '#progress tbody tr', t => /running|ok/.test(t), 'the node never showed progress', 120_000)
    await until(page, '#job-status', t => ['succeeded', 'failed', 'cancelled'].includes(t), 'the job never finished', 240_000)
    assert.equal(await page.locator('#job-status').textContent(), 'succeeded', await page.locator('main').innerText())
    const row = await page.locator('#progress tbody tr').innerText()
    assert.match(row, new RegExp(`${h(1).name}\\s+ok`))
    assert.ok(Number((row.split('\t')[4] ?? '0').trim()) > 0, `tasks ok counted: ${row}`)
    assert.match(await page.locator('#job-log').innerText(), /task-start/)
    assert.match(await page.locator('#job-feed').innerText(), /finished/)
    await shot(page, '4-job-commission')
    // The store agrees, and the node page shows the new state and history.
    const node = (await agent(0).client.request<NodeRecord[]>('GET', '/v1/nodes')).find(n => n.name === h(1).name)
    assert.equal(node?.state, 'commissioned')
    assert.equal(node?.lastJob, id)
    await page.click(`#progress a:text-is("${h(1).name}")`)
    await page.waitForSelector('main[data-loaded=node]')
    assert.equal(await page.locator('#node-state').textContent(), 'commissioned')
    assert.equal(await page.locator('#node-roles').textContent(), 'worker')
    assert.match(await page.locator('#history').innerText(), /job-succeeded/)
    // The manager fetched the node's facts to reach it over SSH (its host keys): the page shows them.
    assert.match(await page.locator('body').innerText(), /Kernel\s+\S+[\s\S]*CPUs\s+\d+[\s\S]*SSH host keys\s+ssh-/, 'the node\'s facts')
    await shot(page, '5-node-commissioned')
    // Verify: a check-mode run records the drift the node page then shows.
    await page.click('#act-verify')
    await page.click('#confirm-yes')
    await page.waitForSelector('main[data-loaded=job]', { timeout: 30_000 })
    await until(page, '#job-status', t => ['succeeded', 'failed', 'cancelled'].includes(t), 'the verify job never finished', 240_000)
    assert.equal(await page.locator('#job-status').textContent(), 'succeeded', await page.locator('main').innerText())
    await page.click(`#progress a:text-is("${h(1).name}")`)
    await page.waitForSelector('main[data-loaded=node]')
    assert.match(await page.locator('body').innerText(), /Drift\s+in sync/)
    await page.goto(`${base}/ui#/jobs`)
    await page.waitForSelector('main[data-loaded=jobs]')
    const jobs = await page.locator('#jobs').innerText()
    assert.match(jobs, new RegExp(`${id}\\s+commission\\s+succeeded`))
    assert.match(jobs, /verify\s+succeeded/)
    await shot(page, '6-jobs')
    await page.close()
  })

  it('over the unix socket (forwarded to a local port) the console needs no token', async () => {
    forward = createServer(c => { const s = connect(agent(1).socket); c.pipe(s).pipe(c); s.on('error', () => c.destroy()); c.on('error', () => s.destroy()) })
    forward.listen(0, '127.0.0.1')
    await once(forward, 'listening')
    const port = (forward.address() as { port: number }).port
    const page = await newPage()
    await page.goto(`http://127.0.0.1:${port}/ui`)
    await page.waitForSelector('main[data-loaded=overview]')
    assert.match(await page.locator('#members').innerText(), new RegExp(h(0).name))
    assert.equal(await page.locator('ul[aria-label="nodes by lifecycle state"] li[data-key=commissioned] .count').textContent(), '1')
    await shot(page, '7-socket-overview')
    await page.close()
    assert.deepEqual(errors, [], 'no script errors on any page')
  })
})
