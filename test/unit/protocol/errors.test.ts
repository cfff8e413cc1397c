import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ClusterdError, ERROR_CODES, isErrorCode } from '../../../protocol/errors.js'
import { EXIT_CODES, EXIT_UNAVAILABLE, EXIT_USAGE, ExitError, reportFatal } from '../../../protocol/exit-codes.js'
import { SCRIPT } from '../bootstrap/bootstrap-run.js'

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

/** The exit codes in the left column of docs/errors.md's "Exit codes" table (a row may list several). */
function parseExitTable (markdown: string): number[] {
  const section = markdown.split(/^## /m).find(s => s.startsWith('Exit codes'))
  assert.ok(section !== undefined, 'docs/errors.md has an "Exit codes" section')
  const codes = new Set<number>()
  for (const line of section.split('\n')) {
    const m = /^\|\s*(\d+(?:\s*,\s*\d+)*)\s*\|/.exec(line)
    for (const n of m?.[1]?.split(',') ?? []) codes.add(Number(n))
  }
  return [...codes].sort((a, b) => a - b)
}

describe('exit codes', () => {
  it('docs/errors.md lists exactly the exit codes of protocol/exit-codes.ts, and every error code exits with one of them', async () => {
    assert.deepEqual(parseExitTable(await readErrorsDoc()), [...EXIT_CODES].sort((a, b) => a - b))
    for (const [code, e] of Object.entries(ERROR_CODES)) assert.ok(EXIT_CODES.includes(e.exit), `${code} exits ${e.exit}, which is not in the table`)
  })

  it('bootstrap.sh exits only with 0, 1, 2 and 6 (not running), never 3 (unauthorized)', async () => {
    const script = await readFile(SCRIPT, 'utf8')
    const used = [...new Set([...script.matchAll(/\bexit (\d+)\b/g)].map(m => Number(m[1])))].sort((a, b) => a - b)
    assert.deepEqual(used, [0, 1, 2, EXIT_UNAVAILABLE])
    for (const n of used) assert.ok(EXIT_CODES.includes(n), String(n))
  })

  it('one reporter: a line per error with the program name, the code of a ClusterdError, exit 70 for anything else', () => {
    const report = (err: unknown, debug = false): [number, string] => {
      let text = ''
      const code = reportFatal(err, { program: 'prog', stderr: t => { text += t }, debug })
      return [code, text]
    }
    assert.deepEqual(report(new ClusterdError('CLUSTERD_ERR_NODE_NOT_FOUND', 'no node web1')), [4, 'prog: no node web1 (CLUSTERD_ERR_NODE_NOT_FOUND)\n'])
    assert.deepEqual(report(new ExitError('bad flag', EXIT_USAGE)), [2, 'prog: bad flag\n'])
    assert.deepEqual(report(new Error('boom')), [70, 'prog: internal error: boom\n'])
    assert.deepEqual(report('not even an Error'), [70, 'prog: internal error: not even an Error\n'])
    const [code, text] = report(new Error('boom'), true)
    assert.equal(code, 70)
    assert.match(text, /^prog: internal error: boom\nError: boom\n\s+at /, 'the stack only with debug')
  })
})

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
