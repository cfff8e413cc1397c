/**
 * Configuration revisions on the wire: a playbook directory pushed to the manager
 * (`POST /v1/revisions`, `clusterctl roles push`), stored in the replicated store as revision
 * N, listed, shown and compared; upgrade plans (`POST /v1/upgrade/plan`) and the history of
 * what was applied where (`GET /v1/history`). The file rules, the limits and the content hash
 * live here because the CLI (which reads the directory) and the manager (which checks and
 * stores it) must agree on them.
 */

import { createHash } from 'node:crypto'

/** Most files one revision may hold. */
export const MAX_REVISION_FILES = 128
/** Largest file of a revision, in bytes. */
export const MAX_REVISION_FILE_BYTES = 256 * 1024
/**
 * Largest revision (sum of its files), in bytes: base64 in a push body stays below the API's
 * 1 MiB body limit, and the revision is stored in one write, far below a replication frame
 * (protocol/replication-wire.ts REPLICATION_FRAME_MAX_BYTES).
 */
export const MAX_REVISION_BYTES = 640 * 1024
/** Longest relative path of a file in a revision, and its most directory levels. */
export const MAX_REVISION_PATH_LENGTH = 255
export const MAX_REVISION_PATH_DEPTH = 8
/** Longest revision message, in characters. */
export const MAX_REVISION_MESSAGE_LENGTH = 1000
/** Longest author text, in characters. */
export const MAX_REVISION_AUTHOR_LENGTH = 200

/** One path segment: no hidden files, no `..`, nothing a shell or Ansible would read twice. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,127}$/

/** Why `path` cannot name a file in a revision, or undefined when it can (relative, `/`-separated). */
export function revisionPathProblem (path: unknown): string | undefined {
  if (typeof path !== 'string' || path.length === 0) return 'a path must be non-empty text'
  if (path.length > MAX_REVISION_PATH_LENGTH) return `a path is at most ${MAX_REVISION_PATH_LENGTH} characters`
  const parts = path.split('/')
  if (parts.length > MAX_REVISION_PATH_DEPTH) return `a path is at most ${MAX_REVISION_PATH_DEPTH} levels deep`
  const bad = parts.find(p => !SEGMENT.test(p))
  if (bad !== undefined) return `path segment ${JSON.stringify(bad)} is not allowed (letters, digits, '.', '_', '+', '-'; not starting with '.' or '-')`
  return undefined
}

/** A file of a pushed revision: relative path and base64 content. */
export interface RevisionFileUpload {
  path: string
  /** The file's bytes, base64. */
  content: string
}

/** Body of `POST /v1/revisions`. */
export interface PushRevisionRequest {
  files: RevisionFileUpload[]
  message?: string
  /** Who pushed it, as the client states it (user@host); recorded, not authenticated. */
  author?: string
}

/** A file as a revision lists it. */
export interface RevisionFile {
  path: string
  /** SHA-256 of the content, hex. */
  sha256: string
  size: number
}

/** A stored revision (`clusterctl roles list -o json` prints an array of these). */
export interface RevisionInfo {
  /** 1, 2, 3...: the newest is the cluster's current revision. */
  revision: number
  /** Content hash of the whole directory ({@link revisionHash}). */
  hash: string
  /** ISO-8601 time it was stored. */
  createdAt: string
  author: string
  message: string
  /** Roles its roles.yaml defines, in file order. */
  roles: string[]
  /** Files in path order. */
  files: RevisionFile[]
  /** Epoch of the manager that stored it. */
  epoch?: number
}

/**
 * A revision as `GET /v1/revisions` lists it: without its file list (a cluster's revisions are
 * never pruned, so the list must stay small), with the count.
 */
export type RevisionSummary = Omit<RevisionInfo, 'files'> & { fileCount: number }

/** Response of `POST /v1/revisions`: the stored revision; `created: false` when it equals the current one. */
export interface PushRevisionResponse {
  revision: RevisionInfo
  created: boolean
}

/** One file's difference between two revisions (`GET /v1/revisions/:rev/diff/:other`). */
export interface RevisionFileDiff {
  path: string
  change: 'added' | 'removed' | 'modified'
  /** Unified-style lines (`+`, `-`, ` `, `@@`); absent for binary files. */
  lines?: string[]
  binary?: boolean
}

/** Response of `GET /v1/revisions/:rev/diff/:other`. */
export interface RevisionDiff {
  from: number
  to: number
  files: RevisionFileDiff[]
}

/** SHA-256 of bytes, hex. */
export function sha256Hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/**
 * The content hash of a revision: SHA-256 over `path NUL sha256 LF` of each file in path
 * order, so it depends on names and contents only (not on times, modes or order read).
 */
export function revisionHash (files: ReadonlyArray<Pick<RevisionFile, 'path' | 'sha256'>>): string {
  const h = createHash('sha256')
  for (const f of [...files].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) h.update(`${f.path}\0${f.sha256}\n`)
  return h.digest('hex')
}

/** Body of `POST /v1/upgrade/plan`: which nodes, to which revision (default: the current one). */
export interface UpgradePlanRequest {
  nodes: string[]
  all?: boolean
  to?: number
  /** Nodes matching this selector that can take an upgrade (protocol/selector.ts); nodes must then be empty. */
  selector?: string
}

/** What upgrading a group of nodes would do. */
export type UpgradeAction = 'upgrade' | 'no-op' | 'downgrade'

/** Nodes that share a current revision and agent version, and what upgrading them to the target does. */
export interface UpgradePlanGroup {
  /** Their applied revision (null: not recorded, e.g. commissioned before revisions existed). */
  fromRevision: number | null
  toRevision: number
  fromAgentVersion: string | null
  toAgentVersion: string | null
  action: UpgradeAction
  nodes: string[]
}

/** Response of `POST /v1/upgrade/plan` (`clusterctl upgrade --plan -o json`). */
export interface UpgradePlan {
  toRevision: number
  toAgentVersion: string | null
  groups: UpgradePlanGroup[]
}

/** One thing applied to a node (`GET /v1/history`, `clusterctl history`). */
export interface HistoryEntry {
  node: string
  jobId: string
  kind: string
  /** The node's outcome in the job (ok, failed, unreachable, cancelled). */
  outcome: string
  revision: number | null
  agentVersion: string | null
  startedAt: string | null
  finishedAt: string | null
  message?: string
}
