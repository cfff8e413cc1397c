/**
 * clusterctl as a real process (the compiled cli/main.js next to this build's tests):
 * output on stdout, one-line errors on stderr, exit codes.
 */

import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parse as parseYaml } from 'yaml'
import { MEMBERS, startFixture, type Fixture } from './fixtures.js'

const MAIN = fileURLToPath(new URL('../../../cli/main.js', import.meta.url))

interface Run { code: number, stdout: string, stderr: string }

/** Run clusterctl asynchronously (the in-process server must keep answering meanwhile). */
async function clusterctl (args: string[], env: Record<string, string> = {}): Promise<Run> {
  return await new Promise(resolve => {
    execFile(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err == null ? 0 : typeof err.code === 'number' ? err.code : -1
      resolve({ code, stdout, stderr })
    })
  })
}

function oneLine (run: Run): string {
  assert.equal(run.stderr.split('\n').filter(l => l !== '').length, 1, `one stderr line, got: ${run.stderr}`)
  assert.ok(!run.stderr.includes('    at '), 'no stack trace')
  return run.stderr.trimEnd()
}

describe('clusterctl process', () => {
  let fx: Fixture
  before(async () => { fx = await startFixture() })
  after(async () => { await fx.close() })

  it('members: table by default, json and yaml with -o, address from CLUSTERCTL_ADDR', async () => {
    const [table, json, yaml] = await Promise.all([
      clusterctl(['members'], { CLUSTERCTL_ADDR: fx.socketPath }),
      clusterctl(['--addr', fx.socketPath, 'members', '-o', 'json']),
      clusterctl(['members', '--output', 'yaml', '--addr', fx.socketPath])
    ])
    assert.equal(table.code, 0, table.stderr)
    const lines = table.stdout.trimEnd().split('\n')
    assert.match(lines[0] ?? '', /^NAME\s+STATUS\s+BINDING\s+ADDRESS\s+INCARNATION\s+LABELS\s+LAST-SEEN$/)
    assert.match(lines[1] ?? '', /^db1\s+alive\s+bound\s+10\.0\.0\.1:7946\s+3\s+-\s+\d+[smhd] ago$/)
    // A refused claim on a name stands out, with the end of the peer id the name belongs to.
    assert.match(lines[2] ?? '', /^web2\s+suspect\s+CONFLICT \(name bound to \.\.\.sTheName\)\s+10\.0\.0\.2:7946 \(\+1\)\s+12\s+rack=r2,tier=web\s+/)
    assert.equal(lines.length, 3)
    assert.equal(json.code, 0, json.stderr)
    assert.deepEqual(JSON.parse(json.stdout), MEMBERS)
    assert.equal(yaml.code, 0, yaml.stderr)
    assert.deepEqual(parseYaml(yaml.stdout), MEMBERS)
  })

  it('over http: the token file is required and used', async () => {
    const [denied, allowed] = await Promise.all([
      clusterctl(['--addr', fx.url, 'members']),
      clusterctl(['members', '-o', 'json'], { CLUSTERCTL_ADDR: fx.url, CLUSTERCTL_TOKEN_FILE: fx.tokenFile })
    ])
    assert.equal(denied.code, 3)
    assert.equal(oneLine(denied), 'clusterctl: missing or invalid bearer token (CLUSTERD_ERR_UNAUTHORIZED)')
    assert.equal(allowed.code, 0, allowed.stderr)
    assert.deepEqual(JSON.parse(allowed.stdout), MEMBERS)
  })

  it('an unreachable agent is one line and exit 6', async () => {
    const path = join(fx.dir, 'nobody.sock')
    const run = await clusterctl(['members', '--addr', path])
    assert.equal(run.code, 6)
    assert.equal(run.stdout, '')
    assert.equal(oneLine(run), `clusterctl: cannot reach the agent at ${path}: no such socket (is clusterd running?)`)
  })

  it('bad flags are one clear line and exit 2', async () => {
    const runs = await Promise.all([
      clusterctl(['members', '-o', 'xml', '--addr', fx.socketPath]),
      clusterctl(['members', '--bogus']),
      clusterctl(['membres']),
      clusterctl(['members', '--timeout', 'soon']),
      clusterctl(['members', '--addr', fx.url, '--token-file', join(fx.dir, 'no-token')])
    ])
    const [format, unknownOption, unknownCommand, timeout, tokenFile] = runs.map(run => { assert.equal(run.code, 2, run.stderr); return oneLine(run) })
    assert.match(format ?? '', /^clusterctl: option '-o, --output <format>' argument 'xml' is invalid\. Allowed choices are table, json, yaml\.$/)
    assert.equal(unknownOption, "clusterctl: unknown option '--bogus'")
    assert.match(unknownCommand ?? '', /^clusterctl: unknown command 'membres'/)
    assert.match(unknownCommand ?? '', /members/, 'suggests the right verb')
    assert.match(timeout ?? '', /^clusterctl: --timeout: expected seconds/)
    assert.match(tokenFile ?? '', /^clusterctl: --token-file: cannot read .*no-token: ENOENT$/)
  })

  it('--version and --help exit 0 on stdout', async () => {
    const [version, help] = await Promise.all([clusterctl(['--version']), clusterctl(['members', '--help'])])
    assert.equal(version.code, 0)
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/)
    assert.equal(help.code, 0)
    assert.match(help.stdout, /-o, --output <format>/)
  })
})
