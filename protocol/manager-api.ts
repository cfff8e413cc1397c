/**
 * Manager API shapes that have no home in a domain file: the answer of `GET /v1/nodes/:name`,
 * the items of the `GET /v1/jobs/:id/events?follow=1` stream, the config answers, and the
 * limits on request variables. Both the manager (which sends) and clusterctl (which reads)
 * import these.
 */

import type { JobEvent, JobRecord } from './jobs.js'
import type { Member, NodeFacts } from './members.js'
import type { LifecycleEvent, NodeRecord } from './nodes.js'

/** Response of `GET /v1/nodes/:name` (`clusterctl node show NAME -o json`). */
export interface NodeDetail {
  node: NodeRecord
  /** The node's membership entry, or null when membership does not know it now. */
  member: Member | null
  /** The facts the node reports through membership, or null when unknown. */
  facts: NodeFacts | null
  /** The node's most recent lifecycle events, oldest first. */
  events: LifecycleEvent[]
}

/** One item of the job feed (`GET /v1/jobs/:id/events?follow=1`, NDJSON). */
export type JobFeedItem = { type: 'event', event: JobEvent } | { type: 'job', job: JobRecord }

/** Response of `GET /v1/config/:key` and `PUT /v1/config/:key`; value is null when never set. */
export interface ConfigEntry {
  key: string
  value: unknown
}

/** Response of `GET /v1/config`: every key that was set, by name (unset keys are absent). */
export type ConfigMap = Record<string, unknown>

/** Names of request variables (`--var NAME=VALUE`): Ansible-safe identifiers. */
export const VAR_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,63}$/i

/** Longest value of one request variable, in characters. */
export const MAX_VAR_VALUE_LENGTH = 4096
