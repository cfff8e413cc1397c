/**
 * Child process for the crash test: applies transitions forever and prints the number of
 * each one as soon as the store acknowledges it. The parent kills it with SIGKILL.
 */
import { pino } from 'pino'
import { ManagerStore } from '../../../../manager/store/index.js'

const path = process.argv[2]
if (path === undefined) throw new Error('usage: crash-child <db path>')
const store = new ManagerStore({ logger: pino({ level: 'silent' }) }, { path })
await store.start()
await store.upsertNode({ name: 'n1', peerId: 'p1', reachable: true })
// Bounded so a parent that fails to kill us cannot leave us running forever.
for (let i = 1; i <= 100_000; i++) {
  const r = await store.applyTransition('n1', { type: 'SET_VARS', vars: { i: String(i) } }, { actor: 'operator' })
  if (!r.ok) throw new Error(r.message)
  process.stdout.write(`${i}\n`)
}
await store.stop()
