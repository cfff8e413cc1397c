/** Defaults of the manager-side replicator. */

/** How long a write waits for a replica's ack before it is acknowledged without one. */
export const ACK_TIMEOUT_MS = 2000
/** Deadline of sending one full snapshot and getting its ack. */
export const SNAPSHOT_TIMEOUT_MS = 15_000
/** How often replicas that are behind (or never synced this epoch) get a snapshot. */
export const SYNC_INTERVAL_MS = 1000
/** After a failed send, how long a replica is skipped (writes do not wait for it). */
export const RETRY_AFTER_MS = 2000
/** Replicas that must persist a write before it is acknowledged (config `replication.acks`). */
export const DEFAULT_REPLICATION_ACKS = 2
