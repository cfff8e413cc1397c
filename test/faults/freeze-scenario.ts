/**
 * The frozen-manager scenario (issue 11, item 1), shared by the integration test and the fault
 * suite: while the manager's Ansible runs a 30 s command on a node, the manager's agent is
 * frozen (SIGSTOP, as a long GC pause or a stalled VM would) and its Ansible left running; a new
 * manager is elected and takes the node's lease once the old one expired; the old agent is woken
 * (SIGCONT) 40 s after the freeze. What reached the node is read on the node itself: the gate's
 * decision log, the process table, the files the role writes.
 */
import { cp, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { ApiClient } from '../../cli/client.js'
import { isTerminalJobStatus, type JobRecord } from '../../protocol/jobs.js'
import type { LeaseStatus } from '../../protocol/fencing-wire.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { NodeRecord } from '../../protocol/nodes.js'
import { shippedPlaybookDir } from '../../manager/roles/shipped.js'
import type { AgentProcess } from '../harness/agent-process.js'
import type { TestHost } from '../harness/hosts.js'
import { waitFor } from '../harness/poll.js'
import { delay } from '../harness/proc.js'
import { GATE_LOG } from '../harness/sshd.js'
import type { FaultCluster } from './cluster.js'

/** The role of the scenario: a start marker, a 30 s command, then a copy (an sftp transfer). */
export const FREEZE_PLAYBOOK = `- name: freeze
  hosts: role_freeze
  gather_facts: false
  tasks:
    - name: Freeze role started
      ansible.builtin.lineinfile:
        path: /srv/freeze-started
        line: "lease {{ clusterd_lease_id | default('none') }}"
        create: true
    - name: Long command
      ansible.builtin.command:
        argv: [/bin/sleep, '30']
      changed_when: false
    - name: Copy after the long command
      ansible.builtin.copy:
        content: "epoch {{ clusterd_epoch | default('none') }} lease {{ clusterd_lease_id | default('none') }}\\n"
        dest: /srv/freeze-copied
`

/** A copy of the shipped playbooks plus the `freeze` role, in `dir/playbooks`. */
export async function freezePlaybooks (dir: string): Promise<string> {
  const pb = join(dir, 'playbooks')
  await cp(shippedPlaybookDir(), pb, { recursive: true })
  const roles = parse(await readFile(join(pb, 'roles.yaml'), 'utf8'))
  roles.roles.freeze = { description: 'test role: a 30 s command, then a copy', playbooks: ['freeze.yml'] }
  await writeFile(join(pb, 'roles.yaml'), stringify(roles))
  await writeFile(join(pb, 'freeze.yml'), FREEZE_PLAYBOOK)
  return pb
}

/** One decision of the node gate. */
export interface GateEntry { t: number, decision: 'run' | 'refused', reason: string, lease: string, command: string, from: string | null }

/** The gate's decision log of a host. */
export async function gateLog (host: TestHost): Promise<GateEntry[]> {
  const text = await host.readFile(GATE_LOG) ?? ''
  return text.split('\n').filter(l => l.length > 0).map(l => JSON.parse(l) as GateEntry)
}

/** Pids on the machine whose environment carries `CLUSTERD_LEASE=tag` (with their command lines). */
export async function taggedProcesses (host: TestHost, tag: string): Promise<string[]> {
  const r = await host.exec(['/bin/sh', '-c', 'for f in $(grep -lzx "CLUSTERD_LEASE=$1" /proc/[0-9]*/environ 2>/dev/null); do d=${f%/environ}; echo "${d#/proc/} $(tr "\\0" " " < $d/cmdline 2>/dev/null)"; done', 'sh', tag])
  return r.stdout.split('\n').filter(l => l.trim().length > 0)
}

/** What one round found. */
export interface FreezeRound {
  frozen: string
  newManager: string
  oldEpoch: number
  newEpoch: number
  oldLease: string
  newLease: string
  /** Freeze → the new manager agreed by the others. */
  electedAfterFreezeMs: number
  /** Freeze → the new manager's lease began on the node (node clock). */
  newLeaseAfterFreezeMs: number
  /** Gate decisions for the old lease: ran before the new lease began, ran after it (must be 0), refused. */
  oldRunsBefore: number
  oldRunsAfterNewLease: GateEntry[]
  oldRefused: number
  /** Processes of the old lease alive on the node when the new lease was seen (must be none). */
  oldProcessesAtNewLease: string[]
  /** The agent's sweep of the old lease, from its log: when, and how many processes. */
  sweeps: Array<{ time: number, processes: number, why: string }>
  jobStatus: string
  jobReason: string | null
  nodeState: string
  nodeReason: string | null
  copied: string
  settledAfterWakeMs: number
}

const client = (a: AgentProcess): ApiClient => new ApiClient({ addr: a.socket, timeoutMs: 30_000 })

/** The sweeps the agent logged (pino JSON lines) that stopped processes of `tag`. */
function sweepsOf (output: string, tag: string): FreezeRound['sweeps'] {
  const out: FreezeRound['sweeps'] = []
  for (const line of output.split('\n')) {
    if (!line.includes('terminated the processes of an ended lease')) continue
    try {
      const e = JSON.parse(line) as { time: number, leases: string[], processes: number, why: string }
      if (e.leases.includes(tag)) out.push({ time: e.time, processes: e.processes, why: e.why })
    } catch {}
  }
  return out
}

/** Runs the scenario once on `target` (a commissionable node) of `c`. */
export async function freezeRound (c: FaultCluster, target: string): Promise<FreezeRound> {
  const m: ManagerInfo = await c.waitForStable()
  const old = c.agent(m.name)
  const others = (): AgentProcess[] => c.running().filter(a => a !== old)
  const via = others().find(a => c.isEligible(a.host.name)) as AgentProcess
  const node = c.host(target)
  const lease = async (): Promise<LeaseStatus> => await c.agent(target).client.request<LeaseStatus>('GET', '/v1/lease')
  const submitted = await client(via).request<JobRecord>('POST', '/v1/commission', { nodes: [target], roles: ['freeze'] })

  // Freeze once the long command runs on the node under the manager's lease.
  const oldLease = await waitFor(async () => {
    const s = await lease()
    if (s.lease?.live !== true || s.lease.holder !== m.peerId) return undefined
    const tag = `${s.lease.epoch}:${s.lease.leaseId}`
    return (await taggedProcesses(node, tag)).some(p => /sleep 30/.test(p)) ? { tag, lease: s.lease } : undefined
  }, { timeoutMs: 120_000, intervalMs: 200, message: 'the long command never ran on the node under the manager\'s lease' })
  const frozenAt = Date.now()
  old.proc.kill('SIGSTOP')
  let woken = false
  const wake = (): void => { if (!woken) { woken = true; old.proc.kill('SIGCONT') } }
  try {
    const next = await c.waitForManager({ after: m, among: others, timeoutMs: 60_000 })
    const electedAfterFreezeMs = Date.now() - frozenAt
    const newLease = await waitFor(async () => {
      const s = await lease()
      return s.lease?.live === true && s.lease.holder === next.peerId ? s.lease : undefined
    }, { timeoutMs: 60_000, intervalMs: 50, message: 'the new manager never took the node\'s lease' })
    const oldProcessesAtNewLease = await taggedProcesses(node, oldLease.tag)
    await delay(Math.max(0, frozenAt + 40_000 - Date.now()))
    wake()
    const wokeAt = Date.now()
    const { j, n } = await waitFor(async () => {
      const j = await client(via).request<JobRecord>('GET', `/v1/jobs/${submitted.id}`).catch(() => undefined)
      const n = (await client(via).request<NodeRecord[]>('GET', '/v1/nodes').catch(() => [])).find(x => x.name === target)
      return j !== undefined && isTerminalJobStatus(j.status) && n !== undefined && n.currentJob == null ? { j, n } : undefined
    }, { timeoutMs: 240_000, intervalMs: 500, message: `job ${submitted.id} never finished` })
    const log = await gateLog(node)
    const mine = log.filter(e => e.lease === oldLease.tag)
    return {
      frozen: m.name,
      newManager: next.name,
      oldEpoch: m.epoch,
      newEpoch: next.epoch,
      oldLease: oldLease.tag,
      newLease: `${newLease.epoch}:${newLease.leaseId}`,
      electedAfterFreezeMs,
      newLeaseAfterFreezeMs: newLease.grantedAt - frozenAt,
      oldRunsBefore: mine.filter(e => e.decision === 'run' && e.t < newLease.grantedAt).length,
      oldRunsAfterNewLease: mine.filter(e => e.decision === 'run' && e.t >= newLease.grantedAt),
      oldRefused: mine.filter(e => e.decision === 'refused').length,
      oldProcessesAtNewLease,
      sweeps: sweepsOf(c.agent(target).output, oldLease.tag),
      jobStatus: j.status,
      jobReason: j.reason ?? null,
      nodeState: n.state,
      nodeReason: n.reason ?? null,
      copied: await node.readFile('/srv/freeze-copied') ?? '',
      settledAfterWakeMs: Date.now() - wokeAt
    }
  } finally {
    wake()
  }
}
