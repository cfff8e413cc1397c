/**
 * The narrow faces of the manager store that its users depend on: node records, jobs, config.
 * `ManagerStore` implements all three; the job runner and the manager routes take only the
 * faces they use (as `agent/replica/replica.ts` takes its `ReplicaStore`), so a reader sees
 * what they touch and a test can hand them a fake.
 */
import type { JobEvent, JobRecord } from '../../protocol/jobs.js'
import type { LifecycleEvent, NodeRecord } from '../../protocol/nodes.js'
import type { RevisionInfo } from '../../protocol/revisions.js'
import type { NewRevision } from './revision-table.js'
import type {
  BindingResult, DiscoveredNode, InFlightNode, ListEventsOptions, ListJobsOptions, NewJobEvent, NodeCommand, NodeNote,
  RebindCommand, TransitionMeta, TransitionResult, UpsertResult
} from './types.js'

/** Node lifecycle records and their event log. */
export interface NodeStore {
  /** Apply a lifecycle operation or job report to a node (one durable batch, or a refusal). */
  applyTransition: (node: string, command: NodeCommand, meta: TransitionMeta) => Promise<TransitionResult>
  /** What `applyTransition` would do now, without writing anything. */
  preview: (node: string, command: NodeCommand) => Promise<TransitionResult>
  /** Record a node membership reports (new name, reachability, boot, a return, a name conflict). */
  upsertNode: (node: DiscoveredNode, meta?: TransitionMeta) => Promise<UpsertResult>
  /** Move a node's name to another peer. */
  rebindNode: (name: string, cmd: RebindCommand) => Promise<BindingResult>
  /** Remove a node's record; its events stay. */
  forgetNode: (name: string, meta: TransitionMeta) => Promise<BindingResult>
  /** Append a lifecycle event that changes no state (and set drift). */
  noteNode: (name: string, note: NodeNote) => Promise<NodeRecord | undefined>
  /** Update whether membership sees the node alive. */
  setReachable: (name: string, reachable: boolean) => Promise<NodeRecord | undefined>
  /** The durable record of a node. */
  getNode: (name: string) => Promise<NodeRecord | undefined>
  /** Every node record, by name. */
  listNodes: () => Promise<NodeRecord[]>
  /** How many nodes the store knows. */
  readonly nodeCount: number
  /** One page of node records in name order. */
  pageNodes: (options: { after?: string, limit: number }) => Promise<{ items: NodeRecord[], next: string | null }>
  /** Nodes with a job in flight. */
  listInFlight: () => Promise<InFlightNode[]>
  /** Lifecycle events, oldest first. */
  listEvents: (options?: ListEventsOptions) => Promise<LifecycleEvent[]>
}

/** Job records and their event logs. */
export interface JobStore {
  /** Create or replace a job record. */
  putJob: (job: JobRecord) => Promise<void>
  /** A job record, if it exists. */
  getJob: (id: string) => Promise<JobRecord | undefined>
  /** Job records, oldest first by creation time. */
  listJobs: (options?: ListJobsOptions) => Promise<JobRecord[]>
  /** Append progress events to a job's log in one batch. */
  appendJobEvents: (jobId: string, events: NewJobEvent[]) => Promise<JobEvent[]>
  /** A job's events after `afterSeq`, oldest first. */
  listJobEvents: (jobId: string, options?: { afterSeq?: number, limit?: number }) => Promise<JobEvent[]>
}

/** Cluster config values (JSON data by key). */
export interface ConfigStore {
  /** A config value, if set. */
  getConfig: (key: string) => Promise<unknown>
  /** A durable config value without copying (callers must not modify it). */
  peekConfig: (key: string) => unknown
  /** Set a config value; `undefined` deletes the key. */
  setConfig: (key: string, value: unknown) => Promise<void>
  /** Every config value by key. */
  allConfig: () => Promise<Record<string, unknown>>
}

/** Configuration revisions (revision-table.ts). */
export interface RevisionStore {
  listRevisions: () => Promise<RevisionInfo[]>
  getRevision: (revision: number) => Promise<RevisionInfo | undefined>
  /** The newest revision: the cluster's current one. */
  latestRevision: () => Promise<RevisionInfo | undefined>
  /** A revision file's bytes by SHA-256 (checked against it). */
  readRevisionBlob: (sha256: string) => Promise<Buffer | undefined>
  /** Store the next revision; the newest one, unwritten, when the content equals it. */
  addRevision: (rev: NewRevision) => Promise<{ info: RevisionInfo, created: boolean }>
}
