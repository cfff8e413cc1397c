// Test entry point (`npm test`): runs the compiled unit, integration and e2e tests with
// Node's built-in runner, one file at a time (the integration tests build real hosts and
// the machine has two cores). Usage: node test/run.js [unit|integration|e2e|faults ...]
// (`faults`, the fault-injection suite, is not in the default set: `npm run test:faults`; its
// shortest scenario, the power cycle, is: it alone walks a node through failed and back while a
// job waits on its facts, a path no integration test takes).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

const suites = process.argv.slice(2)
const wanted = suites.length > 0 ? suites : ['unit', 'integration', 'e2e']
const globs = wanted.map(s => `dist/test/${s}/**/*.test.js`)
if (suites.length === 0) globs.push('dist/test/faults/power-cycle.test.js')
if (!existsSync('dist/test')) {
  console.error('test/run.js: dist/test is missing; run `npm run build` first')
  process.exit(2)
}
if (wanted.some(s => s !== 'unit') && process.getuid?.() !== 0) {
  console.error('test/run.js: integration and e2e tests build network namespaces and need root')
  process.exit(2)
}
const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  console.error(`test/run.js: Node.js ${process.versions.node} is too old; run through npm (node_modules/.bin/node is Node 22)`)
  process.exit(2)
}
// The fault-injection suite (`faults`) runs ten kill rounds in one file: give a file an hour.
const timeout = wanted.includes('faults') ? 3_600_000 : 600_000
const res = spawnSync(process.execPath, [
  '--test', '--test-concurrency=1', `--test-timeout=${timeout}`, '--test-reporter=spec', ...globs
], { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: '--enable-source-maps' } })
process.exit(res.status ?? 1)
