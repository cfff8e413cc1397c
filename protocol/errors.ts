/**
 * The error registry: one class per condition, one stable code each. The same code travels
 * over the API (`{ error: { code, message } }`) and is listed in docs/errors.md; the unit
 * test `test/unit/protocol/errors.test.ts` keeps the three in step.
 */

/** Every stable error code clusterd can return, with its HTTP status and CLI exit code. */
export const ERROR_CODES = {
  CLUSTERD_ERR_INVALID_ARGUMENT: { status: 400, exit: 2, summary: 'A flag, config key or request field is malformed or out of range.' },
  CLUSTERD_ERR_INVALID_CONFIG: { status: 400, exit: 2, summary: 'A configuration file cannot be read or fails validation.' },
  CLUSTERD_ERR_UNAUTHORIZED: { status: 401, exit: 3, summary: 'The API request carries no valid bearer token, or a browser sent it from another site.' },
  CLUSTERD_ERR_NOT_FOUND: { status: 404, exit: 4, summary: 'The API route does not exist.' },
  CLUSTERD_ERR_NODE_NOT_FOUND: { status: 404, exit: 4, summary: 'No node by that name is known to the manager.' },
  CLUSTERD_ERR_MEMBER_NOT_FOUND: { status: 404, exit: 4, summary: 'No live member by that name is in the agent\'s membership view.' },
  CLUSTERD_ERR_JOB_NOT_FOUND: { status: 404, exit: 4, summary: 'No job with that id exists.' },
  CLUSTERD_ERR_UNKNOWN_ROLE: { status: 400, exit: 2, summary: 'The role is not defined in the playbook directory.' },
  CLUSTERD_ERR_INVALID_TRANSITION: { status: 409, exit: 5, summary: 'The node is not in a state that allows this operation.' },
  CLUSTERD_ERR_NODE_BUSY: { status: 409, exit: 5, summary: 'The node is already part of a running or queued job.' },
  CLUSTERD_ERR_PEER_NOT_CLAIMING: { status: 409, exit: 5, summary: 'No member with that peer id claims the node name in the manager\'s membership view, so the name cannot be bound to it.' },
  CLUSTERD_ERR_NODE_REACHABLE: { status: 409, exit: 5, summary: 'The node\'s bound peer is reachable, so its record is not forgotten without --force.' },
  CLUSTERD_ERR_NODE_CORDONED: { status: 409, exit: 5, summary: 'The node is cordoned: it gets no new job but a decommission.' },
  CLUSTERD_ERR_JOB_FINISHED: { status: 409, exit: 5, summary: 'The job has already finished and cannot be cancelled.' },
  CLUSTERD_ERR_JOB_NOT_PAUSED: { status: 409, exit: 5, summary: 'The job is not a paused rolling upgrade, so it cannot be resumed or retried in place.' },
  CLUSTERD_ERR_NOTHING_TO_RETRY: { status: 409, exit: 5, summary: 'No node of the job failed, so there is nothing to retry.' },
  CLUSTERD_ERR_METHOD_NOT_ALLOWED: { status: 405, exit: 2, summary: 'The API route does not accept this HTTP method.' },
  CLUSTERD_ERR_PAYLOAD_TOO_LARGE: { status: 413, exit: 2, summary: 'The API request body exceeds the size limit.' },
  CLUSTERD_ERR_NO_MANAGER: { status: 503, exit: 6, summary: 'No manager is elected or reachable right now; retry shortly.' },
  CLUSTERD_ERR_MANAGER_CHANGED: { status: 502, exit: 8, summary: 'The manager changed while the request was in flight: a job submission or cancel may or may not have been applied; a write refused because its manager was replaced was not.' },
  CLUSTERD_ERR_UNAVAILABLE: { status: 503, exit: 6, summary: 'The agent cannot be reached or is shutting down.' },
  CLUSTERD_ERR_PLAYBOOK_CONFIG: { status: 400, exit: 2, summary: 'The playbook directory or role definition fails validation.' },
  CLUSTERD_ERR_ADDRESS_IN_USE: { status: 409, exit: 5, summary: 'Another process already listens on the address or socket the agent was told to use.' },
  CLUSTERD_ERR_STALE_EPOCH: { status: 409, exit: 5, summary: 'The node has seen a newer manager epoch and refuses work from this (stale) manager.' },
  CLUSTERD_ERR_LEASE_BUSY: { status: 409, exit: 5, summary: 'The node is leased to another manager (or another epoch) whose lease has not expired.' },
  CLUSTERD_ERR_LEASE_LOST: { status: 409, exit: 5, summary: 'The manager lost its lease on the node during the work (not renewed in time, or refused at renewal); the work on that node was stopped.' },
  CLUSTERD_ERR_LEASE_REFUSED: { status: 409, exit: 5, summary: 'The node agent refused or could not answer the lease request (bad claim, wrong node or peer, agent unreachable).' },
  CLUSTERD_ERR_INTERNAL: { status: 500, exit: 70, summary: 'An unexpected internal error; see the agent log.' },
  CLUSTERD_ERR_STORE_UNAVAILABLE: { status: 503, exit: 6, summary: 'The manager database cannot be opened: held by another process, missing permissions or an I/O error.' },
  CLUSTERD_ERR_STORE_CORRUPT: { status: 500, exit: 70, summary: 'The manager database is damaged, has lost acknowledged writes or was written by a newer version; restore it from a replica or backup.' },
  CLUSTERD_ERR_REQUEST_TIMEOUT: { status: 408, exit: 6, summary: 'The client did not send the whole API request in time; the connection was closed.' },
  CLUSTERD_ERR_STORE_FULL: { status: 507, exit: 6, summary: 'The manager database could not write because its disk is full; the change was not made, reads still work.' },
  CLUSTERD_ERR_BACKUP_DAMAGED: { status: 400, exit: 65, summary: 'The backup file is truncated, fails its checksum or holds an invalid store; nothing was restored.' },
  CLUSTERD_ERR_BACKUP_FOREIGN: { status: 400, exit: 65, summary: 'The file is not a clusterd backup, or a backup version this build does not read; nothing was restored.' },
  CLUSTERD_ERR_REVISION_NOT_FOUND: { status: 404, exit: 4, summary: 'No configuration revision with that number is stored.' },
  CLUSTERD_ERR_NO_REVISION: { status: 409, exit: 5, summary: 'The cluster holds no configuration revision yet, so no job can run.' },
  CLUSTERD_ERR_UPGRADE_REFUSED: { status: 409, exit: 5, summary: 'The upgrade (to a configuration revision or an agent version) would be a no-op or a downgrade for some nodes; refused without --force.' }
} as const

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES

/** The JSON body of every API error response. */
export interface ErrorBody {
  error: { code: ErrorCode, message: string, details?: unknown }
}

/** Base class: an expected failure with a stable code, safe to show to a user. */
export class ClusterdError extends Error {
  readonly code: ErrorCode
  readonly details?: unknown

  constructor (code: ErrorCode, message: string, details?: unknown) {
    super(message)
    this.name = 'ClusterdError'
    this.code = code
    this.details = details
  }

  /** HTTP status this error maps to over the API. */
  get status (): number { return ERROR_CODES[this.code].status }

  /** Process exit code this error maps to in the CLI. */
  get exitCode (): number { return ERROR_CODES[this.code].exit }

  /** The API response body for this error. */
  toBody (): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.details !== undefined ? { details: this.details } : {}) } }
  }
}

/** True when `code` is a registered error code. */
export function isErrorCode (code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)
}
