/**
 * Canned answers of the revision routes for the fake manager (manager-fixture.ts): two
 * revisions, a diff, a plan with a downgrade, and a history, as the real routes shape them.
 */
import { ApiReply, type ApiHandler } from '../../../protocol/api-handler.js'
import { ClusterdError } from '../../../protocol/errors.js'
import type { HistoryEntry, RevisionInfo, UpgradePlan } from '../../../protocol/revisions.js'

const file = (path: string, c: string): RevisionInfo['files'][number] => ({ path, sha256: c.repeat(64), size: 100 })

/** Revisions 1 and 2 of the fake cluster; 2 is current. */
export const REVISIONS: RevisionInfo[] = [
  { revision: 1, hash: 'a'.repeat(64), createdAt: '2026-11-22T09:00:00.000Z', author: 'manager n1', message: 'playbook directory /opt/clusterd/playbooks', roles: ['base', 'worker'], files: [file('base.yml', 'b'), file('roles.yaml', 'c')] },
  { revision: 2, hash: 'd'.repeat(64), createdAt: '2026-11-22T10:00:00.000Z', author: 'ops@laptop', message: 'worker: 8 slots\nlonger text', roles: ['base', 'worker'], files: [file('base.yml', 'b'), file('roles.yaml', 'e')] }
]

/** What `GET /v1/revisions` answers: the revisions without their file lists. */
export const SUMMARIES = REVISIONS.map(({ files, ...rest }) => ({ ...rest, fileCount: files.length }))

/** The plan the fake answers: one group to upgrade, one downgrade. */
export const PLAN: UpgradePlan = {
  toRevision: 1,
  toAgentVersion: '0.1.0',
  groups: [
    { fromRevision: null, toRevision: 1, fromAgentVersion: null, toAgentVersion: '0.1.0', action: 'upgrade', nodes: ['web2'] },
    { fromRevision: 2, toRevision: 1, fromAgentVersion: '0.1.0', toAgentVersion: '0.1.0', action: 'downgrade', nodes: ['db1'] }
  ]
}

/** db1's history. */
export const HISTORY: HistoryEntry[] = [
  { node: 'db1', jobId: 'j-20261122-1', kind: 'commission', outcome: 'ok', revision: 1, agentVersion: '0.1.0', startedAt: '2026-11-22T09:30:00.000Z', finishedAt: '2026-11-22T09:31:00.000Z' },
  { node: 'db1', jobId: 'j-20261122-4', kind: 'upgrade', outcome: 'failed', revision: 2, agentVersion: '0.1.0', startedAt: '2026-11-22T10:30:00.000Z', finishedAt: '2026-11-22T10:31:00.000Z', message: 'task x failed' }
]

const find = (rev: string | undefined): RevisionInfo => {
  const r = REVISIONS.find(x => String(x.revision) === rev)
  if (r === undefined) throw new ClusterdError('CLUSTERD_ERR_REVISION_NOT_FOUND', `there is no configuration revision ${rev ?? ''} (the newest is 2)`)
  return r
}

/** The handlers, by route name. */
export const revisionHandlers: Record<'pushRevision' | 'listRevisions' | 'showRevision' | 'diffRevisions' | 'upgradePlan' | 'history', ApiHandler> = {
  pushRevision: async ({ body }) => {
    const files = (body as { files: Array<{ path: string }> }).files
    const created = files.length !== 2
    const revision = created ? { ...(REVISIONS[1] as RevisionInfo), revision: 3, files: files.map(f => file(f.path, 'f')) } : REVISIONS[1]
    return new ApiReply(created ? 201 : 200, { revision, created })
  },
  listRevisions: async () => SUMMARIES,
  showRevision: async ({ params }) => ({ ...find(params.rev), current: params.rev === '2' }),
  diffRevisions: async ({ params }) => {
    const a = find(params.rev)
    const b = find(params.other)
    return { from: a.revision, to: b.revision, files: a === b ? [] : [{ path: 'roles.yaml', change: 'modified', lines: ['@@ -1,1 +1,1 @@', '-worker_slots: 4', '+worker_slots: 8'] }] }
  },
  upgradePlan: async () => PLAN,
  history: async ({ query }) => query.node === undefined || query.node === 'db1' ? HISTORY : []
}
