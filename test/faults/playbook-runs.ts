/**
 * Who touched a node, and when, from outside the managers: the ansible-runner artifacts a
 * manager leaves in its runs dir (`<data-dir>/runs/clusterd-run-*`; a run that finished removes
 * its dir, a manager killed mid-run leaves it, with every event its runner still wrote after
 * the kill), and the job events the next manager recorded. Two managers touched a node at once
 * when the dead manager's runner wrote an event for it after the next manager started on it.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestHost } from '../harness/hosts.js'
import type { JobEvent } from '../../protocol/jobs.js'

/** Per node: first and last Ansible event time (ms) of one manager's runs. */
export type NodeActivity = Map<string, { first: number, last: number, events: number }>

/** The runs dir of a host's agent, as seen from the root side (its /var upper dir). */
export function runsDirOf (host: TestHost): string {
  return join(host.upperDir('/var'), 'lib/clusterd/runs')
}

/** ansible-runner writes naive UTC times (`2026-12-02T08:15:34.123456`). */
function parseCreated (created: unknown): number | null {
  if (typeof created !== 'string') return null
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(created) ? created : created + 'Z')
  return Number.isNaN(t) ? null : t
}

/** Activity per node in every run dir left under `runsDir` (none when the dir is absent). */
export async function leftoverActivity (runsDir: string): Promise<NodeActivity> {
  const out: NodeActivity = new Map()
  const ls = async (p: string): Promise<string[]> => await readdir(p).catch(() => [])
  for (const run of await ls(runsDir)) {
    const artifacts = join(runsDir, run, 'artifacts')
    for (const ident of await ls(artifacts)) {
      const dir = join(artifacts, ident, 'job_events')
      for (const f of await ls(dir)) {
        if (!f.endsWith('.json')) continue
        let ev: { created?: unknown, event_data?: { host?: unknown } }
        try { ev = JSON.parse(await readFile(join(dir, f), 'utf8')) as typeof ev } catch { continue }
        const host = ev.event_data?.host
        const at = parseCreated(ev.created)
        if (typeof host !== 'string' || at === null) continue
        const a = out.get(host) ?? { first: at, last: at, events: 0 }
        a.first = Math.min(a.first, at)
        a.last = Math.max(a.last, at)
        a.events++
        out.set(host, a)
      }
    }
  }
  return out
}

/** Activity per node from recorded job events at or after `since` (ms). */
export function recordedActivity (events: readonly JobEvent[], since: number): NodeActivity {
  const out: NodeActivity = new Map()
  for (const e of events) {
    if (e.node === undefined || !e.kind.startsWith('task-') && e.kind !== 'precheck' && e.kind !== 'unreachable') continue
    const at = Date.parse(e.at)
    if (at < since) continue
    const a = out.get(e.node) ?? { first: at, last: at, events: 0 }
    a.first = Math.min(a.first, at)
    a.last = Math.max(a.last, at)
    a.events++
    out.set(e.node, a)
  }
  return out
}

/** Nodes the dead manager's runs touched after the next manager had started on them. */
export function overlaps (dead: NodeActivity, next: NodeActivity): Array<{ node: string, deadLast: number, nextFirst: number }> {
  const out: Array<{ node: string, deadLast: number, nextFirst: number }> = []
  for (const [node, d] of dead) {
    const n = next.get(node)
    if (n !== undefined && d.last >= n.first) out.push({ node, deadLast: d.last, nextFirst: n.first })
  }
  return out
}
