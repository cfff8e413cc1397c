// The agent-upgrade flags of `clusterctl upgrade`: what goes into the request body.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { resolve } from 'node:path'
import { agentUpgradeFields } from '../../../../cli/commands/upgrade.js'

describe('clusterctl upgrade --agent-version / --agent-release', () => {
  it('sends nothing of an agent upgrade without its flags', () => {
    assert.deepEqual(agentUpgradeFields({}), {})
  })

  it('sends the version, and the release as an absolute path (the manager reads it on its node)', () => {
    assert.deepEqual(agentUpgradeFields({ agentVersion: '0.2.0' }), { agentVersion: '0.2.0' })
    assert.deepEqual(agentUpgradeFields({ agentRelease: 'dist/release/clusterd-0.2.0-0123456789ab.tar.gz', force: true }),
      { agentRelease: resolve('dist/release/clusterd-0.2.0-0123456789ab.tar.gz'), force: true })
  })

  it('leaves --force alone to the revision upgrade (upgrade --to REV --force)', () => {
    assert.deepEqual(agentUpgradeFields({ force: true }), {})
  })
})
