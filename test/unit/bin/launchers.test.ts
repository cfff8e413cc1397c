/**
 * The programs as installed: bin/clusterd.js and bin/clusterctl.js run the bundles from
 * dist/bundle/ (npm run build) with Node's compile cache, and the agent's start-up code does
 * not include the manager role's.
 */

import { execFile } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CLUSTERD_VERSION } from '../../../protocol/version.js'

const REPO = fileURLToPath(new URL('../../../../', import.meta.url))
const CLUSTERD = join(REPO, 'bin/clusterd.js')
const CLUSTERCTL = join(REPO, 'bin/clusterctl.js')
const META = join(REPO, 'dist/bundle/meta.json')

interface Run { code: number, stdout: string, stderr: string }

async function run (argv: string[], env: Record<string, string>): Promise<Run> {
  return await new Promise(resolve => {
    // HOME points into the test directory so the ~/.cache fallback never touches the real one.
    execFile(process.execPath, argv, { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
  })
}

/** esbuild's metafile, as far as this test reads it. */
interface Meta {
  outputs: Record<string, { inputs: Record<string, unknown>, imports: Array<{ path: string, kind: string, external?: boolean }> }>
}

/** Output files loaded by static imports from `start`, `start` included. */
function staticClosure (meta: Meta, start: string): Set<string> {
  const seen = new Set<string>()
  const todo = [start]
  while (todo.length > 0) {
    const file = todo.pop() as string
    if (seen.has(file)) continue
    seen.add(file)
    for (const i of meta.outputs[file]?.imports ?? []) if (i.external !== true && i.kind === 'import-statement') todo.push(i.path)
  }
  return seen
}

describe('launchers and bundles', () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'clusterd-launch-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('the bundled clusterd store recover runs (its lazily imported logger works in the bundle)', async () => {
    // A missing store: recover reports it and changes nothing; before the fix the bundle failed
    // with "pino is not a function" (a dynamically imported CommonJS module has only a default).
    const r = await run([CLUSTERD, 'store', 'recover', '--data-dir', join(dir, 'no-store')], { HOME: dir, CLUSTERD_COMPILE_CACHE: 'off' })
    assert.doesNotMatch(r.stderr, /internal error/, r.stderr)
    assert.equal(r.code, 0, r.stderr)
  })

  it('bin/clusterd.js and bin/clusterctl.js run the bundles and fill the compile cache directory given', async () => {
    const cache = join(dir, 'cache')
    const d = await run([CLUSTERD, 'version'], { HOME: dir, CLUSTERD_COMPILE_CACHE: cache })
    assert.deepEqual(d, { code: 0, stdout: `clusterd ${CLUSTERD_VERSION}\n`, stderr: '' })
    const c = await run([CLUSTERCTL, '--version'], { HOME: dir, CLUSTERD_COMPILE_CACHE: cache })
    assert.equal(c.code, 0, c.stderr)
    assert.equal(c.stdout.trim(), CLUSTERD_VERSION)
    // Node keeps one subdirectory per Node version and V8 flags, one file per compiled module.
    const [sub, ...others] = await readdir(cache)
    assert.equal(others.length, 0)
    assert.ok((await readdir(join(cache, sub as string))).length >= 2, 'compiled code of both bundles is cached')
  })

  it('an unusable cache directory is skipped silently, and `off` turns the cache off', async () => {
    const file = join(dir, 'a-file')
    await writeFile(file, '')
    const blocked = await run([CLUSTERD, 'version'], { HOME: dir, CLUSTERD_COMPILE_CACHE: join(file, 'cache') })
    assert.deepEqual(blocked, { code: 0, stdout: `clusterd ${CLUSTERD_VERSION}\n`, stderr: '' })
    const home = join(dir, 'home')
    const off = await run([CLUSTERD, 'version'], { HOME: home, CLUSTERD_COMPILE_CACHE: 'off' })
    assert.equal(off.code, 0, off.stderr)
    await assert.rejects(readdir(home), { code: 'ENOENT' }, 'no cache written anywhere under HOME')
  })

  it('clusterd compile-cache fills the cache with the agent\'s code, starting nothing, and says where', async () => {
    const cache = join(dir, 'agent-cache')
    const version = await run([CLUSTERD, 'version'], { HOME: dir, CLUSTERD_COMPILE_CACHE: cache })
    assert.equal(version.code, 0, version.stderr)
    const [sub] = await readdir(cache)
    const before = (await readdir(join(cache, sub as string))).length
    const r = await run([CLUSTERD, 'compile-cache'], { HOME: dir, CLUSTERD_COMPILE_CACHE: cache })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, `compile cache filled: ${join(cache, sub as string)}\n`)
    const after = (await readdir(join(cache, sub as string))).length
    assert.ok(after > before + 10, `the agent's modules were cached too (${before} -> ${after} files)`)
    const off = await run([CLUSTERD, 'compile-cache'], { HOME: dir, CLUSTERD_COMPILE_CACHE: 'off' })
    assert.equal(off.code, 0, off.stderr)
    assert.match(off.stdout, /^compile cache is off/)
  })

  it('the agent loads no manager-role code at start-up: manager.ts, execa and node-ssh sit behind a dynamic import', async () => {
    const meta = JSON.parse(await readFile(META, 'utf8')) as Meta
    const entry = 'dist/bundle/clusterd.js'
    assert.ok(meta.outputs[entry] !== undefined, `${entry} is in the metafile`)
    // `clusterd agent` imports agent.ts dynamically: start-up loads that chunk's static closure too.
    const agentChunk = Object.keys(meta.outputs).find(f => meta.outputs[f]?.inputs['agent/agent.ts'] !== undefined)
    assert.ok(agentChunk !== undefined, 'agent/agent.ts is bundled')
    const loaded = new Set([...staticClosure(meta, entry), ...staticClosure(meta, agentChunk)])
    const inputs = [...loaded].flatMap(f => Object.keys(meta.outputs[f]?.inputs ?? {}))
    assert.ok(inputs.includes('agent/agent.ts'))
    // A package's input path is relative to the repository, so through a symlinked node_modules
    // (a git worktree) it starts with `../`: match the node_modules segment anywhere.
    const managerOnly = (i: string): boolean => i === 'manager/manager.ts' || /(^|\/)node_modules\/(execa|node-ssh)\//.test(i)
    assert.deepEqual(inputs.filter(managerOnly), [])
    const everywhere = Object.values(meta.outputs).flatMap(o => Object.keys(o.inputs))
    assert.ok(everywhere.includes('manager/manager.ts') && everywhere.some(i => /(^|\/)node_modules\/execa\//.test(i)), 'the manager code is bundled, in a chunk of its own')
  })

  it('loading the bundled agent code does not load undici: built-ins are required, not imported as ESM', async () => {
    const meta = JSON.parse(await readFile(META, 'utf8')) as Meta
    const agentChunk = Object.keys(meta.outputs).find(f => meta.outputs[f]?.inputs['agent/agent.ts'] !== undefined) as string
    const probe = `await import(${JSON.stringify(join(REPO, agentChunk))}); process.stdout.write(JSON.stringify(process.moduleLoadList.filter(m => m.includes('undici'))))`
    const r = await run(['--input-type=module', '-e', probe], { HOME: dir })
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), [])
  })
})
