import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { crossSiteReason } from '../../../../agent/api/same-origin.js'

describe('crossSiteReason', () => {
  it('lets through what is not from a browser, and same-origin browser requests', () => {
    assert.equal(crossSiteReason({}), null)
    assert.equal(crossSiteReason({ host: '127.0.0.1:8080' }), null)
    assert.equal(crossSiteReason({ 'sec-fetch-site': 'same-origin', origin: 'http://127.0.0.1:8080', host: '127.0.0.1:8080' }), null)
    assert.equal(crossSiteReason({ 'sec-fetch-site': 'none', host: '10.0.0.1:7947' }), null)
    assert.equal(crossSiteReason({ origin: 'https://10.0.0.1:7947', host: '10.0.0.1:7947' }), null)
  })

  it('refuses what a browser marks as coming from another site', () => {
    assert.match(String(crossSiteReason({ 'sec-fetch-site': 'cross-site', host: 'a:1' })), /cross-site/)
    assert.match(String(crossSiteReason({ 'sec-fetch-site': 'same-site', host: 'a:1' })), /same-site/)
  })

  it('refuses an Origin other than the Host it was sent to, an opaque one and a malformed one', () => {
    assert.match(String(crossSiteReason({ origin: 'https://evil.example', host: '127.0.0.1:8080' })), /evil\.example/)
    assert.match(String(crossSiteReason({ origin: 'http://127.0.0.1:9999', host: '127.0.0.1:8080' })), /9999/)
    assert.notEqual(crossSiteReason({ origin: 'null', host: '127.0.0.1:8080' }), null)
    assert.notEqual(crossSiteReason({ origin: 'null' }), null)
    assert.match(String(crossSiteReason({ origin: 'not a url', host: 'x' })), /not a URL/)
  })
})
