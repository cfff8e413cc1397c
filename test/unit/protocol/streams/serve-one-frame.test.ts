import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream, streamPair } from '@libp2p/utils'
import { pino } from 'pino'
import { serveOneFrame, type Admission, type OneFrameProtocol } from '../../../../protocol/streams/serve-one-frame.js'
import { encodeLength } from '../../../../protocol/streams/bounded-frames.js'

const silent = pino({ level: 'silent' })
const from = (peer: string): Connection => ({ remotePeer: { toString: () => peer } }) as unknown as Connection

/** An echo protocol that counts what it decodes and admits only `allowed`. */
function protocol (allowed: string, maxFrameBytes = 1024): OneFrameProtocol<string, string> & { decoded: number } {
  const p = {
    name: 'test',
    maxFrameBytes,
    readTimeoutMs: 2000,
    decoded: 0,
    decode: (bytes: Uint8Array) => { p.decoded++; return { ok: true as const, value: new TextDecoder().decode(bytes) } },
    encode: (reply: string) => new TextEncoder().encode(reply),
    malformed: (reason: string) => `malformed: ${reason}`,
    refused: (reason: string) => `refused: ${reason}`,
    admit: async (peer: string): Promise<Admission> => peer === allowed ? {} : { refused: `${peer} may not send this` },
    handle: async (req: string, peer: string) => `${peer} said ${req}`
  }
  return p
}

async function reply (stream: Stream): Promise<string> {
  return new TextDecoder().decode((await lpStream(stream).read({ signal: AbortSignal.timeout(3000) })).subarray())
}

describe('serveOneFrame', () => {
  it('answers an admitted sender', async () => {
    const [client, server] = await streamPair()
    const p = protocol('alice')
    const served = serveOneFrame(p, server, from('alice'), silent)
    await lpStream(client).write(new TextEncoder().encode('hi'))
    assert.equal(await reply(client), 'alice said hi')
    await client.close()
    await served
    assert.equal(p.decoded, 1)
  })

  it('refuses a sender that is not admitted without decoding anything it sent', async () => {
    const [client, server] = await streamPair()
    const p = protocol('alice')
    const served = serveOneFrame(p, server, from('mallory'), silent)
    // A frame declared at 64 MiB and the first 256 KiB of it.
    client.send(encodeLength(64 * 1024 * 1024))
    client.send(new Uint8Array(256 * 1024))
    assert.equal(await reply(client), 'refused: mallory may not send this')
    client.abort(new Error('done'))
    await served
    assert.equal(p.decoded, 0)
  })

  it('refuses an admitted sender\'s frame declared above the cap on its length alone', async () => {
    const [client, server] = await streamPair()
    const p = protocol('alice', 1024)
    const served = serveOneFrame(p, server, from('alice'), silent)
    client.send(encodeLength(64 * 1024 * 1024))
    assert.match(await reply(client), /^malformed: frame of 67108864 bytes exceeds the cap of 1024/)
    client.abort(new Error('done'))
    await served
    assert.equal(p.decoded, 0)
  })
})
