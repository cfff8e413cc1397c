import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { NodeBoot } from '../../../../protocol/members.js'
import type { LifecycleState } from '../../../../protocol/nodes.js'
import { validateConfigValue } from '../../../../manager/api/config-values.js'
import { RETURN_MIN_OUTAGE_MS, detectReturn, onReturnPolicy, returnJob } from '../../../../manager/on-return/on-return.js'

const BOOT: NodeBoot = { id: 'b-1', agentStartedAt: '2026-11-22T10:00:00.000Z' }
const known = (over: { state?: LifecycleState, reachable?: boolean, boot?: NodeBoot | null } = {}): { state: LifecycleState, reachable: boolean, boot: NodeBoot | null } =>
  ({ state: 'commissioned', reachable: true, boot: BOOT, ...over })

describe('detectReturn: when a commissioned node counts as back', () => {
  it('an agent restart (new start time, same boot) counts even if the node never looked unreachable', () => {
    assert.match(detectReturn(known(), { reachable: true, boot: { ...BOOT, agentStartedAt: '2026-11-22T10:05:00.000Z' } }) ?? '', /agent restarted/)
  })

  it('a reboot (new boot id) counts and says so', () => {
    assert.match(detectReturn(known(), { reachable: true, boot: { id: 'b-2', agentStartedAt: '2026-11-22T10:05:00.000Z' } }) ?? '', /rebooted/)
  })

  it('reachable again after failed/left counts, with or without a boot', () => {
    assert.match(detectReturn(known({ reachable: false }), { reachable: true, boot: BOOT }) ?? '', /reachable again/)
    assert.match(detectReturn(known({ reachable: false, boot: null }), { reachable: true, boot: null }) ?? '', /reachable again/)
  })

  it('an outage shorter than the minimum is a flap, not a return; unknown or long outages count', () => {
    assert.equal(detectReturn(known({ reachable: false }), { reachable: true, boot: BOOT }, { outageMs: RETURN_MIN_OUTAGE_MS - 1 }), null)
    assert.match(detectReturn(known({ reachable: false }), { reachable: true, boot: BOOT }, { outageMs: RETURN_MIN_OUTAGE_MS }) ?? '', /reachable again/)
    assert.equal(detectReturn(known({ reachable: false }), { reachable: true, boot: BOOT }, { outageMs: 4_000, minOutageMs: 5_000 }), null)
    assert.match(detectReturn(known({ reachable: false }), { reachable: true, boot: { ...BOOT, agentStartedAt: 'later' } }, { outageMs: 1 }) ?? '', /agent restarted/)
  })

  it('unreachable only in a starting manager\'s eyes: a return needs a new boot (no cluster-wide "return" on failover)', () => {
    assert.equal(detectReturn(known({ reachable: false }), { reachable: true, boot: BOOT }, { unreachableWasSeen: false }), null)
    assert.match(detectReturn(known({ reachable: false }), { reachable: true, boot: { ...BOOT, agentStartedAt: 'later' } }, { unreachableWasSeen: false }) ?? '', /agent restarted/)
  })

  it('nothing changed, still unreachable, or not commissioned: no return', () => {
    assert.equal(detectReturn(known(), { reachable: true, boot: BOOT }), null)
    assert.equal(detectReturn(known({ reachable: false }), { reachable: false, boot: { ...BOOT, agentStartedAt: 'later' } }), null)
    for (const state of ['discovered', 'commissioning', 'upgrading', 'commission-failed', 'decommissioned'] as const) {
      assert.equal(detectReturn(known({ state, reachable: false }), { reachable: true, boot: { id: 'b-9', agentStartedAt: 'x' } }), null, state)
    }
    assert.equal(detectReturn(undefined, { reachable: true, boot: BOOT }), null)
  })

  it('an unknown boot on either side is a baseline, not a return (agents from before boot facts)', () => {
    assert.equal(detectReturn(known({ boot: null }), { reachable: true, boot: BOOT }), null)
    assert.equal(detectReturn(known(), { reachable: true, boot: null }), null)
    // An unreadable boot id ('') compares by agent start only.
    assert.equal(detectReturn(known({ boot: { id: '', agentStartedAt: BOOT.agentStartedAt } }), { reachable: true, boot: BOOT }), null)
  })
})

describe('on-return policy', () => {
  it('none starts no job; verify and reconfigure start a job of that kind', () => {
    assert.equal(returnJob('none'), null)
    assert.equal(returnJob('verify'), 'verify')
    assert.equal(returnJob('reconfigure'), 'reconfigure')
  })

  it('defaults to verify when never set or unreadable', () => {
    assert.equal(onReturnPolicy(undefined), 'verify')
    assert.equal(onReturnPolicy('explode'), 'verify')
    assert.equal(onReturnPolicy('none'), 'none')
  })

  it('config set accepts exactly verify|reconfigure|none', () => {
    for (const v of ['verify', 'reconfigure', 'none']) assert.equal(validateConfigValue('on-return', v), v)
    for (const v of ['Verify', 'off', '', 1, null]) {
      assert.throws(() => validateConfigValue('on-return', v), (err: any) => err.code === 'CLUSTERD_ERR_INVALID_ARGUMENT' && /verify, reconfigure or none/.test(err.message))
    }
  })
})
