/**
 * This agent's diagnostics and recent log lines (protocol/diagnostics.ts), put together from
 * its parts at the time they are asked for, and redacted by value with every secret the agent
 * holds (the cluster secret, the API token, the private keys its configuration names) read
 * at that time, so a key replaced since the start is covered too.
 */

import { readFile } from 'node:fs/promises'
import type { AgentConfig } from '../config/agent-config.js'
import { LOG_RING_LINES, MAX_VIEW_MEMBERS, type AgentDiagnostics, type LogsReply, type MemberView } from '../../protocol/diagnostics.js'
import type { LeaseStatus } from '../../protocol/fencing-wire.js'
import type { ManagerInfo } from '../../protocol/manager-wire.js'
import type { Member } from '../../protocol/members.js'
import { Redactor, secretFilesOfConfig, secretValuesOfFile } from '../../protocol/redact.js'
import type { ReplicaStatus } from '../../protocol/replication-wire.js'
import type { LogRing } from './log-ring.js'

/** Where the diagnostics come from. */
export interface AgentDiagnosticsComponents {
  logs: Pick<LogRing, 'tail' | 'oldest' | 'newest'>
  members: () => Member[]
  manager: () => ManagerInfo | null
  epoch: () => number
  replicaStatus: () => ReplicaStatus
  leaseStatus: () => LeaseStatus
  /** Secret values held in memory (the cluster secret's bytes, the API token). */
  secretsInMemory: () => string[]
}

/** Who this agent is. */
export interface AgentDiagnosticsInit {
  config: AgentConfig
  peerId: string
  version: string
  startedAt: Date
}

/** The secret values in memory of an agent: the cluster secret's bytes as hex and base64, the token. */
export function secretValuesInMemory (psk: Uint8Array, token: string | null): string[] {
  return [...secretValuesOfFile(Buffer.from(psk).toString('hex')), ...(token !== null ? [token] : [])]
}

/** A compact member list: enough to compare views, without facts. */
export function memberViews (members: readonly Member[]): AgentDiagnostics['members'] {
  const byStatus: Record<string, number> = {}
  for (const m of members) byStatus[m.status] = (byStatus[m.status] ?? 0) + 1
  const list: MemberView[] = [...members].sort((a, b) => a.name.localeCompare(b.name)).slice(0, MAX_VIEW_MEMBERS)
    .map(m => ({ name: m.name, peerId: m.peerId, status: m.status, incarnation: m.incarnation, managerEligible: m.managerEligible, lastSeen: m.lastSeen }))
  return { total: members.length, byStatus, list, truncated: members.length - list.length }
}

/** Builds this agent's diagnostics and log replies. */
export class AgentDiagnosticsSource {
  constructor (private readonly c: AgentDiagnosticsComponents, private readonly init: AgentDiagnosticsInit) {}

  /** Its recent log lines: at most `lines` after sequence number `after`, redacted. */
  async logs (after = 0, lines = LOG_RING_LINES): Promise<LogsReply> {
    return (await this.redactor()).value(this.logsPlain(after, lines))
  }

  /** Everything this agent says about itself, redacted. */
  async diagnostics (): Promise<AgentDiagnostics> {
    const d: AgentDiagnostics = {
      node: this.init.config.nodeName,
      peerId: this.init.peerId,
      version: this.init.version,
      runtime: process.version,
      pid: process.pid,
      startedAt: this.init.startedAt.toISOString(),
      collectedAt: new Date().toISOString(),
      config: { ...this.init.config },
      manager: this.c.manager(),
      epoch: this.c.epoch(),
      replica: this.c.replicaStatus(),
      lease: this.c.leaseStatus(),
      members: memberViews(this.c.members()),
      logs: this.logsPlain(0, LOG_RING_LINES)
    }
    return (await this.redactor()).value(d)
  }

  private logsPlain (after: number, lines: number): LogsReply {
    return { node: this.init.config.nodeName, peerId: this.init.peerId, lines: this.c.logs.tail(after, lines), oldest: this.c.logs.oldest, newest: this.c.logs.newest }
  }

  private async redactor (): Promise<Redactor> {
    const files = await Promise.all(secretFilesOfConfig({ ...this.init.config }).map(async f => await readFile(f, 'utf8').catch(() => '')))
    return new Redactor([...this.c.secretsInMemory(), ...files.flatMap(secretValuesOfFile)])
  }
}
