import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ClusterdError } from '../../../../protocol/errors.js'
import { Router } from '../../../../agent/api/router.js'

const handler = (name: string) => async () => name

describe('Router', () => {
  it('matches literal and :param segments and requires the same segment count', () => {
    const r = new Router()
    r.add('GET', '/v1/jobs/:id/events', handler('events'))
    const m = r.match('GET', '/v1/jobs/42/events')
    assert.equal(m.kind, 'found')
    assert.deepEqual(m.kind === 'found' ? m.params : null, { id: '42' })
    assert.equal(r.match('GET', '/v1/jobs/42').kind, 'not-found')
    assert.equal(r.match('GET', '/v1/jobs//events').kind, 'not-found')
    assert.equal(r.match('GET', '/v1/jobs/42/events/').kind, 'not-found')
  })

  it('reports the allowed methods when only the method differs', () => {
    const r = new Router()
    r.add('POST', '/v1/x', handler('post'))
    r.add('GET', '/v1/:any', handler('get'))
    assert.deepEqual(r.match('DELETE', '/v1/x'), { kind: 'method-not-allowed', allow: ['GET', 'POST'] })
  })

  it('rejects malformed percent-encoding as an invalid argument', () => {
    const r = new Router()
    r.add('GET', '/v1/nodes/:name', handler('n'))
    assert.throws(() => r.match('GET', '/v1/nodes/%E0%A4%A'), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_INVALID_ARGUMENT')
  })

  it('refuses duplicate and malformed patterns', () => {
    const r = new Router()
    r.add('GET', '/v1/nodes/:name', handler('a'))
    assert.throws(() => { r.add('GET', '/v1/nodes/:other', handler('b')) }, /duplicate route/)
    assert.throws(() => { r.add('GET', 'v1/x', handler('c')) }, /must start with/)
    assert.throws(() => { r.add('GET', '/v1//x', handler('d')) }, /empty segment/)
  })
})
