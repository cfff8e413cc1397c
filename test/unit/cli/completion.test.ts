/**
 * `clusterctl completion bash|zsh` from the real CLI process, loaded into a real bash (and zsh
 * through bashcompinit): the completion is registered, every registry verb completes from a
 * prefix, subcommands, options and the choices of `-o` complete after the command path typed
 * so far, and a file is offered for an option that takes any value.
 */

import { execFile, execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { COMMANDS } from '../../../cli/registry.js'

const MAIN = fileURLToPath(new URL('../../../cli/main.js', import.meta.url))

async function clusterctl (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '' }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
  })
}

describe('clusterctl completion', () => {
  let dir: string
  let bashScript: string
  let zshScript: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clusterd-compl-'))
    const bash = await clusterctl(['completion', 'bash'])
    assert.equal(bash.code, 0, bash.stderr)
    bashScript = join(dir, 'clusterctl.bash')
    await writeFile(bashScript, bash.stdout)
    const zsh = await clusterctl(['completion', 'zsh'])
    assert.equal(zsh.code, 0, zsh.stderr)
    zshScript = join(dir, 'clusterctl.zsh')
    await writeFile(zshScript, zsh.stdout)
    await writeFile(join(dir, 'token-file-here'), '')
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  /** What bash offers for the command line `words` (the last one being completed). */
  function complete (...words: string[]): string[] {
    const out = execFileSync('bash', ['--norc', '--noprofile', '-c',
      'source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _clusterctl; printf "%s\\n" "${COMPREPLY[@]}"', bashScript, ...words],
    { cwd: dir, encoding: 'utf8' })
    return out.split('\n').filter(w => w !== '').sort()
  }

  it('registers itself for clusterctl in bash', () => {
    assert.equal(execFileSync('bash', ['--norc', '--noprofile', '-c', 'source "$0" && complete -p clusterctl', bashScript], { encoding: 'utf8' }).trim(),
      'complete -F _clusterctl clusterctl')
  })

  it('completes a partial verb, and every verb of the registry', () => {
    assert.deepEqual(complete('clusterctl', 'mem'), ['members'])
    assert.deepEqual(complete('clusterctl', 'com'), ['commission', 'completion'])
    const top = complete('clusterctl', '')
    for (const spec of COMMANDS) assert.ok(top.includes(spec.verb.split(' ')[0] ?? ''), `${spec.verb} completes`)
    for (const spec of COMMANDS.filter(s => s.verb.includes(' '))) {
      const [group, verb] = spec.verb.split(' ') as [string, string]
      assert.ok(complete('clusterctl', group, '').includes(verb), `${spec.verb} completes`)
    }
  })

  it('completes options and their choices after the command path, past global options and their values', () => {
    assert.deepEqual(complete('clusterctl', '--addr', '/run/x.sock', 'job', 'l'), ['logs'])
    assert.deepEqual(complete('clusterctl', 'job', 'logs', '--f'), ['--follow'])
    assert.deepEqual(complete('clusterctl', 'nodes', '-o', ''), ['json', 'table', 'yaml'])
    assert.deepEqual(complete('clusterctl', '--timeout', '5', 'events', '--output', 'y'), ['yaml'])
    assert.deepEqual(complete('clusterctl', 'completion', ''), ['--addr', '--ca-file', '--help', '--timeout', '--token-file', '--version', '-V', 'bash', 'zsh'])
    assert.deepEqual(complete('clusterctl', 'members', '--token-file', 'token-'), ['token-file-here'], 'a file for an option that takes any value')
    assert.deepEqual(complete('clusterctl', 'members', '--ro'), [], 'no option members does not have')
  })

  it('registers itself in zsh through bashcompinit and yields the same candidates', { skip: existsSync('/usr/bin/zsh') ? false : 'zsh is not installed (scripts/install-deps.sh --dev installs it)' }, () => {
    // zsh's own matching filters by the typed prefix; the candidates come from the same functions.
    const out = execFileSync('/usr/bin/zsh', ['-f', '-c',
      'source "$1"; print -r -- "$_comps[clusterctl]"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); compgen -F _clusterctl -- ""',
      'zsh', zshScript, 'clusterctl', 'nodes', '-o', ''], { encoding: 'utf8', env: { HOME: dir, PATH: '/usr/bin:/bin' } })
    const [registered, ...candidates] = out.split('\n').filter(l => l !== '')
    assert.equal(registered, '_bash_complete -F _clusterctl')
    assert.deepEqual(candidates.sort(), ['json', 'table', 'yaml'])
  })

  it('refuses an unknown shell with exit 2', async () => {
    const run = await clusterctl(['completion', 'fish'])
    assert.equal(run.code, 2)
    assert.match(run.stderr, /'fish' is invalid for argument 'shell'\. Allowed choices are bash, zsh/)
  })
})
