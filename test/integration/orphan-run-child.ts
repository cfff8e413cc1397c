/**
 * Child process for the "manager dies mid-run" test: runs one playbook through AnsibleRunner
 * (as the manager's agent does) and prints `started` once a host has begun its first task.
 * The parent kills it with SIGKILL. Arguments: one JSON object
 * `{ privateKeyPath, workDir, plan }`.
 */
import { pino } from 'pino'
import { AnsibleRunner } from '../../manager/ansible/playbook-runner.js'
import type { PlaybookPlan } from '../../manager/roles/plan.js'

const arg = process.argv[2]
if (arg === undefined) throw new Error('usage: orphan-run-child <json>')
const { privateKeyPath, workDir, plan } = JSON.parse(arg) as { privateKeyPath: string, workDir: string, plan: PlaybookPlan }
const runner = new AnsibleRunner({ logger: pino({ level: 'silent' }) }, { privateKeyPath, workDir, connectTimeoutS: 3 })
let announced = false
const result = await runner.run(plan, {
  onEvent: e => {
    if (e.type === 'host-start' && !announced) {
      announced = true
      process.stdout.write('started\n')
    }
  }
})
process.stdout.write(`finished ${result.status}\n`)
