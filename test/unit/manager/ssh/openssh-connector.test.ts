/** How the certificate connector reads ssh's failures, and the loopback rule of the TCP API. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { classifySshFailure } from '../../../../manager/ssh/openssh-connector.js'
import { isLoopbackHost } from '../../../../protocol/loopback.js'

describe('classifySshFailure', () => {
  it('tells host-key, login and network failures apart from OpenSSH 9 stderr', () => {
    assert.equal(classifySshFailure('Host key verification failed.\r\n'), 'host-key-mismatch')
    assert.equal(classifySshFailure('@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n'), 'host-key-mismatch')
    assert.equal(classifySshFailure('No ED25519 host key is known for n1 and you have requested strict checking.\nHost key verification failed.'), 'host-key-mismatch')
    assert.equal(classifySshFailure('root@10.0.0.2: Permission denied (publickey).\r\n'), 'auth-failed')
    assert.equal(classifySshFailure('Received disconnect from 10.0.0.2 port 22:2: Too many authentication failures'), 'auth-failed')
    assert.equal(classifySshFailure('ssh: connect to host 10.0.0.2 port 22: Connection refused\r\n'), 'unreachable')
    assert.equal(classifySshFailure('ssh: connect to host 10.0.0.2 port 22: Connection timed out'), 'unreachable')
    assert.equal(classifySshFailure(''), 'unreachable')
  })
})

describe('isLoopbackHost', () => {
  it('is true only for addresses that never leave the machine', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(h), true, h)
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '1127.0.0.1', '::2', 'localhost.example.com', '::ffff:10.0.0.1', '']) assert.equal(isLoopbackHost(h), false, h)
  })
})
