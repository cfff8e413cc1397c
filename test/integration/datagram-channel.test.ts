/**
 * The authenticated datagram channel on real UDP sockets on 127.0.0.1: two channels in this
 * process, then a channel in a child process (datagram-peer.ts) with a raw UDP relay in the
 * middle that captures sealed bytes and replays them. Every hostile datagram must be dropped
 * and counted under its reason and must never reach the handler.
 */

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createSocket, type Socket } from 'node:dgram'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { ClusterdError } from '../../protocol/errors.js'
import { DGRAM_MAX_PAYLOAD, DGRAM_OVERHEAD } from '../../agent/transport/constants.js'
import {
  DatagramChannel,
  DatagramTooLargeError,
  type DatagramChannelInit,
  type DatagramChannelStats,
  type DatagramEndpoint
} from '../../agent/transport/datagram-channel.js'
import { generateSecret } from '../../agent/transport/secret.js'
import { waitFor } from '../harness/poll.js'

const HOST = '127.0.0.1'
const secret = generateSecret()

interface Received { from: DatagramEndpoint, text: string }

interface TestChannel {
  channel: DatagramChannel
  inbox: Received[]
  logs: Array<Record<string, unknown>>
  addr: DatagramEndpoint
}

const open: Array<{ stop: () => Promise<void> | void }> = []
after(async () => { for (const o of open.reverse()) await o.stop() })

/** A started channel whose deliveries land in `inbox` and whose log lines in `logs`. */
async function channelOn (init: Partial<DatagramChannelInit> = {}, clock?: () => number): Promise<TestChannel> {
  const logs: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, done) { logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done() }
  })
  const channel = new DatagramChannel(
    { logger: pino({ level: 'warn' }, sink), ...(clock !== undefined ? { clock } : {}) },
    { secret, host: HOST, port: 0, ...init }
  )
  await channel.start()
  open.push(channel)
  const inbox: Received[] = []
  channel.onDatagram((from, payload) => { inbox.push({ from, text: Buffer.from(payload).toString() }) })
  return { channel, inbox, logs, addr: channel.address() }
}

/** A plain UDP socket: what an attacker on the network has. */
async function rawSocket (): Promise<{ socket: Socket, addr: DatagramEndpoint, captured: Buffer[] }> {
  const socket = createSocket('udp4')
  const captured: Buffer[] = []
  socket.on('message', msg => { captured.push(msg) })
  socket.bind(0, HOST)
  await once(socket, 'listening')
  open.push({ stop: () => { socket.close() } })
  return { socket, addr: { host: HOST, port: socket.address().port }, captured }
}

async function rawSend (socket: Socket, bytes: Uint8Array, to: DatagramEndpoint): Promise<void> {
  await new Promise<void>((resolve, reject) => { socket.send(bytes, to.port, to.host, err => { err == null ? resolve() : reject(err) }) })
}

/** Waits until `channel` has dropped `n` datagrams for `reason` in all. */
async function dropped (channel: DatagramChannel, reason: keyof DatagramChannelStats['dropped'], n: number): Promise<void> {
  await waitFor(() => channel.stats().dropped[reason] >= n, { message: `${n} dropped as ${reason}`, timeoutMs: 5_000 })
  assert.equal(channel.stats().dropped[reason], n)
}

describe('datagram channel, two channels in one process', () => {
  it('delivers sealed payloads both ways, from empty to the maximum, with the sender\'s address', async () => {
    const a = await channelOn()
    const b = await channelOn()
    const sizes = [0, 100, 1_400, DGRAM_MAX_PAYLOAD]
    for (const size of sizes) a.channel.send(b.addr, Buffer.alloc(size, 'p'))
    b.channel.send(a.addr, Buffer.from('ack'))
    await waitFor(() => b.inbox.length === sizes.length && a.inbox.length === 1, { message: 'all datagrams delivered' })
    assert.deepEqual(b.inbox.map(r => r.text.length).sort((x, y) => x - y), sizes)
    assert.deepEqual(b.inbox[0]?.from, a.addr)
    assert.deepEqual(a.inbox, [{ from: b.addr, text: 'ack' }])
    await waitFor(() => a.channel.stats().sent === sizes.length, { message: 'send callbacks' })
    const stats = a.channel.stats()
    assert.equal(stats.sentBytes, sizes.reduce((s, n) => s + n + DGRAM_OVERHEAD, 0))
    assert.equal(b.channel.stats().received, sizes.length)
    assert.equal(b.channel.stats().senders, 1)
    assert.equal(Object.values(b.channel.stats().dropped).reduce((s, n) => s + n, 0), 0)
  })

  it('refuses an oversized send with a clear error and counts an oversized arrival', async () => {
    const a = await channelOn()
    const small = await channelOn({ maxPayloadBytes: 100 })
    assert.throws(() => a.channel.send(small.addr, Buffer.alloc(DGRAM_MAX_PAYLOAD + 1)),
      (err: unknown) => err instanceof DatagramTooLargeError && err.maxPayloadBytes === DGRAM_MAX_PAYLOAD && /exceeds the limit/.test(err.message))
    assert.throws(() => small.channel.send(a.addr, Buffer.alloc(101)), DatagramTooLargeError)
    a.channel.send(small.addr, Buffer.alloc(101))
    await dropped(small.channel, 'oversized', 1)
    a.channel.send(small.addr, Buffer.alloc(100, 'k'))
    await waitFor(() => small.inbox.length === 1, { message: 'the 100-byte datagram' })
  })

  it('drops a stranger\'s datagrams (another secret), logging once per interval with a count of the rest', async () => {
    const b = await channelOn({ warnIntervalMs: 300 })
    const stranger = new DatagramChannel({ logger: pino({ level: 'silent' }) }, { secret: generateSecret(), host: HOST, port: 0 })
    await stranger.start()
    open.push(stranger)
    for (let i = 0; i < 5; i++) stranger.send(b.addr, Buffer.from(`join me ${i}`))
    await dropped(b.channel, 'auth', 5)
    assert.equal(b.inbox.length, 0)
    assert.equal(b.channel.stats().senders, 0)
    const warnings = b.logs.filter(l => l.reason === 'auth')
    assert.equal(warnings.length, 1)
    assert.equal(warnings[0]?.msg, 'datagram dropped')
    assert.equal(warnings[0]?.from, `${HOST}:${stranger.address().port}`)
    // after the interval the next drop logs again and says how many were held back
    await waitFor(async () => {
      stranger.send(b.addr, Buffer.from('again'))
      await new Promise(resolve => setImmediate(resolve))
      return b.logs.filter(l => l.reason === 'auth').length >= 2
    }, { message: 'a second auth warning', intervalMs: 100 })
    assert.ok(Number(b.logs.filter(l => l.reason === 'auth')[1]?.suppressed) >= 4)
    assert.equal(b.inbox.length, 0)
  })

  it('drops replayed, truncated, bit-flipped and garbage datagrams from a raw socket', async () => {
    const a = await channelOn()
    const b = await channelOn()
    const raw = await rawSocket()
    // capture genuine sealed bytes by making the raw socket their destination
    a.channel.send(raw.addr, Buffer.from('captured ping'))
    a.channel.send(raw.addr, Buffer.from('second ping'))
    await waitFor(() => raw.captured.length === 2, { message: 'captured datagrams' })
    const [first, second] = raw.captured as [Buffer, Buffer]

    await rawSend(raw.socket, first, b.addr)
    await waitFor(() => b.inbox.length === 1, { message: 'the relayed genuine datagram' })
    assert.equal(b.inbox[0]?.text, 'captured ping')
    assert.deepEqual(b.inbox[0]?.from, raw.addr)

    await rawSend(raw.socket, first, b.addr)
    await rawSend(raw.socket, first, b.addr)
    await dropped(b.channel, 'replayed', 2)

    await rawSend(raw.socket, second.subarray(0, second.byteLength - 1), b.addr)
    await rawSend(raw.socket, second.subarray(0, 20), b.addr)
    await rawSend(raw.socket, new Uint8Array(0), b.addr)
    await dropped(b.channel, 'malformed', 2)
    await dropped(b.channel, 'auth', 1)

    for (const offset of [5, 20, 30, DGRAM_OVERHEAD - 17, second.byteLength - 1]) {
      const flipped = Buffer.from(second)
      flipped[offset] = (flipped[offset] ?? 0) ^ 0x01
      await rawSend(raw.socket, flipped, b.addr)
    }
    await dropped(b.channel, 'auth', 6)
    // well framed (version 1, counter 0, timestamp 0) but no valid tag
    const garbage = Buffer.alloc(200, 0)
    garbage[0] = 1
    await rawSend(raw.socket, garbage, b.addr)
    await rawSend(raw.socket, Buffer.from('GET / HTTP/1.1\r\n\r\n'), b.addr)
    await dropped(b.channel, 'auth', 7)
    await dropped(b.channel, 'malformed', 3)

    // the unharmed second datagram still gets through exactly once: nothing above moved the window
    await rawSend(raw.socket, second, b.addr)
    await waitFor(() => b.inbox.length === 2, { message: 'the second genuine datagram' })
    assert.deepEqual(b.inbox.map(r => r.text), ['captured ping', 'second ping'])
    assert.equal(b.channel.stats().received, 2)
  })

  it('drops stale and future datagrams and its own reflected ones', async () => {
    const b = await channelOn()
    const slow = await channelOn({}, () => Date.now() - 120_000)
    const fast = await channelOn({}, () => Date.now() + 61_000)
    slow.channel.send(b.addr, Buffer.from('from the past'))
    fast.channel.send(b.addr, Buffer.from('from the future'))
    await dropped(b.channel, 'stale', 2)
    assert.ok(b.logs.some(l => l.reason === 'stale' && /check NTP/.test(String(l.detail))))
    b.channel.send(b.addr, Buffer.from('to myself'))
    await dropped(b.channel, 'reflected', 1)
    assert.equal(b.inbox.length, 0)
  })

  it('refuses, after a restart on the same port, a replay of a datagram captured before it', async () => {
    const a = await channelOn()
    const b = await channelOn()
    const raw = await rawSocket()
    a.channel.send(raw.addr, Buffer.from('ping before restart'))
    await waitFor(() => raw.captured.length === 1, { message: 'the captured datagram' })
    const capturedAt = Date.now()
    const port = b.addr.port
    await b.channel.stop()
    // a new process on the same port: no replay state at all
    // the capture is stamped at or before capturedAt; start the new receiver strictly later
    await waitFor(() => Date.now() > capturedAt, { message: 'the clock past the capture', intervalMs: 1 })
    const b2 = await channelOn({ port })
    await rawSend(raw.socket, raw.captured[0] as Buffer, b2.addr)
    await dropped(b2.channel, 'stale', 1)
    assert.ok(b2.logs.some(l => /before this agent started/.test(String(l.detail))))
    a.channel.send(b2.addr, Buffer.from('ping after restart'))
    await waitFor(() => b2.inbox.length === 1, { message: 'a fresh datagram after the restart' })
    assert.equal(b2.inbox[0]?.text, 'ping after restart')
  })

  it('survives a throwing handler and an unusable destination', async () => {
    const a = await channelOn()
    const b = await channelOn()
    let calls = 0
    b.channel.onDatagram(() => { calls++; throw new Error('handler bug') })
    a.channel.send(b.addr, Buffer.from('one'))
    a.channel.send(b.addr, Buffer.from('two'))
    await waitFor(() => b.channel.stats().handlerErrors === 2, { message: 'two handler errors' })
    assert.equal(calls, 2)
    assert.ok(b.logs.some(l => l.msg === 'datagram handler threw'))
    a.channel.send({ host: HOST, port: 0 }, Buffer.from('x'))
    a.channel.send({ host: 'no-such-host.invalid', port: 7946 }, Buffer.from('x'))
    await waitFor(() => a.channel.stats().sendErrors === 2, { message: 'two send errors', timeoutMs: 15_000 })
  })

  it('binds the port of a TCP listener, refuses a taken UDP port, guards its status and keeps its counter across a restart', async () => {
    const tcp = createServer()
    tcp.listen(0, HOST)
    await once(tcp, 'listening')
    const port = (tcp.address() as { port: number }).port
    const a = await channelOn({ port })
    assert.equal(a.addr.port, port)
    await assert.rejects(channelOn({ port }), (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_ADDRESS_IN_USE' && err.message.includes(`${HOST}:${port}`))
    await assert.rejects(a.channel.start(), /datagram channel is started/)

    const b = await channelOn()
    a.channel.send(b.addr, Buffer.from('before restart'))
    await waitFor(() => b.inbox.length === 1, { message: 'before restart' })
    await Promise.all([a.channel.stop(), a.channel.stop()])
    await a.channel.stop()
    assert.throws(() => a.channel.address(), /not started/)
    assert.throws(() => a.channel.send(b.addr, Buffer.from('x')), /stopped/)
    await a.channel.start()
    a.channel.send(b.addr, Buffer.from('after restart'))
    await waitFor(() => b.inbox.length === 2, { message: 'after restart (not taken for a replay)' })
    assert.equal(b.channel.stats().dropped.replayed, 0)
    tcp.close()
  })
})

describe('datagram channel, across two processes', () => {
  it('exchanges datagrams with a peer process and refuses a stranger and a raw-socket replay', async () => {
    const child = spawn(process.execPath, [fileURLToPath(new URL('./datagram-peer.js', import.meta.url))], {
      env: { ...process.env, CLUSTERD_TEST_SECRET: Buffer.from(secret).toString('hex') },
      stdio: ['pipe', 'pipe', 'inherit']
    })
    open.push({ stop: () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') } })
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
    const nextLine = async (): Promise<string> => {
      const { value, done } = await lines.next()
      assert.ok(done !== true, 'the peer process ended early')
      return value as string
    }
    const peerStats = async (): Promise<DatagramChannelStats> => {
      child.stdin.write('stats\n')
      return JSON.parse(await nextLine()) as DatagramChannelStats
    }
    const peer: DatagramEndpoint = { host: HOST, port: (JSON.parse(await nextLine()) as { port: number }).port }

    const a = await channelOn()
    // a relay that captures every datagram it forwards: peer -> a, everything else -> peer
    const relay = await rawSocket()
    const toPeer: Buffer[] = []
    const toA: Buffer[] = []
    relay.socket.on('message', (msg, rinfo) => {
      const fromPeer = rinfo.port === peer.port
      ;(fromPeer ? toA : toPeer).push(msg)
      relay.socket.send(msg, fromPeer ? a.addr.port : peer.port, HOST)
    })

    a.channel.send(peer, Buffer.from('direct'))
    a.channel.send(relay.addr, Buffer.from('relayed'))
    await waitFor(() => a.inbox.length === 2, { message: 'two echoes' })
    assert.deepEqual(a.inbox.map(r => r.text).sort(), ['echo:direct', 'echo:relayed'])
    assert.deepEqual(a.inbox.find(r => r.text === 'echo:relayed')?.from, relay.addr)
    assert.deepEqual(a.inbox.find(r => r.text === 'echo:direct')?.from, peer)
    assert.equal(toPeer.length, 1)
    assert.equal(toA.length, 1)

    // a stranger with its own secret, in this process, talking to the peer
    const stranger = new DatagramChannel({ logger: pino({ level: 'silent' }) }, { secret: generateSecret(), host: HOST, port: 0 })
    await stranger.start()
    open.push(stranger)
    stranger.send(peer, Buffer.from('let me in'))

    // replays of captured bytes, in both directions, from a socket with another port
    const replayer = await rawSocket()
    await rawSend(replayer.socket, toPeer[0] as Buffer, peer)
    await rawSend(replayer.socket, toPeer[0] as Buffer, peer)
    await rawSend(replayer.socket, toA[0] as Buffer, a.addr)

    await dropped(a.channel, 'replayed', 1)
    const stats = await waitFor(async () => {
      const s = await peerStats()
      return s.dropped.auth === 1 && s.dropped.replayed === 2 ? s : null
    }, { message: 'the peer to drop the stranger and the replays' })
    assert.equal(stats.received, 2)
    assert.equal(stats.sent, 2)
    assert.equal(a.inbox.length, 2)
    assert.equal(replayer.captured.length, 0, 'the peer answered a replay')
    assert.equal(Object.values(stats.dropped).reduce((s, n) => s + n, 0), 3)

    child.stdin.end('exit\n')
    const [code] = await once(child, 'exit') as [number | null]
    assert.equal(code, 0)
  })
})
