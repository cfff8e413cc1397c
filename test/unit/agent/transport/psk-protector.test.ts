import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { multiaddrConnectionPair } from '@libp2p/utils'
import type { MessageStream, StreamMessageEvent } from '@libp2p/interface'
import { PskHandshakeError, PskMismatchError, pskProtector } from '../../../../agent/transport/psk-protector.js'
import { generateSecret } from '../../../../agent/transport/secret.js'

// The connections are libp2p's own in-memory MultiaddrConnection pair: real stream
// semantics (events, backpressure, close), no sockets.

function protector (psk: Uint8Array, handshakeTimeoutMs?: number) {
  return pskProtector({ psk, ...(handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs } : {}) })({})
}

/** Everything `stream` emits, as one growing buffer. */
function collect (stream: MessageStream): { bytes: () => Buffer } {
  const chunks: Buffer[] = []
  stream.addEventListener('message', (evt: StreamMessageEvent) => {
    chunks.push(Buffer.from(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()))
  })
  return { bytes: () => Buffer.concat(chunks) }
}

async function until (predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise(resolve => setImmediate(resolve))
  }
}

describe('pskProtector', () => {
  it('carries bytes both ways when both ends hold the same secret, and encrypts them on the wire', async () => {
    const psk = generateSecret()
    const [rawOut, rawIn] = multiaddrConnectionPair()
    const [out, inb] = await Promise.all([protector(psk).protect(rawOut), protector(psk).protect(rawIn)])
    // attached only now: the in-memory pair delivers synchronously, and an early listener
    // would take the hello before protect() is listening
    const wire = collect(rawIn)

    const toIn = collect(inb)
    const toOut = collect(out)
    const a = Buffer.alloc(200_000, 'a')
    const b = Buffer.from('hello from the listener')
    out.send(a)
    inb.send(b)
    await until(() => toIn.bytes().byteLength === a.byteLength && toOut.bytes().byteLength === b.byteLength, 'both payloads')
    assert.deepEqual(toIn.bytes(), a)
    assert.deepEqual(toOut.bytes(), b)

    const onWire = wire.bytes()
    assert.equal(onWire.byteLength, a.byteLength)
    assert.ok(!onWire.includes(Buffer.alloc(64, 'a')), 'plaintext visible on the wire')
  })

  it('uses a different keystream per connection and per direction', async () => {
    const psk = generateSecret()
    const plaintext = Buffer.alloc(256, 0)
    const ciphertexts: Buffer[] = []
    for (let i = 0; i < 2; i++) {
      const [rawOut, rawIn] = multiaddrConnectionPair()
      const [out, inb] = await Promise.all([protector(psk).protect(rawOut), protector(psk).protect(rawIn)])
      const wireIn = collect(rawIn)
      const wireOut = collect(rawOut)
      out.send(plaintext)
      inb.send(plaintext)
      await until(() => wireIn.bytes().byteLength === 256 && wireOut.bytes().byteLength === 256, 'ciphertext')
      // XOR with zeros: the wire shows the keystream itself
      ciphertexts.push(wireIn.bytes(), wireOut.bytes())
      await out.close()
    }
    assert.equal(new Set(ciphertexts.map(c => c.toString('hex'))).size, 4)
  })

  it('delivers everything sent before close even when the connection applied backpressure', async () => {
    const psk = generateSecret()
    const [rawOut, rawIn] = multiaddrConnectionPair({ capacity: 1 })
    const [out, inb] = await Promise.all([protector(psk).protect(rawOut), protector(psk).protect(rawIn)])
    const received = collect(inb)
    const chunks = Array.from({ length: 20 }, (_, i) => Buffer.alloc(1000, i))
    for (const chunk of chunks) out.send(chunk)
    assert.ok(out.writeBufferLength > 0, 'the test needs bytes still queued in the protected stream')
    await out.close()
    await until(() => received.bytes().byteLength >= 20_000, 'all bytes')
    assert.deepEqual(received.bytes(), Buffer.concat(chunks))
  })

  it('refuses a peer holding a different secret on both ends, and drops the connection', async () => {
    const [rawOut, rawIn] = multiaddrConnectionPair()
    const results = await Promise.allSettled([
      protector(generateSecret()).protect(rawOut),
      protector(generateSecret()).protect(rawIn)
    ])
    for (const result of results) {
      assert.equal(result.status, 'rejected')
      assert.ok(result.reason instanceof PskMismatchError, String(result.reason))
    }
    // each end aborts; whichever abort lands first shows as a reset on the other end
    assert.ok(['aborted', 'reset'].includes(rawOut.status), rawOut.status)
    assert.ok(['aborted', 'reset'].includes(rawIn.status), rawIn.status)
  })

  it('refuses a peer that echoes our own hello back', async () => {
    const [rawOut, rawIn] = multiaddrConnectionPair()
    rawIn.addEventListener('message', (evt: StreamMessageEvent) => { rawIn.send(evt.data) })
    await assert.rejects(protector(generateSecret()).protect(rawOut), (err: unknown) => {
      assert.ok(err instanceof PskMismatchError)
      assert.match(err.message, /echoed/)
      return true
    })
  })

  it('refuses a replayed hello at the key confirmation, as soon as the replayer sends anything', async () => {
    // Capture a hello the agent sent on one connection (what a stranger on the path, or one it
    // dialled, can record), then replay it on a new connection without knowing the secret.
    const psk = generateSecret()
    const [capOut, capIn] = multiaddrConnectionPair()
    const captured = collect(capIn)
    void protector(psk, 300).protect(capOut).catch(() => {})
    await until(() => captured.bytes().length >= 64, 'the first hello')
    const hello = captured.bytes().subarray(0, 64)

    const [rawIn, rawStranger] = multiaddrConnectionPair()
    const seen = collect(rawStranger)
    const started = Date.now()
    const victim = protector(psk, 10_000).protect(rawIn)
    rawStranger.send(hello)
    // The victim accepts the hello (its tag is genuine) and sends its confirmation...
    await until(() => seen.bytes().length >= 96, 'the victim hello and confirmation')
    // ... and the replayer, who cannot derive the keys, can only guess one.
    rawStranger.send(Buffer.alloc(32, 7))
    await assert.rejects(victim, (err: unknown) => {
      assert.ok(err instanceof PskMismatchError, String(err))
      assert.match(err.message, /did not confirm the connection keys/)
      return true
    })
    assert.ok(Date.now() - started < 2_000, 'refused at once, not at the timeout')
    assert.equal(rawIn.status, 'aborted')
  })

  it('a replayer that stays silent after the hello holds the connection only until the handshake timeout', async () => {
    const psk = generateSecret()
    const [capOut, capIn] = multiaddrConnectionPair()
    const captured = collect(capIn)
    void protector(psk, 300).protect(capOut).catch(() => {})
    await until(() => captured.bytes().length >= 64, 'the first hello')
    const [rawIn, rawStranger] = multiaddrConnectionPair()
    const started = Date.now()
    const victim = protector(psk, 300).protect(rawIn)
    rawStranger.send(captured.bytes().subarray(0, 64))
    await assert.rejects(victim, (err: unknown) => err instanceof PskHandshakeError && /timed out after 300 ms/.test(err.message))
    assert.ok(Date.now() - started < 2_000)
    assert.equal(rawIn.status, 'aborted')
  })

  it('fails cleanly when the peer never answers', async () => {
    const [rawOut] = multiaddrConnectionPair()
    const started = Date.now()
    await assert.rejects(protector(generateSecret(), 200).protect(rawOut), (err: unknown) => {
      assert.ok(err instanceof PskHandshakeError)
      assert.match(err.message, /timed out after 200 ms/)
      return true
    })
    assert.ok(Date.now() - started < 2_000)
    assert.equal(rawOut.status, 'aborted')
  })

  it('fails cleanly when the peer closes mid-handshake', async () => {
    const [rawOut, rawIn] = multiaddrConnectionPair()
    rawIn.send(Buffer.alloc(10, 1))
    const rejected = assert.rejects(protector(generateSecret()).protect(rawOut), (err: unknown) => {
      assert.ok(err instanceof PskHandshakeError)
      assert.match(err.message, /handshake failed: Unexpected EOF/)
      return true
    })
    await rawIn.close()
    await rejected
  })

  it("rejects with the caller's abort reason when the caller aborts", async () => {
    const [rawOut] = multiaddrConnectionPair()
    const controller = new AbortController()
    const reason = new Error('dial cancelled')
    const rejected = assert.rejects(protector(generateSecret()).protect(rawOut, { signal: controller.signal }), (err: unknown) => err === reason)
    controller.abort(reason)
    await rejected
    assert.equal(rawOut.status, 'aborted')
  })

  it('refuses an already aborted signal without waiting', async () => {
    const [rawOut] = multiaddrConnectionPair()
    const reason = new Error('too late')
    await assert.rejects(protector(generateSecret()).protect(rawOut, { signal: AbortSignal.abort(reason) }), (err: unknown) => err === reason)
  })

  it('rejects a secret that is not 32 raw bytes at configuration time', () => {
    // the most likely mix-up: passing the 95-byte swarm key file instead of the key
    assert.throws(() => pskProtector({ psk: new Uint8Array(95) }), /raw 32-byte cluster secret, got 95 bytes/)
  })
})
