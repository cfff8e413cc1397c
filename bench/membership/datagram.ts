/**
 * CPU per SWIM-like probe round trip over the authenticated datagram channel
 * (agent/transport/datagram-channel.ts), between two processes on loopback: this process
 * (the prober) sends a ping of S bytes, the responder process answers with an ack of S bytes,
 * one round trip at a time. CPU comes from process.cpuUsage() on each side over the measured
 * round trips (after a warm-up) and is divided by their number. The same exchange over a plain
 * UDP socket without sealing is the baseline, so the table shows what the crypto costs.
 *
 *     npm run bench:datagram -- --round-trips 20000 --sizes 100,1400 --runs 3
 *
 * Prints one JSON line per (mode, size, run), then a markdown table of medians. Run it alone:
 * `flock /tmp/clusterd-heavy.lock npm run bench:datagram`.
 */

import { spawn } from 'node:child_process'
import { createSocket, type Socket } from 'node:dgram'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { DatagramChannel, type DatagramEndpoint } from '../../agent/transport/datagram-channel.js'
import { deriveSenderKey, newSenderId, openDatagram, parseDatagram, sealDatagram } from '../../agent/transport/datagram-seal.js'
import { generateSecret } from '../../agent/transport/secret.js'
import { median } from './proc-stats.js'
import { benchArgs } from '../bench-args.js'

const HOST = '127.0.0.1'
const SECRET_ENV = 'CLUSTERD_BENCH_SECRET'

type Mode = 'sealed' | 'plain'

/** The two ways to answer: a DatagramChannel, or a bare UDP socket. */
interface Endpoint {
  send: (to: DatagramEndpoint, payload: Uint8Array) => void
  onDatagram: (handler: (from: DatagramEndpoint, payload: Uint8Array) => void) => void
  port: number
  close: () => Promise<void>
}

async function sealedEndpoint (secret: Uint8Array): Promise<Endpoint> {
  const channel = new DatagramChannel({ logger: pino({ level: 'warn' }, pino.destination(2)) }, { secret, host: HOST, port: 0 })
  await channel.start()
  return {
    send: (to, payload) => { channel.send(to, payload) },
    onDatagram: handler => { channel.onDatagram(handler) },
    port: channel.address().port,
    close: async () => { await channel.stop() }
  }
}

async function plainEndpoint (): Promise<Endpoint> {
  const socket: Socket = createSocket('udp4')
  socket.bind(0, HOST)
  await once(socket, 'listening')
  let current: ((from: DatagramEndpoint, payload: Uint8Array) => void) | null = null
  socket.on('message', (msg, rinfo) => { current?.({ host: rinfo.address, port: rinfo.port }, msg) })
  return {
    send: (to, payload) => { socket.send(payload, to.port, to.host) },
    onDatagram: handler => { current = handler },
    port: socket.address().port,
    close: async () => { await new Promise<void>(resolve => { socket.close(() => { resolve() }) }) }
  }
}

/** The responder process: acks every ping with a payload of the same size; reports its CPU. */
async function responder (): Promise<void> {
  const hex = process.env[SECRET_ENV]
  if (hex === undefined) throw new Error(`${SECRET_ENV} is not set`)
  const sealed = await sealedEndpoint(new Uint8Array(Buffer.from(hex, 'hex')))
  const plain = await plainEndpoint()
  for (const e of [sealed, plain]) {
    e.onDatagram((from, payload) => { e.send(from, Buffer.alloc(payload.byteLength, 0x61)) })
  }
  process.stdout.write(`${JSON.stringify({ sealed: sealed.port, plain: plain.port })}\n`)
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'cpu') process.stdout.write(`${JSON.stringify(process.cpuUsage())}\n`)
    if (line === 'exit') break
  }
  await sealed.close()
  await plain.close()
  process.stdin.destroy()
}

interface RunResult {
  mode: Mode
  bytes: number
  roundTrips: number
  proberUs: number
  responderUs: number
  wallUs: number
}

/** `count` ping -> ack round trips, one at a time. */
async function pingPong (e: Endpoint, to: DatagramEndpoint, bytes: number, count: number): Promise<void> {
  const ping = Buffer.alloc(bytes, 0x70)
  let left = count
  await new Promise<void>(resolve => {
    e.onDatagram(() => {
      if (--left === 0) resolve()
      else e.send(to, ping)
    })
    e.send(to, ping)
  })
}

/** In-process seal + open of one datagram, no I/O: the pure crypto share. */
function sealOpenUs (bytes: number, count: number): number {
  const secret = generateSecret()
  const id = newSenderId()
  const key = deriveSenderKey(secret, id)
  const payload = Buffer.alloc(bytes, 0x70)
  const start = process.cpuUsage()
  for (let i = 0; i < count; i++) {
    const sealed = Buffer.concat(sealDatagram(key, { senderId: id, counter: i, timestamp: 1_780_000_000_000 }, payload))
    const parsed = parseDatagram(sealed)
    if (!parsed.ok || openDatagram(key, parsed.datagram) === null) throw new Error('seal/open failed')
  }
  const used = process.cpuUsage(start)
  return (used.user + used.system) / count
}

async function prober (): Promise<void> {
  const { values } = benchArgs({
    options: {
      'round-trips': { type: 'string', default: '20000' },
      sizes: { type: 'string', default: '100,1400' },
      runs: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '2000' }
    }
  })
  const roundTrips = Number(values['round-trips'])
  const sizes = String(values.sizes).split(',').map(Number)
  const runs = Number(values.runs)
  const warmup = Number(values.warmup)
  const secret = generateSecret()

  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--responder'], {
    env: { ...process.env, [SECRET_ENV]: Buffer.from(secret).toString('hex') },
    stdio: ['pipe', 'pipe', 'inherit']
  })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const nextLine = async (): Promise<string> => {
    const { value, done } = await lines.next()
    if (done === true) throw new Error('the responder process ended early')
    return value as string
  }
  const responderCpu = async (): Promise<number> => {
    child.stdin.write('cpu\n')
    const u = JSON.parse(await nextLine()) as NodeJS.CpuUsage
    return u.user + u.system
  }
  const ports = JSON.parse(await nextLine()) as Record<Mode, number>
  const endpoints: Record<Mode, Endpoint> = { sealed: await sealedEndpoint(secret), plain: await plainEndpoint() }

  const results: RunResult[] = []
  try {
    for (const bytes of sizes) {
      for (const mode of ['plain', 'sealed'] as const) {
        const e = endpoints[mode]
        const to = { host: HOST, port: ports[mode] }
        await pingPong(e, to, bytes, warmup)
        for (let run = 0; run < runs; run++) {
          const theirs = await responderCpu()
          const ours = process.cpuUsage()
          const t0 = process.hrtime.bigint()
          await pingPong(e, to, bytes, roundTrips)
          const wallUs = Number(process.hrtime.bigint() - t0) / 1_000 / roundTrips
          const used = process.cpuUsage(ours)
          const theirsUsed = (await responderCpu()) - theirs
          const r: RunResult = {
            mode,
            bytes,
            roundTrips,
            proberUs: (used.user + used.system) / roundTrips,
            responderUs: theirsUsed / roundTrips,
            wallUs
          }
          results.push(r)
          process.stdout.write(`${JSON.stringify(r)}\n`)
        }
      }
    }
  } finally {
    child.stdin.end('exit\n')
    await endpoints.sealed.close()
    await endpoints.plain.close()
  }
  if (child.exitCode === null) await once(child, 'exit')

  const fmt = (x: number | null): string => x === null ? '-' : x.toFixed(1)
  console.log('\n| payload | UDP, no crypto: prober / responder | sealed channel: prober / responder | seal + open alone | round trip (wall) |')
  console.log('|---|---|---|---|---|')
  for (const bytes of sizes) {
    const of = (mode: Mode, f: (r: RunResult) => number): number | null => median(results.filter(r => r.mode === mode && r.bytes === bytes).map(f))
    const pure = median([0, 1, 2].map(() => sealOpenUs(bytes, roundTrips)))
    console.log(`| ${bytes} B | ${fmt(of('plain', r => r.proberUs))} / ${fmt(of('plain', r => r.responderUs))} us ` +
      `| ${fmt(of('sealed', r => r.proberUs))} / ${fmt(of('sealed', r => r.responderUs))} us ` +
      `| ${fmt(pure)} us | ${fmt(of('sealed', r => r.wallUs))} us |`)
  }
}

if (process.argv.includes('--responder')) await responder()
else await prober()
