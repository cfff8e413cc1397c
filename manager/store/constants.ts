/** Defaults and fixed layout values of the manager store. */

/** Layout version of the keys and values below; stored under `m!format`. */
export const STORE_FORMAT = 1

/**
 * Key prefixes. Every key is `<prefix>!<rest>`; a prefix scan runs from `<prefix>!` to
 * `<prefix>"` (the next character), so names must not contain `!` (see keys.ts).
 */
export const PREFIX = {
  /** Store metadata: format, revision, global event sequence. */
  meta: 'm',
  /** Node entry: record + persisted snapshot + machine version + last event seq. */
  node: 'n',
  /** Lifecycle events in cluster-wide order, by gseq. */
  event: 'e',
  /** Lifecycle events per node, by the node's seq (a full copy, for cheap per-node reads). */
  nodeEvent: 'x',
  /** Job records by id. */
  job: 'j',
  /** Job progress events by job id and seq. */
  jobEvent: 'je',
  /** Manager configuration values by key. */
  config: 'c',
  /** When each config key was last written or deleted (for merging two lineages). */
  configMeta: 'cm',
  /** Configuration revisions by number (revision-table.ts): the header listing its files. */
  revision: 'r',
  /** Revision file contents by SHA-256, shared by every revision holding the same bytes. */
  revisionBlob: 'rb'
} as const

/** Digits a sequence number is zero-padded to in a key, so keys sort numerically. */
export const SEQ_DIGITS = 15

/** Most events a list call returns when the caller gives no limit. */
export const DEFAULT_LIST_LIMIT = 1000

/**
 * Sidecar file in the database directory holding the last revision this store knew to be
 * written. LevelDB silently drops a damaged log on open (classic-level offers no paranoid
 * checks); comparing against this file turns such a loss into a clear error.
 */
export const REVISION_MARKER_FILE = 'CLUSTERD-REVISION'

/** Node names and job ids: a hostname-like token, safe inside a key. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/
