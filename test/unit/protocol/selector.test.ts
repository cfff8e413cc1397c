import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_SELECTOR_LENGTH, matchSelector, parseSelector, type NodeSelector } from '../../../protocol/selector.js'
import type { NodeRecord } from '../../../protocol/nodes.js'

function parsed (text: string): NodeSelector {
  const p = parseSelector(text)
  assert.ok(p.ok, `expected ${text} to parse: ${JSON.stringify(p)}`)
  return p.selector
}

function reason (text: unknown): string {
  const p = parseSelector(text)
  assert.ok(!p.ok, `expected ${String(text)} to be refused`)
  return p.reason
}

const node = (over: Partial<Pick<NodeRecord, 'state' | 'roles' | 'labels'>> = {}): Pick<NodeRecord, 'state' | 'roles' | 'labels'> =>
  ({ state: 'commissioned', roles: ['base', 'worker'], labels: { zone: 'a', rack: 'r1' }, ...over })

describe('node selectors (protocol/selector.ts)', () => {
  it('parses labels, state and repeated roles', () => {
    assert.deepEqual(parsed('zone=a'), { labels: { zone: 'a' }, roles: [] })
    assert.deepEqual(parsed('state=commissioned,role=worker,role=base,zone=a,example.com/tier=gold'),
      { labels: { zone: 'a', 'example.com/tier': 'gold' }, state: 'commissioned', roles: ['worker', 'base'] })
    assert.deepEqual(parsed('zone='), { labels: { zone: '' }, roles: [] }, 'an empty value is a label value')
  })

  it('refuses bad input with a reason, never throws', () => {
    assert.match(reason(''), /empty/)
    assert.match(reason(42), /must be a string/)
    assert.match(reason(null), /must be a string/)
    assert.match(reason('zone'), /"zone" is not K=V/)
    assert.match(reason('zone=a,'), /"" is not K=V/)
    assert.match(reason('state=sleeping'), /state="sleeping": expected one of discovered, .*broken/)
    assert.match(reason('state=commissioned,state=broken'), /state twice/)
    assert.match(reason('role=Worker'), /not a role name/)
    assert.match(reason('zone=a,zone=b'), /zone twice/)
    assert.match(reason('-bad=x'), /selector key "-bad" is invalid/)
    assert.match(reason('zone=a b'), /value for zone is invalid/)
    assert.match(reason('a=' + 'x'.repeat(MAX_SELECTOR_LENGTH)), /longer than/)
    assert.match(reason(Array.from({ length: 17 }, (_, i) => `k${i}=v`).join(',')), /more than 16 terms/)
  })

  it('matches when every term holds (labels equal, state equal, every role present)', () => {
    assert.equal(matchSelector(parsed('zone=a'), node()), true)
    assert.equal(matchSelector(parsed('zone=b'), node()), false)
    assert.equal(matchSelector(parsed('zone=a,rack=r2'), node()), false)
    assert.equal(matchSelector(parsed('role=worker'), node()), true)
    assert.equal(matchSelector(parsed('role=worker,role=storage'), node()), false)
    assert.equal(matchSelector(parsed('state=commissioned,role=base'), node()), true)
    assert.equal(matchSelector(parsed('state=broken'), node()), false)
    assert.equal(matchSelector(parsed('zone='), node()), false, 'an absent label is not an empty one')
    assert.equal(matchSelector(parsed('zone='), node({ labels: { zone: '' } })), true)
    assert.equal(matchSelector(parsed('toString=x'), node({ labels: {} })), false, 'no prototype keys')
  })
})
