// The one name vocabulary (protocol/names.ts): its rules, and bootstrap.sh's bash copies of
// them judged by a real bash on the same inputs.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import {
  DNS_NAME_PATTERN, LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN, NODE_NAME_PATTERN,
  isNodeName, isPeerId, labelProblem, nodeNameProblem
} from '../../../protocol/names.js'
import { checkClaim } from '../../../protocol/fencing-wire.js'
import { decodeClaim } from '../../../protocol/manager-wire.js'
import { decodeDatagram, encodeDatagram } from '../../../protocol/swim-wire.js'
import { HOSTILE_STRINGS, Prng, fuzzSeed } from '../../harness/fuzz.js'
import { SCRIPT } from '../bootstrap/bootstrap-run.js'

/** bootstrap.sh's pattern variables and the rule of protocol/names.ts each must agree with. */
const BASH_PATTERNS: Array<[string, RegExp]> = [
  ['NODE_NAME_RE', NODE_NAME_PATTERN],
  ['LABEL_KEY_RE', LABEL_KEY_PATTERN],
  ['LABEL_VALUE_RE', LABEL_VALUE_PATTERN],
  ['DNS_NAME_RE', DNS_NAME_PATTERN]
]

/** The single-quoted value of `NAME='...'` in bootstrap.sh. */
function bashPattern (script: string, name: string): string {
  const m = new RegExp(`^${name}='([^']*)'$`, 'm').exec(script)
  assert.ok(m?.[1] !== undefined, `bootstrap.sh defines ${name}='...'`)
  return m[1]
}

/** Which of `inputs` bash's `[[ $s =~ $re ]]` accepts, under bootstrap's LC_ALL=C. */
function bashMatches (re: string, inputs: readonly string[]): boolean[] {
  const script = 're=$1; shift; for s in "$@"; do if [[ $s =~ $re ]]; then printf 1; else printf 0; fi; done'
  const r = spawnSync('bash', ['-c', script, 'bash', re, ...inputs], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } })
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout.length, inputs.length)
  return [...r.stdout].map(c => c === '1')
}

/** Edge cases of every rule, plus seeded random strings over the characters the rules care about. */
function corpus (): string[] {
  const fixed = [
    'a', 'A', '0', 'web1', 'Web1', 'web-1', 'web.1', 'web-', '-web', 'web.', '.web', 'we_b', 'we/b', 'a/b', 'a..b', 'a--b',
    'rack=r1', 'zone:a', 'x@y', 'a+b', 'a b', 'é', 'example.com', 'example.com.', 'a.-b.com', 'a-.b.com', '',
    'a'.repeat(62), 'a'.repeat(63), 'a'.repeat(64), `a${'-'.repeat(61)}a`, `a${'.'.repeat(61)}a`, `${'a'.repeat(63)}.${'b'.repeat(63)}`,
    ...HOSTILE_STRINGS.filter(s => !s.includes('\u0000'))
  ]
  const r = new Prng(fuzzSeed(1414))
  const alphabet = ['a', 'Z', '0', '9', '-', '.', '_', '/', ':', '=', '@', ' ', 'é']
  const random: string[] = []
  for (let i = 0; i < 400; i++) {
    let s = ''
    const n = r.int(70)
    for (let j = 0; j < n; j++) s += r.chance(0.7) ? r.pick(['a', 'b', 'Z', '0', '9']) : r.pick(alphabet)
    random.push(s)
  }
  return [...fixed, ...random]
}

describe('protocol/names.ts', () => {
  it('node names are DNS-label-like: 1-63 characters, starting and ending with a letter or digit', () => {
    for (const ok of ['a', 'web1', 'Web1', 'web-1', 'db.eu-1', 'a'.repeat(63)]) assert.equal(nodeNameProblem(ok), undefined, ok)
    for (const bad of ['', 'web-', '-web', 'web.', 'we_b', 'we b', 'a'.repeat(64), '$(reboot)']) {
      assert.match(nodeNameProblem(bad) ?? '', /^expected 1-63 letters, digits, "\." or "-", starting and ending with a letter or digit; got "/, bad)
      assert.equal(isNodeName(bad), false, bad)
    }
    assert.equal(nodeNameProblem(7), 'expected 1-63 letters, digits, "." or "-", starting and ending with a letter or digit; got number')
    assert.equal(isNodeName(null), false)
  })

  it('labels: keys may hold "/", values may be empty; anything else outside the rule is refused with a reason', () => {
    assert.equal(labelProblem('example.com/rack', 'r1'), undefined)
    assert.equal(labelProblem('zone', ''), undefined)
    assert.match(labelProblem('zone-', 'a') ?? '', /^label key "zone-" is invalid: expected 1-63/)
    assert.match(labelProblem('zone', 'a/b') ?? '', /^label value "a\/b" for key "zone" is invalid: expected up to 63/)
    assert.match(labelProblem('zone', 'a:b') ?? '', /is invalid/)
    assert.match(labelProblem('zone', 3) ?? '', /^label value number for key "zone" is invalid/)
  })

  it('peer ids are base58btc text of 40-64 characters', () => {
    assert.ok(isPeerId('12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'))
    for (const bad of ['', '12D3KooW0000', '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsN0', 'l'.repeat(52), 7]) assert.equal(isPeerId(bad), false, String(bad))
  })

  it("bootstrap.sh's patterns accept exactly what protocol/names.ts accepts (judged by bash)", () => {
    const script = readFileSync(SCRIPT, 'utf8')
    const inputs = corpus()
    for (const [name, pattern] of BASH_PATTERNS) {
      // A DNS name's 253-character limit is not in the bash pattern: the agent checks it.
      const judged = name === 'DNS_NAME_RE' ? inputs.filter(s => s.length <= 253) : inputs
      const bash = bashMatches(bashPattern(script, name), judged)
      const differ = judged.filter((s, i) => bash[i] !== pattern.test(s))
      assert.deepEqual(differ, [], `${name} in bootstrap.sh and protocol/names.ts disagree on these inputs`)
      assert.ok(bash.some(x => x) && bash.some(x => !x), `${name}: the corpus has inputs on both sides`)
    }
  })

  it('the wire decoders that carry a node name hold it to the same rule (web- and a 64-character name refused)', () => {
    const peer = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
    const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
    const claim = (name: string): boolean => decodeClaim(enc({ t: 'claim', epoch: 3, peerId: peer, name, since: '2026-01-01T00:00:00Z' })).ok
    const lease = (node: string): boolean => checkClaim({ op: 'acquire', epoch: 1, holder: peer, node, leaseId: 'a'.repeat(32), at: 1 }).ok
    const datagram = (name: string): boolean => decodeDatagram(encodeDatagram({
      t: 'gossip', from: peer, gossip: [{ t: 'alive', info: { id: peer, name, incarnation: 1, addr: { host: '10.0.0.1', port: 7946 }, eligible: true, record: new Uint8Array(4), left: false } }]
    })).ok
    for (const decoder of [claim, lease, datagram]) {
      assert.equal(decoder('web-1'), true, decoder.name)
      for (const bad of ['web-', '-web', 'a'.repeat(64), 'we_b']) assert.equal(decoder(bad), false, `${decoder.name} ${bad}`)
    }
    assert.equal(lease('a\u0000b'), false)
  })
})
