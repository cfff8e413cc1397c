/**
 * Child process for the two-process datagram channel test: one DatagramChannel on
 * 127.0.0.1 that answers every datagram with "echo:" + payload to its source. Prints
 * `{"port":N}` once bound; on a `stats` line on stdin prints its stats as one JSON line;
 * exits on `exit` or end of stdin. The secret comes as hex in CLUSTERD_TEST_SECRET.
 */
import { createInterface } from 'node:readline'
import { pino } from 'pino'
import { DatagramChannel } from '../../agent/transport/datagram-channel.js'

const hex = process.env.CLUSTERD_TEST_SECRET
if (hex === undefined) throw new Error('datagram-peer: CLUSTERD_TEST_SECRET is not set')
const channel = new DatagramChannel(
  { logger: pino({ level: 'error' }, pino.destination(2)) },
  { secret: new Uint8Array(Buffer.from(hex, 'hex')), host: '127.0.0.1', port: 0 }
)
await channel.start()
channel.onDatagram((from, payload) => {
  channel.send(from, Buffer.concat([Buffer.from('echo:'), payload]))
})
process.stdout.write(`${JSON.stringify({ port: channel.address().port })}\n`)

const lines = createInterface({ input: process.stdin })
for await (const line of lines) {
  if (line === 'stats') process.stdout.write(`${JSON.stringify(channel.stats())}\n`)
  if (line === 'exit') break
}
lines.close()
await channel.stop()
process.stdin.destroy()
