/**
 * Child process for the "authorise, then read" tests: a hostile libp2p peer run inside a test
 * host. It holds the cluster secret and either a member's identity (`--data-dir` of a member's
 * agent on the same host) or a fresh one, dials an agent and floods one protocol with frames.
 * Prints one JSON line with what happened to each stream: bytes handed to the stream (with
 * backpressure honoured) before it ended, how it ended (a reply frame or a reset) and when.
 *
 * Usage: hostile-peer.js --secret FILE --identity-dir DIR --listen IP --target MULTIADDR
 *   --protocol replicate|forward --streams N --bytes N [--valid-json]
 *
 * Forge mode (`--forge`): as a member holding the secret, send sealed SWIM gossip datagrams to
 * `--to host:port,...`: a `dead` claim about `--victim` at incarnation 2^32 - 1, and a manager
 * claim signed with the identity's key at epoch 2^32 - 1 and at `--epoch-near` (a jump just over
 * the bound), each several times; prints what it sent.
 *
 * Raw mode (`--raw-hello`): no libp2p, no secret: read the target's hello on one TCP connection,
 * replay it on `--streams` new ones (silent afterwards, or sending garbage with `--garbage`),
 * and report for each when the agent closed it.
 */

import { connect, type Socket } from 'node:net'
import { parseArgs } from 'node:util'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createClusterNode } from '../../agent/libp2p/create-node.js'
import { loadOrCreateIdentity } from '../../agent/identity/identity.js'
import { readSecretFile } from '../../agent/transport/secret.js'
import { encodeLength } from '../../protocol/streams/bounded-frames.js'
import { REPLICATE_PROTOCOL } from '../../protocol/replication-wire.js'
import { FORWARD_PROTOCOL, MANAGER_KEY_PREFIX } from '../../protocol/manager-wire.js'
import { encodeDatagram } from '../../protocol/swim-wire.js'
import { DatagramChannel } from '../../agent/transport/datagram-channel.js'
import { sealEnvelope } from '../../agent/identity/signed-envelope.js'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { pino } from 'pino'

const { values: o } = parseArgs({
  options: {
    secret: { type: 'string' },
    'identity-dir': { type: 'string' },
    listen: { type: 'string' },
    target: { type: 'string' },
    protocol: { type: 'string', default: 'replicate' },
    streams: { type: 'string', default: '1' },
    bytes: { type: 'string', default: '1024' },
    'valid-json': { type: 'boolean', default: false },
    'raw-hello': { type: 'boolean', default: false },
    garbage: { type: 'boolean', default: false },
    forge: { type: 'boolean', default: false },
    to: { type: 'string' },
    victim: { type: 'string' },
    name: { type: 'string' },
    'epoch-near': { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' }
  }
})

/** What happened to one stream. */
interface StreamResult {
  handed: number
  ended: 'reply' | 'reset' | 'open-refused' | 'done'
  ms: number
  reply?: string
  error?: string
}

/** One frame's body: valid JSON of about `n` bytes (what the receiver would parse) or filler. */
function body (n: number, validJson: boolean, protocol: string): Uint8Array {
  if (!validJson) return new Uint8Array(n).fill(0x41)
  const head = protocol === 'forward'
    ? '{"key":"GET /v1/hostile-nowhere","params":{},"query":{},"body":{"x":"'
    : '{"t":"batch","epoch":1,"batch":{"revision":1,"ops":[{"type":"put","key":"k","value":"'
  const tail = protocol === 'forward' ? '"}}' : '"}]}}'
  const fill = Math.max(0, n - head.length - tail.length)
  return new TextEncoder().encode(head + 'x'.repeat(fill) + tail)
}

/** Write `data` honouring backpressure; resolves with the bytes handed over when done or when the stream dies. */
async function writeAll (stream: Stream, data: Uint8Array): Promise<{ handed: number, error?: string }> {
  let handed = 0
  const chunk = 64 * 1024
  try {
    while (handed < data.byteLength) {
      if (stream.status !== 'open' || stream.writeStatus !== 'writable') return { handed, error: `stream ${stream.status}` }
      const piece = data.subarray(handed, handed + chunk)
      const more = stream.send(piece)
      handed += piece.byteLength
      if (!more) {
        await new Promise<void>((resolve, reject) => {
          const done = (): void => { cleanup(); resolve() }
          const closed = (): void => { cleanup(); reject(new Error('stream closed')) }
          const cleanup = (): void => { stream.removeEventListener('drain', done); stream.removeEventListener('close', closed) }
          stream.addEventListener('drain', done)
          stream.addEventListener('close', closed)
        })
      }
    }
    return { handed }
  } catch (err) {
    return { handed, error: (err as Error).message }
  }
}

async function flood (): Promise<void> {
  const psk = await readSecretFile(o.secret as string)
  const privateKey = await loadOrCreateIdentity(o['identity-dir'] as string)
  const node = await createClusterNode({ privateKey, psk, listen: `/ip4/${o.listen as string}/tcp/0`, announce: [] })
  const target = multiaddr(o.target as string)
  const protocol = o.protocol === 'forward' ? FORWARD_PROTOCOL : REPLICATE_PROTOCOL
  const n = Number(o.bytes)
  const frameBody = body(n, o['valid-json'] === true, o.protocol as string)
  const prefix = encodeLength(frameBody.byteLength)
  await node.dial(target, { signal: AbortSignal.timeout(10_000) })
  const started = Date.now()
  const results = await Promise.all(Array.from({ length: Number(o.streams) }, async (): Promise<StreamResult> => {
    try {
      return await oneStream(node, target, protocol, prefix, frameBody, started)
    } catch (err) {
      return { handed: 0, ended: 'reset', ms: Date.now() - started, error: `unexpected: ${(err as Error).message}` }
    }
  }))
  process.stdout.write(`${JSON.stringify({ results })}\n`)
  await node.stop()
}

async function oneStream (node: Awaited<ReturnType<typeof createClusterNode>>, target: ReturnType<typeof multiaddr>, protocol: string, prefix: Uint8Array, frameBody: Uint8Array, started: number): Promise<StreamResult> {
  {
    let stream: Stream
    try {
      stream = await node.dialProtocol(target, protocol, { signal: AbortSignal.timeout(10_000) })
    } catch (err) {
      return { handed: 0, ended: 'open-refused', ms: Date.now() - started, error: (err as Error).message }
    }
    const replyChunks: Uint8Array[] = []
    stream.addEventListener('message', evt => { replyChunks.push(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()) })
    const ended = new Promise<{ reset: boolean, error?: string }>(resolve => {
      stream.addEventListener('close', evt => { resolve({ reset: evt.error != null, ...(evt.error != null ? { error: evt.error.message } : {}) }) })
    })
    const pre = await writeAll(stream, prefix)
    const w = pre.error !== undefined ? pre : await writeAll(stream, frameBody)
    if (w.error === undefined) await stream.close({ signal: AbortSignal.timeout(15_000) }).catch(() => {})
    const end = await Promise.race([ended, new Promise<{ reset: boolean, error?: string }>(resolve => setTimeout(() => { resolve({ reset: false, error: 'still open after 20 s' }) }, 20_000))])
    const replyBytes = Buffer.concat(replyChunks)
    // Skip the reply's varint length prefix.
    let i = 0
    while (i < replyBytes.length && ((replyBytes[i] as number) & 0x80) !== 0) i++
    const reply = replyBytes.length > 0 ? replyBytes.subarray(i + 1).toString('utf8').slice(0, 300) : undefined
    return {
      handed: w.handed,
      ended: reply !== undefined ? 'reply' : end.reset ? 'reset' : 'done',
      ms: Date.now() - started,
      ...(reply !== undefined ? { reply } : {}),
      ...(w.error !== undefined || end.error !== undefined ? { error: w.error ?? end.error } : {})
    }
  }
}

/** Open a raw TCP connection; resolves once connected. */
async function open (host: string, port: number): Promise<Socket> {
  return await new Promise((resolve, reject) => {
    const s = connect({ host, port }, () => { resolve(s) })
    s.once('error', reject)
  })
}

async function rawHello (): Promise<void> {
  const host = o.host as string
  const port = Number(o.port)
  // 1. Capture the hello the agent sends on a connection of ours.
  const first = await open(host, port)
  const hello = await new Promise<Buffer>((resolve, reject) => {
    let got = Buffer.alloc(0)
    first.on('data', d => { got = Buffer.concat([got, d]); if (got.length >= 64) resolve(got.subarray(0, 64)) })
    first.once('close', () => { reject(new Error('closed before the hello')) })
  })
  first.destroy()
  // 2. Replay it on new connections; note when the agent closes each.
  const started = Date.now()
  const results = await Promise.all(Array.from({ length: Number(o.streams) }, async () => {
    const s = await open(host, port).catch(() => null)
    if (s === null) return { closedMs: 0, refusedAtConnect: true, received: 0 }
    let received = 0
    s.on('data', d => { received += d.length })
    s.on('error', () => {})
    s.write(hello)
    if (o.garbage === true) setTimeout(() => { if (!s.destroyed) s.write(Buffer.alloc(32, 7)) }, 200)
    const closedMs = await new Promise<number>(resolve => {
      const t = setTimeout(() => { resolve(-1) }, 30_000)
      s.once('close', () => { clearTimeout(t); resolve(Date.now() - started) })
    })
    s.destroy()
    return { closedMs, refusedAtConnect: false, received }
  }))
  process.stdout.write(`${JSON.stringify({ results })}\n`)
}

async function forge (): Promise<void> {
  const psk = await readSecretFile(o.secret as string)
  const key = await loadOrCreateIdentity(o['identity-dir'] as string)
  const self = peerIdFromPrivateKey(key).toString()
  const channel = new DatagramChannel({ logger: pino({ level: 'silent' }) }, { secret: psk, host: o.listen as string, port: 0 })
  await channel.start()
  const to = (o.to as string).split(',').map(hp => { const [host, port] = hp.split(':'); return { host: host as string, port: Number(port) } })
  const claim = (epoch: number): Uint8Array => sealEnvelope(key, new TextEncoder().encode(JSON.stringify({ t: 'claim', epoch, peerId: self, name: o.name, since: new Date().toISOString(), revision: 0 })))
  const epochs = [2 ** 32 - 1, Number(o['epoch-near'])]
  const sent: string[] = []
  for (let round = 0; round < 10; round++) {
    for (const dest of to) {
      channel.send(dest, encodeDatagram({ t: 'gossip', from: self, gossip: [{ t: 'dead', id: o.victim as string, incarnation: 2 ** 32 - 1, from: self }] }))
      for (const epoch of epochs) {
        channel.send(dest, encodeDatagram({ t: 'gossip', from: self, gossip: [{ t: 'user', key: `${MANAGER_KEY_PREFIX}${self}`, version: epoch, data: claim(epoch) }] }))
      }
    }
    await new Promise(resolve => setTimeout(resolve, 300))
  }
  sent.push(`dead ${o.victim as string} at ${2 ** 32 - 1}`, ...epochs.map(e => `claim epoch ${e}`))
  await channel.stop()
  process.stdout.write(`${JSON.stringify({ sent, stats: channel.stats() })}\n`)
}

// A stream reset can surface as a late rejection inside libp2p: report, do not crash.
process.on('unhandledRejection', err => { process.stderr.write(`unhandled: ${String(err)}\n`) })
const watchdog = setTimeout(() => { process.stderr.write('hostile-peer: gave up after 90 s\n'); process.exit(3) }, 90_000)
await (o['raw-hello'] === true ? rawHello() : o.forge === true ? forge() : flood())
clearTimeout(watchdog)
process.exit(0)
