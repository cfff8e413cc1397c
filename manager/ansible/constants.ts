/**
 * Defaults for running Ansible. Paths are absolute on purpose: a `python3` earlier on PATH
 * may be an interpreter without ansible_runner.
 */

/** The ansible-runner executable (Debian python3-ansible-runner). */
export const ANSIBLE_RUNNER_PATH = '/usr/bin/ansible-runner'

/** coreutils `nice`, which execs the runner at a lower CPU priority (same pid). */
export const NICE_PATH = '/usr/bin/nice'

/**
 * The run guard (`run-guard.py`, next to this module's source) runs ansible-runner as its child
 * so that no part of a playbook run outlives the agent: the kernel signals the guard when the
 * agent dies (kill -9, crash, OOM), and the guard, subreaper of the whole run, kills it all.
 * Without it the runner is orphaned, and ansible-playbook (its own session under pexpect)
 * worked on nodes for 20-30 s after the kill, next to the next manager (the fault suite).
 */
export const RUN_GUARD_FILE = 'manager/ansible/run-guard.py'

/** The local interpreter of the run guard (Debian's, as ansible-runner's). */
export const GUARD_PYTHON = '/usr/bin/python3'

/**
 * ansible-runner's `pexpect_timeout` (seconds): how often it looks at its cancel flag, so how
 * long a cancelled or orphaned run goes on before its playbook is killed (its default is 5).
 */
export const RUNNER_POLL_S = 1

/**
 * Niceness of a playbook run (ansible-runner, ansible-playbook and their forks). The manager's
 * agent keeps its heartbeats (membership probes, manager claims, lease renewals, replication)
 * on time while its own playbook runs load the CPU: a starved agent looks dead to the cluster.
 */
export const RUNNER_NICENESS = 10

/** The ssh client Ansible and the control-master cleanup use. */
export const SSH_PATH = '/usr/bin/ssh'

/** Remote user: commissioning configures the system, so it runs as root. */
export const REMOTE_USER = 'root'

/** Pinned remote interpreter; discovery costs about 30% per run. */
export const PYTHON_INTERPRETER = '/usr/bin/python3'

/** Parallel hosts per run; above ~5 does not help on this machine class. */
export const DEFAULT_FORKS = 5

/** Whole-run deadline unless the caller gives one. */
export const DEFAULT_RUN_TIMEOUT_MS = 30 * 60 * 1000

/** SSH connect timeout in seconds for each host. */
export const DEFAULT_CONNECT_TIMEOUT_S = 10

/** How long ssh control masters live; each run closes its own at the end anyway. */
export const CONTROL_PERSIST_S = 30

/** Grace between asking ansible-runner to stop and killing its process tree. */
export const KILL_GRACE_MS = 2000

/** Characters allowed in paths passed inside ssh option strings (Ansible shlex-splits them). */
export const SAFE_PATH = /^\/[A-Za-z0-9._/-]+$/

/** Bytes of stderr and non-event stdout kept for diagnostics. */
export const DIAGNOSTIC_TAIL_BYTES = 8 * 1024

/** Per-host changed tasks kept in a result (drift reports in check mode). */
export const MAX_CHANGES_PER_HOST = 50

/** PATH for the runner: system directories only. */
export const RUNNER_PATH_ENV = '/usr/sbin:/usr/bin:/sbin:/bin'
