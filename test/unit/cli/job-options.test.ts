/**
 * The options job verbs share (cli/job-options.ts) as the built program shows them: every verb
 * that picks nodes takes `[names...]` and `-l/--selector` with one help text, its "every node"
 * flag where it has one, `--var`/`--vars-file` and `--wait` alike; the options stay in the
 * order the help has always listed them.
 */

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Command } from 'commander'
import { buildProgram } from '../../../cli/program.js'

const program = buildProgram({ stdout: () => {}, stderr: () => {}, env: {} })

function verb (path: string): Command {
  let cmd: Command | undefined = program
  for (const word of path.split(' ')) cmd = cmd?.commands.find(c => c.name() === word)
  assert.ok(cmd !== undefined, `no verb ${path}`)
  return cmd
}

const flags = (path: string): string[] => verb(path).options.map(o => o.long ?? o.short ?? '')
const help = (path: string, flag: string): string => verb(path).options.find(o => o.long === flag)?.description ?? ''

describe('job verb options', () => {
  it('each job verb lists its options in the order its help always had', () => {
    assert.deepEqual(flags('commission'), ['--role', '--var', '--vars-file', '--all-discovered', '--selector', '--wait'])
    assert.deepEqual(flags('decommission'), ['--selector', '--yes', '--wait'])
    assert.deepEqual(flags('upgrade').slice(0, 4), ['--all', '--selector', '--var', '--batch-size'])
    assert.deepEqual(flags('verify'), ['--all', '--selector', '--wait'])
    assert.deepEqual(flags('reconfigure'), ['--all', '--selector', '--wait'])
    assert.deepEqual(flags('node set-roles'), ['--role', '--var', '--vars-file', '--wait'])
  })

  it('names the verb in [names...] and --all, and shares one selector, --var and --wait text', () => {
    for (const path of ['commission', 'decommission', 'upgrade', 'verify', 'reconfigure']) {
      const names = verb(path).registeredArguments[0]
      assert.equal(names?.name(), 'names')
      assert.equal(names?.variadic, true)
      assert.equal(names?.description, `nodes to ${path}`)
      assert.equal(help(path, '--selector'), help('nodes', '--selector'))
    }
    assert.equal(help('verify', '--all'), 'verify every commissioned, uncordoned node')
    assert.equal(help('reconfigure', '--all'), 'reconfigure every commissioned, uncordoned node')
    assert.match(help('upgrade', '--all'), /^upgrade every commissioned, uncordoned node \(an agent upgrade/)
    assert.equal(help('commission', '--var'), help('upgrade', '--var'))
    assert.equal(help('commission', '--vars-file'), help('node set-roles', '--vars-file'))
    for (const path of ['commission', 'decommission', 'upgrade', 'reconfigure', 'node set-roles', 'node label', 'job resume', 'job retry']) {
      assert.equal(help(path, '--wait'), help('commission', '--wait'), path)
    }
    assert.match(help('verify', '--wait'), /9 on drift/)
  })

  it('--var collects every value in order', async () => {
    const cmd = verb('upgrade')
    cmd.exitOverride()
    cmd.action(() => {})
    await cmd.parseAsync(['--var', 'a=1', '--var', 'b=2'], { from: 'user' })
    assert.deepEqual(cmd.opts().var, ['a=1', 'b=2'])
  })
})
