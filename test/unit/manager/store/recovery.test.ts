import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { Level } from 'level'
import { ClusterdError } from '../../../../protocol/errors.js'
import type { ManagerStore } from '../../../../manager/store/index.js'
import { assertConsistent, job, newStore, tempDir } from './fixture.js'

const operator = { actor: 'operator' } as const

function isCode (code: string): (err: unknown) => boolean {
  return (err: unknown) => err instanceof ClusterdError && err.code === code
}

async function populate (store: ManagerStore): Promise<void> {
  await store.upsertNode({ name: 'n1', peerId: 'p1', reachable: true })
  await store.upsertNode({ name: 'n2', peerId: 'p2', reachable: true })
  await store.applyTransition('n1', { type: 'COMMISSION', jobId: 'j1', roles: ['web'], vars: {} }, operator)
  await store.putJob(job('j1', ['n1']))
  await store.appendJobEvents('j1', [{ kind: 'precheck', node: 'n1' }])
  await store.setConfig('k', 'v')
}

describe('ManagerStore damage and replication (real LevelDB)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let store: ManagerStore

  beforeEach(async () => {
    dir = await tempDir()
    store = newStore(dir.path)
    await store.start()
    await populate(store)
  })

  afterEach(async () => {
    await store.stop()
    await dir.cleanup()
  })

  async function rewrite (fn: (db: Level<string, string>) => Promise<void>): Promise<void> {
    await store.stop()
    const db = new Level<string, string>(dir.path, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await db.open()
    await fn(db)
    await db.close()
  }

  it('a second store on the same path fails with STORE_UNAVAILABLE (locked)', async () => {
    const other = newStore(dir.path)
    await assert.rejects(other.start(), (err: unknown) => isCode('CLUSTERD_ERR_STORE_UNAVAILABLE')(err) && /another process/.test((err as Error).message))
  })

  it('a damaged node entry fails start with STORE_CORRUPT naming the key', async () => {
    await rewrite(async db => { await db.put('n!n1', '{"record":') })
    await assert.rejects(store.start(), (err: unknown) => isCode('CLUSTERD_ERR_STORE_CORRUPT')(err) && /n!n1/.test((err as Error).message))
  })

  it('a record whose snapshot disagrees with it fails start with STORE_CORRUPT', async () => {
    await rewrite(async db => {
      const stored = JSON.parse(await db.get('n!n1') as string)
      stored.snapshot.value = 'commissioned'
      await db.put('n!n1', JSON.stringify(stored))
    })
    await assert.rejects(store.start(), isCode('CLUSTERD_ERR_STORE_CORRUPT'))
  })

  it('a node written by a newer machine version is refused, not misread', async () => {
    await rewrite(async db => {
      const stored = JSON.parse(await db.get('n!n2') as string)
      stored.machineVersion = 99
      await db.put('n!n2', JSON.stringify(stored))
    })
    await assert.rejects(store.start(), (err: unknown) => isCode('CLUSTERD_ERR_STORE_CORRUPT')(err) && /version 99/.test((err as Error).message))
  })

  it('a lost lifecycle event fails start instead of leaving a record without its event', async () => {
    await rewrite(async db => { await db.del('x!n1!000000000000002') })
    await assert.rejects(store.start(), isCode('CLUSTERD_ERR_STORE_CORRUPT'))
  })

  it('a damaged write-ahead log (LevelDB drops it silently) is caught by the revision marker', async () => {
    await store.stop()
    let mangled = 0
    for (const f of await readdir(dir.path)) {
      if (!f.endsWith('.log')) continue
      const buf = await readFile(join(dir.path, f))
      if (buf.length < 20) continue
      buf.fill(0x41, 7, buf.length)
      await writeFile(join(dir.path, f), buf)
      mangled++
    }
    assert.ok(mangled > 0, 'the test needs a write-ahead log to damage')
    await assert.rejects(store.start(), (err: unknown) => isCode('CLUSTERD_ERR_STORE_CORRUPT')(err) && /lost/.test((err as Error).message))
  })

  it('an unopenable database (CURRENT points nowhere) fails with STORE_CORRUPT', async () => {
    await store.stop()
    await writeFile(join(dir.path, 'CURRENT'), 'MANIFEST-999999\n')
    await assert.rejects(store.start(), isCode('CLUSTERD_ERR_STORE_CORRUPT'))
  })

  it('export then import into a fresh store reproduces the state, and the copy continues', async () => {
    const entries = await store.exportAll()
    assertConsistent(entries)
    assert.deepEqual(entries.map(e => e.key).slice().sort(), entries.map(e => e.key), 'entries are key-ordered')
    const other = await tempDir()
    const copy = newStore(other.path)
    try {
      await copy.start()
      await copy.upsertNode({ name: 'stale', peerId: 'x', reachable: false })
      const { revision } = await copy.importAll(entries)
      assert.equal(revision, store.revision)
      assert.equal(copy.revision, store.revision)
      assert.deepEqual(await copy.exportAll(), entries, 'old contents are replaced, not merged')
      assert.deepEqual(await copy.listNodes(), await store.listNodes())
      assert.deepEqual(await copy.allConfig(), { k: 'v' })
      const next = await copy.applyTransition('n1', { type: 'JOB_SUCCEEDED', jobId: 'j1' }, { actor: 'job-runner' })
      assert.ok(next.ok && next.changed && next.record.state === 'commissioned')
      assert.equal(copy.revision, store.revision + 1)
      const ev = await copy.appendJobEvents('j1', [{ kind: 'log' }])
      assert.equal(ev[0]?.seq, 2)
    } finally {
      await copy.stop()
      await other.cleanup()
    }
  })

  it('an invalid import is rejected before anything is written', async () => {
    const before = await store.exportAll()
    const unordered = [...before].reverse()
    await assert.rejects(store.importAll(unordered), isCode('CLUSTERD_ERR_INVALID_ARGUMENT'))
    const brokenNode = before.map(e => e.key === 'n!n1' ? { key: e.key, value: { ...(e.value as object), machineVersion: 'x' } } : e)
    await assert.rejects(store.importAll(brokenNode), isCode('CLUSTERD_ERR_INVALID_ARGUMENT'))
    const missingEvent = before.filter(e => e.key !== 'x!n1!000000000000002')
    await assert.rejects(store.importAll(missingEvent), isCode('CLUSTERD_ERR_INVALID_ARGUMENT'))
    assert.deepEqual(await store.exportAll(), before)
  })

  it('every write acknowledged before a SIGKILL is there after restart', async () => {
    await store.stop()
    const fresh = await tempDir()
    const child = spawn(process.execPath, [fileURLToPath(new URL('./crash-child.js', import.meta.url)), fresh.path], { stdio: ['ignore', 'pipe', 'inherit'] })
    let acked = 0
    let buffer = ''
    const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
    try {
      await new Promise<void>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`child acknowledged only ${acked} writes in 20 s`)), 20_000)
        child.stdout.on('data', (chunk: Buffer) => {
          buffer += chunk.toString()
          const lines = buffer.split('\n')
          buffer = lines.pop() ?? ''
          for (const line of lines) acked = Math.max(acked, Number(line))
          if (acked >= 300) { clearTimeout(deadline); resolve() }
        })
        child.once('exit', code => { clearTimeout(deadline); reject(new Error(`child exited early (${code})`)) })
      })
    } finally {
      child.kill('SIGKILL')
      await exited
    }
    const after = newStore(fresh.path)
    try {
      await after.start()
      const survived = Number((await after.getNode('n1'))?.vars.i)
      assert.ok(survived >= acked, `acknowledged ${acked}, found ${survived}`)
      assertConsistent(await after.exportAll())
    } finally {
      await after.stop()
      await fresh.cleanup()
    }
    await store.start()
  })
})
