/** Key encoding of the manager store: prefixes, zero-padded sequence numbers, ranges. */
import { ClusterdError } from '../../protocol/errors.js'
import { NAME_PATTERN, PREFIX, SEQ_DIGITS } from './constants.js'

/** Zero-pad a sequence number so string order equals numeric order. */
export function pad (seq: number): string {
  return String(seq).padStart(SEQ_DIGITS, '0')
}

/** Throw a ClusterdError unless `name` is a valid node name or job id. */
export function assertName (name: string, what: 'node name' | 'job id'): void {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new ClusterdError('CLUSTERD_ERR_INVALID_ARGUMENT', `invalid ${what} ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-'`)
  }
}

/** Store metadata keys. */
export const META_KEYS = {
  format: `${PREFIX.meta}!format`,
  revision: `${PREFIX.meta}!revision`,
  gseq: `${PREFIX.meta}!gseq`
} as const

/** Key of a node entry. */
export const nodeKey = (name: string): string => `${PREFIX.node}!${name}`
/** Key of a lifecycle event in global order. */
export const eventKey = (gseq: number): string => `${PREFIX.event}!${pad(gseq)}`
/** Key of a lifecycle event in its node's log. */
export const nodeEventKey = (name: string, seq: number): string => `${PREFIX.nodeEvent}!${name}!${pad(seq)}`
/** Key of a job record. */
export const jobKey = (id: string): string => `${PREFIX.job}!${id}`
/** Key of a job event. */
export const jobEventKey = (id: string, seq: number): string => `${PREFIX.jobEvent}!${id}!${pad(seq)}`
/** Key of a config value. */
export const configKey = (key: string): string => `${PREFIX.config}!${key}`
/** Key of a config key's write time (see merge.ts). */
export const configMetaKey = (key: string): string => `${PREFIX.configMeta}!${key}`

/** Iterator bounds covering every key that starts with `prefix + '!'`. */
export function range (prefix: string): { gt: string, lt: string } {
  return { gt: `${prefix}!`, lt: `${prefix}"` }
}

/** Iterator bounds covering `prefix!` keys after sequence number `afterSeq`. */
export function rangeAfter (prefix: string, afterSeq: number): { gt: string, lt: string } {
  return { gt: `${prefix}!${pad(afterSeq)}`, lt: `${prefix}"` }
}

/** The part of `key` after `prefix + '!'`. */
export function stripPrefix (key: string, prefix: string): string {
  return key.slice(prefix.length + 1)
}

/** Key of a configuration revision's header. */
export const revisionKey = (revision: number): string => `${PREFIX.revision}!${pad(revision)}`
/** Key of a revision file's content, by its SHA-256 (hex). */
export const revisionBlobKey = (sha256: string): string => `${PREFIX.revisionBlob}!${sha256}`
