// Redaction: secret-named fields and secret values anywhere inside strings are replaced;
// file paths and ordinary fields stay; short values are not searched for.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { REDACTED, Redactor, hasSecretField, isSecretKey, secretValuesOfFile } from '../../../protocol/redact.js'

const PSK = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90'
const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBvV0+fake+body+line+two+xx==\n-----END OPENSSH PRIVATE KEY-----\n'

describe('Redactor', () => {
  it('replaces secret values wherever they appear in strings, at any depth', () => {
    const r = new Redactor([PSK, ...secretValuesOfFile(KEY)])
    const out = r.value({ msg: `loaded ${PSK} ok`, nested: [{ text: `key line QyNTUxOQAAACBvV0+fake+body+line+two+xx== seen` }], n: 3, ok: true, none: null })
    assert.equal(JSON.stringify(out).includes(PSK), false)
    assert.equal(JSON.stringify(out).includes('fake+body'), false)
    assert.deepEqual(out, { msg: `loaded ${REDACTED} ok`, nested: [{ text: `key line ${REDACTED} seen` }], n: 3, ok: true, none: null })
    assert.equal(r.text(KEY).includes('b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ'), false)
  })

  it('replaces the values of secret-named fields, keeps paths and other fields', () => {
    const out = new Redactor().value({ vars: { db_password: 'hunter2', ntp_server: '10.0.0.9' }, apiToken: 'abc', secretFile: '/etc/clusterd/secret', sshKeyFile: '/k', secret: { any: 'thing' }, token: '' })
    assert.deepEqual(out, { vars: { db_password: REDACTED, ntp_server: '10.0.0.9' }, apiToken: REDACTED, secretFile: '/etc/clusterd/secret', sshKeyFile: '/k', secret: REDACTED, token: '' })
    for (const k of ['password', 'PASSWORD', 'my-passphrase', 'privateKey', 'private_key', 'psk', 'apiKey', 'credentials']) assert.ok(isSecretKey(k), k)
    for (const k of ['secretFile', 'tokenFile', 'keyFile', 'name', 'awaitingSnapshot']) assert.ok(!isSecretKey(k), k)
  })

  it('hasSecretField finds a secret-named field with a value at any depth', () => {
    assert.equal(hasSecretField({ a: [{ b: { db_password: 'x' } }] }), true)
    assert.equal(hasSecretField({ token: '', secretFile: '/s', msg: 'password' }), false)
    assert.equal(hasSecretField('token'), false)
  })

  it('ignores values too short to search for, and stays bounded on deep input', () => {
    assert.equal(new Redactor(['abc', '']).text('abc abc'), 'abc abc')
    let deep: unknown = 'x'
    for (let i = 0; i < 200; i++) deep = [deep]
    assert.doesNotThrow(() => new Redactor([PSK]).value(deep))
  })

  it('a secret file yields its whole text and its body lines, not its armour', () => {
    const values = secretValuesOfFile(KEY)
    assert.ok(values.includes(KEY.trim()))
    assert.ok(values.includes('QyNTUxOQAAACBvV0+fake+body+line+two+xx=='))
    assert.ok(!values.filter(v => v !== KEY.trim()).some(v => v.startsWith('-----')), 'no armour line on its own')
    assert.ok(secretValuesOfFile(`/key/swarm/psk/1.0.0/\n/base16/\n${PSK}\n`).includes(PSK))
  })
})
