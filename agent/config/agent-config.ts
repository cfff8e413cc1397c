/**
 * The agent's resolved configuration: defaults < YAML config file < flags. The parser in
 * `./parse-agent-config.ts` produces it; `agent.ts` consumes it.
 */

import type { FailureDetection } from './constants.js'
import type { SwimTiming } from '../membership/core/types.js'
import type { MembershipTiming } from '../membership/constants.js'

/** A host:port pair as given on the command line or in the config file. */
export interface HostPort {
  host: string
  port: number
}

/** Fully resolved, validated configuration for `clusterd agent`. */
export interface AgentConfig {
  /** Directory for identity, LevelDB and runtime state. Default `/var/lib/clusterd`. */
  dataDir: string
  /** Address the libp2p TCP transport listens on. Default `0.0.0.0:7946`. */
  listen: HostPort
  /** Address other members should dial; default: the listen address, or the first non-loopback IPv4 when listening on 0.0.0.0. */
  advertise: HostPort | null
  /** Seeds to join, plain host:port (no peer id). Repeatable. */
  join: HostPort[]
  /** Path of the cluster secret (swarm key format). Default `/etc/clusterd/secret`. */
  secretFile: string
  /** This node's name in the cluster. Default: the hostname. */
  nodeName: string
  /** Operator labels, KEY=VALUE. */
  labels: Record<string, string>
  /** Unix socket for the local API. Default `/run/clusterd/clusterd.sock`. */
  apiSocket: string
  /**
   * Optional TCP API listener; requests need `Authorization: Bearer <token>` from tokenFile.
   * Served over TLS with `tls`; without it only on a loopback address.
   */
  apiTcp: { listen: HostPort, tokenFile: string, tls: { certFile: string, keyFile: string } | null } | null
  /** Whether this agent may be elected manager. Default true. */
  managerEligible: boolean
  /** Directory with roles.yaml and the playbooks the manager runs. Default: the shipped `playbooks/`. */
  playbookDir: string
  /** The manager's SSH private key (cluster secret). Default `/etc/clusterd/manager_ed25519`. */
  sshKeyFile: string
  /**
   * The cluster SSH CA private key (manager-eligible nodes): when set, the elected manager signs
   * itself short-lived certificates with it instead of using `sshKeyFile`. Default: none.
   */
  sshCaKeyFile: string | null
  /**
   * The cluster SSH CA public key (every node): when set, a member's manager eligibility counts
   * only with the CA's attestation, and an eligible agent must hold `sshCaKeyFile` to make its
   * own. Default: none (eligibility is self-asserted).
   */
  sshCaPubFile: string | null
  /** Log level for pino. Default `info`. */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
  /**
   * Failure-detection timing: `standard` (500 ms probe timeouts, a suspicion of at least
   * 2 x log10(N) x 500 ms) tolerates agents short of CPU; `fast` (250 ms, 1.5 x log10(N) x
   * 500 ms) declares a dead member about a second sooner and wants a core per agent. Default
   * `standard`.
   */
  failureDetection: FailureDetection
  /** How log lines are written to stdout: `json` (pino, for machines; default) or `pretty` (one line per event for people). */
  logFormat: 'json' | 'pretty'
  /**
   * Membership timing overrides from CLUSTERD_TIMING (tests and benchmarks; README, "Environment"):
   * the core's knobs, the wrapper's and the idle-connection timeout, applied over
   * `failureDetection`'s timing. Default: none.
   */
  timing: TimingOverrides
}

/** Knobs CLUSTERD_TIMING may set: SWIM core, membership wrapper, idle libp2p connections (ms). */
export type TimingOverrides = Partial<SwimTiming> & Partial<MembershipTiming> & { idleConnectionMs?: number }
