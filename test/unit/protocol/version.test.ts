import { readFile } from 'node:fs/promises'
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { CLUSTERD_VERSION } from '../../../protocol/version.js'

it('CLUSTERD_VERSION equals the version in package.json', async () => {
  let dir = new URL('.', import.meta.url)
  for (let i = 0; i < 8; i++) {
    try {
      const pkg = JSON.parse(await readFile(new URL('package.json', dir), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'clusterd') {
        assert.equal(CLUSTERD_VERSION, pkg.version)
        return
      }
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err
    }
    dir = new URL('..', dir)
  }
  assert.fail('package.json of clusterd not found above the test file')
})
