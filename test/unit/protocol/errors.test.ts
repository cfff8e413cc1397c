import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ClusterdError, ERROR_CODES, isErrorCode } from '../../../protocol/errors.js'

// The test runs from the build dir (.tmp/build-x/test/unit/protocol or dist/test/...); the
// docs live in the source tree. Walk up until docs/errors.md appears next to package.json.
async function readErrorsDoc (): Promise<string> {
  let dir = new URL('.', import.meta.url)
  for (let i = 0; i < 8; i++) {
    try {
      await readFile(new URL('package.json', dir))
      return await readFile(new URL('docs/errors.md', dir), 'utf8')
    } catch {}
    dir = new URL('..', dir)
  }
  throw new Error('docs/errors.md not found above the test file')
}

interface DocRow { status: number, exit: number }

function parseCodeTable (markdown: string): Map<string, DocRow> {
  const rows = new Map<string, DocRow>()
  for (const line of markdown.split('\n')) {
    const m = /^\|\s*`(CLUSTERD_ERR_[A-Z_]+)`\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|/.exec(line)
    if (m == null) continue
    assert.ok(!rows.has(m[1] ?? ''), `docs/errors.md lists ${m[1]} twice`)
    rows.set(m[1] ?? '', { status: Number(m[2]), exit: Number(m[3]) })
  }
  return rows
}

describe('error registry', () => {
  it('docs/errors.md lists exactly the codes of ERROR_CODES with the same HTTP status and exit code', async () => {
    const documented = parseCodeTable(await readErrorsDoc())
    const registry = new Map(Object.entries(ERROR_CODES).map(([code, e]) => [code, { status: e.status, exit: e.exit }]))
    assert.deepEqual([...documented.keys()].sort(), [...registry.keys()].sort())
    for (const [code, row] of registry) assert.deepEqual(documented.get(code), row, code)
  })

  it('every code maps to an HTTP error status and a non-zero exit code', () => {
    for (const [code, e] of Object.entries(ERROR_CODES)) {
      assert.ok(e.status >= 400 && e.status < 600, code)
      assert.ok(e.exit > 0 && e.exit < 126, code)
      assert.match(code, /^CLUSTERD_ERR_[A-Z_]+$/)
    }
  })

  it('ClusterdError carries status, exit code and the API body of its code', () => {
    const err = new ClusterdError('CLUSTERD_ERR_NODE_NOT_FOUND', 'no node web1', { name: 'web1' })
    assert.equal(err.status, 404)
    assert.equal(err.exitCode, 4)
    assert.deepEqual(err.toBody(), { error: { code: 'CLUSTERD_ERR_NODE_NOT_FOUND', message: 'no node web1', details: { name: 'web1' } } })
    assert.ok(isErrorCode('CLUSTERD_ERR_INTERNAL'))
    assert.ok(!isErrorCode('toString'))
  })
})
