/**
 * Defaults of the commissioning benchmark (clusterd against plain ansible-playbook).
 */
import { DEFAULT_FORKS } from '../../manager/ansible/constants.js'

/** The target: clusterd's commissioning wall time at most this multiple of plain ansible-playbook. */
export const TARGET_RATIO = 1.15

/** Forks of the baseline: the same as clusterd's runner uses. */
export const BASELINE_FORKS = DEFAULT_FORKS

/** Plain ansible-playbook, by path (a python3 earlier on PATH may lack ansible). */
export const ANSIBLE_PLAYBOOK_PATH = '/usr/bin/ansible-playbook'

/** Cluster name the agent composition root gives the manager (agent/agent.ts). */
export const CLUSTER_NAME = 'clusterd'

/** Roles commissioned in every run. */
export const ROLES = ['worker'] as const

/** Test-host prefixes: one per side, so a leftover of one side never collides with the other. */
export const CLUSTERD_PREFIX = 'bcc'
export const BASELINE_PREFIX = 'bcb'

/** How often the job is polled; the reported time comes from the job's own finishedAt. */
export const JOB_POLL_MS = 100

/** Deadlines: forming the cluster, and one commissioning run (20 hosts take minutes on 2 cores). */
export const FORM_TIMEOUT_MS = 180_000
export const RUN_TIMEOUT_MS = 15 * 60_000

/** Deadline of the commission POST (the agent harness client gives up after 5 s; a loaded manager can take longer). */
export const SUBMIT_TIMEOUT_MS = 60_000

/** Before each measured run: wait (at most this long) until other work keeps the CPUs below this. */
export const QUIET_BUSY_FRACTION = 0.25
export const QUIET_MAX_WAIT_MS = 5 * 60_000
