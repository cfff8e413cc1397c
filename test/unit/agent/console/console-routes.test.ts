// The console's routes on a real ApiServer (unix socket and TCP with a token): the page and its
// files are served without the token, with the console's security headers, and only the files
// that exist; data routes keep requiring the token; the files found beside dist/ are the ones
// the build copied from agent/console/static/.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { request, type IncomingMessage } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { ApiServer } from '../../../../agent/api/server.js'
import { findConsoleDir, loadConsoleFiles } from '../../../../agent/console/console-files.js'
import { registerConsoleRoutes } from '../../../../agent/console/console-routes.js'
import { REPO_ROOT } from '../../../harness/constants.js'

const TOKEN = 'console-unit-token-0123456789'

interface Reply { status: number, headers: IncomingMessage['headers'], text: string }

async function get (target: { socketPath: string } | { port: number }, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  const req = request({ ...('socketPath' in target ? target : { host: '127.0.0.1', port: target.port }), path, headers, agent: false })
  req.end()
  const [res] = await once(req, 'response') as [IncomingMessage]
  let text = ''
  for await (const chunk of res) text += String(chunk)
  return { status: res.statusCode ?? 0, headers: res.headers, text }
}

describe('console routes', () => {
  let dir: string
  let server: ApiServer
  let socketPath: string
  let port: number

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'console-routes-'))
    const files = join(dir, 'ui')
    await import('node:fs/promises').then(async fs => { await fs.mkdir(files) })
    await writeFile(join(files, 'index.html'), '<!doctype html><title>t</title>')
    await writeFile(join(files, 'app.js'), 'export {}\n')
    await writeFile(join(files, 'notes.txt'), 'not served')
    socketPath = join(dir, 'api.sock')
    server = new ApiServer({ logger: pino({ level: 'silent' }) }, { socketPath, tcp: { host: '127.0.0.1', port: 0, token: TOKEN } })
    server.route('GET', '/v1/members', async () => [])
    registerConsoleRoutes(server, await loadConsoleFiles(files))
    await server.start()
    port = server.tcpAddress()?.port ?? 0
  })

  after(async () => {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('serves the page at /ui and its files at /ui/<file> without the token, with the console headers', async () => {
    const page = await get({ port }, '/ui')
    assert.equal(page.status, 200)
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8')
    assert.match(String(page.headers['content-security-policy']), /^default-src 'self'; script-src 'self'; style-src 'self'/)
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/)
    assert.equal(page.headers['x-content-type-options'], 'nosniff')
    assert.equal(page.headers['x-frame-options'], 'DENY')
    assert.equal(page.text, '<!doctype html><title>t</title>')
    const js = await get({ port }, '/ui/app.js')
    assert.equal(js.status, 200)
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8')
    assert.equal((await get({ socketPath }, '/ui')).status, 200)
  })

  it('serves no other file, and data routes still need the token on TCP', async () => {
    assert.equal((await get({ port }, '/ui/notes.txt')).status, 401, 'an unknown path is not open: it needs the token like any route')
    assert.equal((await get({ port }, '/ui/notes.txt', { authorization: `Bearer ${TOKEN}` })).status, 404)
    assert.equal((await get({ port }, '/ui/../v1/members')).status, 401)
    assert.equal((await get({ port }, '/v1/members')).status, 401)
    assert.equal((await get({ port }, '/v1/members', { authorization: `Bearer ${TOKEN}` })).status, 200)
  })

  it('without built files, /ui says what is missing', async () => {
    const bare = new ApiServer({ logger: pino({ level: 'silent' }) }, { socketPath: join(dir, 'bare.sock') })
    registerConsoleRoutes(bare, null)
    await bare.start()
    try {
      const r = await get({ socketPath: join(dir, 'bare.sock') }, '/ui')
      assert.equal(r.status, 404)
      assert.match(r.text, /web console files are not installed/)
    } finally {
      await bare.stop()
    }
  })

  it('the build put every file of agent/console/static/ where the agent looks', async () => {
    const found = findConsoleDir()
    assert.ok(found !== null, 'dist/ui/ was not found above the compiled module')
    const source = join(REPO_ROOT, 'agent', 'console', 'static')
    const names = (await readdir(source)).sort()
    assert.deepEqual((await loadConsoleFiles(found)).map(f => f.name), names)
    for (const name of names) assert.equal(await readFile(join(found, name), 'utf8'), await readFile(join(source, name), 'utf8'), `${name} is stale in ${found}`)
  })
})
