/**
 * A libp2p 3 connection protector keyed by the cluster secret, replacing @libp2p/pnet.
 *
 * Same idea as pnet: before anything else crosses a new connection each side sends fresh
 * randomness, and from then on every byte is XOR-ed with a keystream derived from the
 * secret, so a peer without the secret cannot even complete the noise handshake. What
 * differs, and why:
 * - The cipher is Node's native streaming ChaCha20 (OpenSSL). pnet 3.0.27's WASM xsalsa20
 *   never frees its per-connection slot and crashes the process after ~5,100 connections
 *   or one large message (docs/architecture.md, "Transport and the cluster secret"). A native cipher
 *   context is released with its JS object.
 * - Each direction's key is HKDF-SHA256(secret, sender nonce || receiver nonce), so the two
 *   directions and every connection get distinct keystreams, from a zero counter.
 * - The hello carries an HMAC tag over the sender's nonce, so a peer holding a different
 *   secret is refused at once with a clear error instead of failing later inside noise
 *   with garbage. The tag proves nothing on its own: a stranger can replay a hello an agent
 *   once sent. So each side then sends a key confirmation, an HMAC under its send key (which
 *   needs the secret and both fresh nonces), and the protector hands the connection on only
 *   after the remote's confirmation checks: a replayed hello fails there, as soon as the
 *   replayer sends anything, instead of holding an upgrade slot into noise. (Peer
 *   authentication stays noise's job; this layer only keeps strangers out.)
 *
 * Wire format, both directions at once: nonce (32 bytes) || HMAC-SHA256(auth key, nonce)
 * (32 bytes), then HMAC-SHA256(send key, "clusterd/psk/2 confirm") (32 bytes), then the
 * ChaCha20-XOR-ed stream.
 */

import { createCipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Cipher } from 'node:crypto'
import { AbstractMessageStream, byteStream } from '@libp2p/utils'
import type { SendResult } from '@libp2p/utils'
import type { AbortOptions, ConnectionProtector, MessageStream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import {
  PSK_CONFIRM_LABEL,
  PSK_HANDSHAKE_TIMEOUT_MS,
  PSK_HKDF_INFO_AUTH,
  PSK_HKDF_INFO_STREAM,
  PSK_NONCE_LENGTH,
  PSK_TAG_LENGTH,
  SECRET_LENGTH
} from './constants.js'

/** Options for {@link pskProtector}. */
export interface PskProtectorInit {
  /** The raw 32-byte cluster secret (see `readSecretFile`), not the swarm-key file text. */
  psk: Uint8Array
  /** Milliseconds the hello exchange may take before the connection is dropped. */
  handshakeTimeoutMs?: number
}

/** What the protector needs from libp2p. Nothing yet: it logs on each connection's logger. */
export type PskProtectorComponents = object

/** The connection closed, timed out or was aborted before both hellos crossed. */
export class PskHandshakeError extends Error {
  override readonly name = 'PskHandshakeError'
}

/** The remote's hello was not made with our cluster secret (or not by clusterd at all). */
export class PskMismatchError extends Error {
  override readonly name = 'PskMismatchError'
}

/** A factory for libp2p's `connectionProtector` option. */
export function pskProtector (init: PskProtectorInit): (components: PskProtectorComponents) => ConnectionProtector {
  // validate at configuration time, not at the first connection
  const authKey = deriveAuthKey(init.psk)
  return (components) => new PskConnectionProtector(components, { ...init, authKey })
}

interface PskConnectionProtectorInit extends PskProtectorInit {
  authKey: Buffer
}

/** Wraps each new raw connection in the secret-keyed stream cipher. */
class PskConnectionProtector implements ConnectionProtector {
  readonly [Symbol.toStringTag] = 'clusterd/psk-protector'
  private readonly psk: Buffer
  private readonly authKey: Buffer
  private readonly timeoutMs: number

  constructor (_components: PskProtectorComponents, init: PskConnectionProtectorInit) {
    this.psk = Buffer.from(init.psk)
    this.authKey = init.authKey
    this.timeoutMs = init.handshakeTimeoutMs ?? PSK_HANDSHAKE_TIMEOUT_MS
  }

  async protect (connection: MessageStream, options: AbortOptions = {}): Promise<MessageStream> {
    const log = connection.log.newScope('psk')
    const localNonce = randomBytes(PSK_NONCE_LENGTH)
    const hello = Buffer.concat([localNonce, helloTag(this.authKey, localNonce)])

    // One controller for our timeout and the caller's signal. Plain listeners rather than
    // AbortSignal.any/timeout, so nothing outlives the handshake on a busy listener.
    const controller = new AbortController()
    const outer = options.signal
    const onOuterAbort = (): void => { controller.abort(outer?.reason) }
    const timer = setTimeout(() => {
      controller.abort(new PskHandshakeError(`cluster secret handshake timed out after ${this.timeoutMs} ms`))
    }, this.timeoutMs)
    outer?.addEventListener('abort', onOuterAbort, { once: true })
    if (outer?.aborted === true) onOuterAbort()

    const bytes = byteStream(connection)
    let sendKey: Buffer
    let receiveKey: Buffer
    try {
      const [remoteHello] = await Promise.all([
        bytes.read({ bytes: PSK_NONCE_LENGTH + PSK_TAG_LENGTH, signal: controller.signal }),
        bytes.write(hello, { signal: controller.signal })
      ])
      const received = Buffer.from(remoteHello.subarray())
      const remoteNonce = received.subarray(0, PSK_NONCE_LENGTH)
      const remoteTag = received.subarray(PSK_NONCE_LENGTH)
      if (!timingSafeEqual(remoteTag, helloTag(this.authKey, remoteNonce))) {
        throw new PskMismatchError('the remote peer does not hold this cluster secret (or does not speak the clusterd protector)')
      }
      // an echoed hello would give both directions the same keystream
      if (timingSafeEqual(remoteNonce, localNonce)) {
        throw new PskMismatchError('the remote peer echoed our own hello')
      }
      sendKey = streamKey(this.psk, localNonce, remoteNonce)
      receiveKey = streamKey(this.psk, remoteNonce, localNonce)
      const [remoteConfirm] = await Promise.all([
        bytes.read({ bytes: PSK_TAG_LENGTH, signal: controller.signal }),
        bytes.write(confirmTag(sendKey), { signal: controller.signal })
      ])
      if (!timingSafeEqual(Buffer.from(remoteConfirm.subarray()), confirmTag(receiveKey))) {
        throw new PskMismatchError('the remote peer did not confirm the connection keys (a replayed hello, or not the clusterd protector)')
      }
    } catch (err) {
      const failure = handshakeFailure(err, outer)
      log.error('cluster secret handshake failed - %e', failure)
      // the upgrader does not own the socket yet on every path: drop it here, idempotently
      connection.abort(failure)
      throw failure
    } finally {
      clearTimeout(timer)
      outer?.removeEventListener('abort', onOuterAbort)
    }

    log('cluster secret handshake complete')
    return new PskMessageStream(bytes.unwrap(), { sendKey, receiveKey })
  }
}

// taken from the base class: libp2p's packages pin their own copy of uint8arraylist
type SendBuffer = Parameters<AbstractMessageStream['sendData']>[0]

interface PskMessageStreamInit {
  sendKey: Buffer
  receiveKey: Buffer
}

/** The protected stream: XORs everything in both directions with its ChaCha20 keystream. */
class PskMessageStream extends AbstractMessageStream {
  private readonly inner: MessageStream
  // ChaCha20 without a MAC is a plain keystream XOR, so a "cipher" both encrypts and decrypts
  private readonly sendCipher: Cipher
  private readonly receiveCipher: Cipher

  constructor (inner: MessageStream, init: PskMessageStreamInit) {
    super({
      log: inner.log,
      direction: inner.direction,
      inactivityTimeout: inner.inactivityTimeout,
      maxReadBufferLength: inner.maxReadBufferLength
    })
    this.inner = inner
    // each key is used for one stream only, so the counter and nonce can start at zero
    const iv = Buffer.alloc(16)
    this.sendCipher = createCipheriv('chacha20', init.sendKey, iv)
    this.receiveCipher = createCipheriv('chacha20', init.receiveKey, iv)

    // listeners are added after the ciphers exist: adding 'message' flushes bytes that
    // arrived right behind the remote hello
    inner.addEventListener('message', (evt: StreamMessageEvent) => {
      const data = evt.data
      if (data instanceof Uint8Array) {
        this.onData(this.receiveCipher.update(data))
      } else {
        for (const chunk of data) this.onData(this.receiveCipher.update(chunk))
      }
    })
    inner.addEventListener('drain', () => { this.onMuxerDrain() })
    inner.addEventListener('remoteCloseWrite', () => { this.onRemoteCloseWrite() })
    inner.addEventListener('close', (evt: StreamCloseEvent) => {
      if (evt.error == null) {
        this.onTransportClosed()
      } else if (evt.local === true) {
        this.abort(evt.error)
      } else {
        this.onRemoteReset()
      }
    })
  }

  override async close (options?: AbortOptions): Promise<void> {
    // bytes queued here while the inner stream needed a drain would be lost if it closed now
    if (this.writeBuffer.byteLength > 0 && this.status === 'open') {
      await settled(this, 'idle', options?.signal)
    }
    await this.inner.close(options)
  }

  override sendData (data: SendBuffer): SendResult {
    let canSendMore = true
    for (const chunk of data) {
      canSendMore = this.inner.send(this.sendCipher.update(chunk))
    }
    return { sentBytes: data.byteLength, canSendMore }
  }

  override sendReset (err: Error): void {
    this.inner.abort(err)
  }

  override sendPause (): void {
    this.inner.pause()
  }

  override sendResume (): void {
    this.inner.resume()
  }
}

/**
 * Resolves on `event` or when the stream closes (nothing left to wait for), rejects if the
 * signal aborts; removes its listeners either way.
 */
async function settled (stream: AbstractMessageStream, event: 'idle', signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const cleanUp = (): void => {
      stream.removeEventListener(event, done)
      stream.removeEventListener('close', done)
      signal?.removeEventListener('abort', aborted)
    }
    const done = (): void => { cleanUp(); resolve() }
    const aborted = (): void => { cleanUp(); reject(signal?.reason) }
    stream.addEventListener(event, done)
    stream.addEventListener('close', done)
    signal?.addEventListener('abort', aborted)
  })
}

function deriveAuthKey (psk: Uint8Array): Buffer {
  if (!(psk instanceof Uint8Array) || psk.byteLength !== SECRET_LENGTH) {
    throw new TypeError(`pskProtector needs the raw ${SECRET_LENGTH}-byte cluster secret, got ${psk instanceof Uint8Array ? `${psk.byteLength} bytes` : typeof psk}`)
  }
  return Buffer.from(hkdfSync('sha256', psk, Buffer.alloc(0), PSK_HKDF_INFO_AUTH, 32))
}

/** Proof of holding a direction's key: only someone with the secret and both nonces can make it. */
function confirmTag (key: Buffer): Buffer {
  return createHmac('sha256', key).update(PSK_CONFIRM_LABEL).digest()
}

function helloTag (authKey: Buffer, nonce: Buffer): Buffer {
  return createHmac('sha256', authKey).update(nonce).digest()
}

/** The key for bytes flowing from the owner of `senderNonce` to the owner of `receiverNonce`. */
function streamKey (psk: Buffer, senderNonce: Buffer, receiverNonce: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', psk, Buffer.concat([senderNonce, receiverNonce]), PSK_HKDF_INFO_STREAM, 32))
}

/** The error protect() rejects with: the caller's own abort reason, or a named failure. */
function handshakeFailure (err: unknown, outer: AbortSignal | undefined): Error {
  if (outer?.aborted === true && outer.reason instanceof Error) return outer.reason
  if (err instanceof PskMismatchError || err instanceof PskHandshakeError) return err
  const reason = err instanceof Error ? err.message : String(err)
  return new PskHandshakeError(`cluster secret handshake failed: ${reason}`, { cause: err })
}
