import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ExitError } from '../../../cli/errors.js'
import { parseVarFlags, parseVarsText, requestVars } from '../../../cli/vars.js'

function usage (pattern: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ExitError, `expected ExitError, got ${String(err)}`)
    assert.equal(err.exitCode, 2)
    assert.match(err.message, pattern)
    return true
  }
}

describe('request variables', () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'clusterctl-vars-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('parses NAME=VALUE flags, keeping = in values and letting a later flag win', () => {
    assert.deepEqual(parseVarFlags(['a=1', 'url=http://x/?q=1', 'a=2', 'empty=']), { a: '2', url: 'http://x/?q=1', empty: '' })
  })

  it('refuses a flag without = or with a bad name, naming the flag', () => {
    assert.throws(() => parseVarFlags(['novalue']), usage(/^--var: expected NAME=VALUE .*got "novalue"$/))
    assert.throws(() => parseVarFlags(['=x']), usage(/^--var: expected NAME=VALUE/))
    assert.throws(() => parseVarFlags(['1a=x']), usage(/^--var: variable name "1a" is invalid/))
    assert.throws(() => parseVarFlags(['a-b=x']), usage(/variable name "a-b" is invalid/))
    assert.throws(() => parseVarFlags([`a=${'x'.repeat(4097)}`]), usage(/value of a is longer than 4096/))
  })

  it('reads YAML and JSON files of string values; an empty file is no variables', () => {
    assert.deepEqual(parseVarsText('f', 'ntp: "10.0.0.1"\nmotd: hello\n'), { ntp: '10.0.0.1', motd: 'hello' })
    assert.deepEqual(parseVarsText('f', '{"ntp": "10.0.0.1"}'), { ntp: '10.0.0.1' })
    assert.deepEqual(parseVarsText('f', ''), {})
  })

  it('refuses non-string values rather than converting them (YAML reads 1.10 as 1.1)', () => {
    assert.throws(() => parseVarsText('v.yaml', 'version: 1.10\n'), usage(/^--vars-file v\.yaml: value of version must be a string; quote it \(e\.g\. version: "1\.1"\)$/))
    assert.throws(() => parseVarsText('v.yaml', '- a\n- b\n'), usage(/expected a mapping/))
    assert.throws(() => parseVarsText('v.yaml', 'a: [\n'), usage(/^--vars-file v\.yaml: not valid YAML or JSON/))
  })

  it('merges the file and the flags, the flags winning; a missing file is a usage error', async () => {
    const file = join(dir, 'vars.yaml')
    await writeFile(file, 'a: from-file\nb: from-file\n')
    assert.deepEqual(await requestVars({ varsFile: file, var: ['b=from-flag', 'c=3'] }), { a: 'from-file', b: 'from-flag', c: '3' })
    await assert.rejects(requestVars({ varsFile: join(dir, 'absent.yaml') }), usage(/^--vars-file: cannot read .*absent\.yaml: ENOENT$/))
  })
})
