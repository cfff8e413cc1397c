/**
 * Composition root of the manager role: the only place in manager/ that picks concrete
 * classes. The agent builds one Manager per won election (epoch) and stops it when deposed.
 * Start: open the store, resume jobs, reconcile membership into node records, apply the
 * auto-commission policy to new nodes and the on-return policy to nodes that come back.
 * Stop: stop discovery, stop jobs (they resume on the next start), close the store.
 */

import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { ManagerFactory, ManagerRole } from '../agent/election/manager-host.js'
import { routeKey } from '../agent/election/manager-gateway.js'
import type { ApiHandler } from '../agent/api/router.js'
import type { Member } from '../protocol/members.js'
import type { NodeRecord } from '../protocol/nodes.js'
import type { Lineage, SnapshotEntry } from '../protocol/replication-wire.js'
import type { LeaseReply, LeaseRequest } from '../protocol/fencing-wire.js'
import { CLUSTERD_VERSION } from '../protocol/version.js'
import { AnsibleRunner } from './ansible/playbook-runner.js'
import { CONFIG_DEFAULTS, matchesSelector, parseAutoCommission, replicationAcks, retentionPolicy } from './api/config-values.js'
import { managerRouteMap, managerRoutes } from './api/manager-routes.js'
import { NodeDiscovery } from './discovery/node-discovery.js'
import { onReturnPolicy, returnJob } from './returns/on-return.js'
import { JobRunner, type NodeTarget } from './jobs/job-runner.js'
import { claimSigner } from './fencing/claim-signer.js'
import { libp2pLeaseTransport } from './fencing/lease-transport.js'
import { NodeLeases } from './fencing/node-leases.js'
import { shippedPlaybookDir } from './roles/shipped.js'
import { loadRoleConfig } from './roles/role-config.js'
import { precheck } from './ssh/precheck.js'
import { SshConnector } from './ssh/remote-shell.js'
import { Replicator, type ReplicatorInit } from './replication/replicator.js'
import { Pruner, type PrunerInit } from './retention/pruner.js'
import { ManagerStore } from './store/index.js'

/** What the agent hands the manager. */
export interface ManagerDeps {
  dataDir: string
  logger: Logger
  membership: {
    members: () => Member[]
    onChange: (listener: (change: unknown, member: Member) => void) => () => void
  }
  self: { name: string, peerId: string }
  /** Directory holding roles.yaml and the playbooks. */
  playbookDir: string
  /** The manager's SSH private key (a cluster secret, mode 0600). */
  sshKeyPath: string
  /** Cluster name injected into playbooks. */
  cluster: string
  /** When given, every committed write is replicated to the eligible agents before it is acknowledged. */
  libp2p?: Pick<Libp2p, 'dialProtocol'>
  /**
   * Fencing (with `libp2p`): the agent's key signs lease claims, and its own lease keeper answers
   * for this node. Without it jobs run without node leases.
   */
  fencing?: { privateKey: Pick<PrivateKey, 'sign'>, local: (req: LeaseRequest) => Promise<LeaseReply> }
  /** Replicator settings (tests and benchmarks shorten timings); acks come from `replication.acks`. */
  replication?: Omit<ReplicatorInit, 'selfPeerId' | 'epoch'>
  /** Timing of retention passes (tests shorten it); the policy itself is the `retention.*` config. */
  retention?: PrunerInit
}

/**
 * Address and pinned host keys of a node, from the signed membership record of the peer its
 * name is bound to: never looked up by name, so a member claiming the name is never targeted.
 */
export function targetOf (members: Member[], node: NodeRecord): NodeTarget | { unavailable: string } {
  const m = members.find(x => x.peerId === node.peerId)
  if (m === undefined) return { unavailable: `the node's peer ${node.peerId} is not in the membership view` }
  const ip = m.addresses.map(a => /^\/ip[46]\/([^/]+)\//.exec(a)?.[1]).find(x => x !== undefined)
  if (ip === undefined) return { unavailable: 'the node advertises no IP address' }
  const keys = m.facts?.sshHostKeys ?? []
  if (keys.length === 0) return { unavailable: 'the node reported no SSH host key, so none can be pinned (is sshd installed on it?)' }
  return { address: ip, hostKeys: keys }
}

/** The manager role for one epoch. */
export class Manager implements ManagerRole {
  private readonly deps: ManagerDeps
  private readonly store: ManagerStore
  private readonly replicator: Replicator | null
  private readonly jobs: JobRunner
  private readonly discovery: NodeDiscovery
  private readonly pruner: Pruner
  private readonly routeMap: Map<string, ApiHandler>
  private readonly log: Logger
  private readonly epoch: number
  /** The lineage and revision this store had when the role started (what replicas of it need not send). */
  private base: (Lineage & { revision: number }) | null = null
  private stopping = false
  private mergeChain: Promise<void> = Promise.resolve()
  /** Resolves once start() has started (or failed to start) the job runner and discovery. */
  private started: Promise<void> = Promise.resolve()

  constructor (deps: ManagerDeps, epoch: number) {
    this.deps = deps
    this.epoch = epoch
    const logger = deps.logger.child({ epoch })
    this.log = logger
    this.replicator = deps.libp2p === undefined
      ? null
      : new Replicator({
        libp2p: deps.libp2p,
        logger: logger.child({ component: 'replicator' }),
        members: () => deps.membership.members(),
        openSnapshot: async maxBytes => await this.store.openSnapshot(maxBytes),
        revision: () => this.store.revision,
        merge: async (entries, from) => { await this.merge(entries, from) },
        acks: () => replicationAcks(this.store.peekConfig('replication.acks')),
        base: () => this.base
      }, { selfPeerId: deps.self.peerId, epoch, ...deps.replication })
    const replicator = this.replicator
    this.store = new ManagerStore({
      logger,
      ...(replicator !== null ? { afterCommit: async batch => { await replicator.replicate(batch) } } : {})
    }, { path: join(deps.dataDir, 'manager') })
    const ssh = new SshConnector({ logger }, { privateKeyPath: deps.sshKeyPath })
    const fencing = deps.fencing === undefined || deps.libp2p === undefined
      ? undefined
      : new NodeLeases({
        transport: libp2pLeaseTransport({ libp2p: deps.libp2p, selfPeerId: deps.self.peerId, local: deps.fencing.local }),
        sign: claimSigner(deps.fencing.privateKey),
        logger: logger.child({ component: 'node-leases' })
      }, { epoch, selfPeerId: deps.self.peerId, checkPlaybook: join(shippedPlaybookDir(), 'lease-check.yml') })
    this.jobs = new JobRunner({
      store: this.store,
      logger: logger.child({ component: 'jobs' }),
      playbooks: new AnsibleRunner({ logger }, { privateKeyPath: deps.sshKeyPath, workDir: join(deps.dataDir, 'runs') }),
      precheck: async (target, signal) => await precheck(ssh, target, { signal }),
      roles: async () => await loadRoleConfig(deps.playbookDir),
      target: node => targetOf(deps.membership.members(), node),
      ...(fencing !== undefined ? { fencing } : {})
    }, { epoch, cluster: deps.cluster, baseVars: { agent_version: CLUSTERD_VERSION } })
    this.discovery = new NodeDiscovery({
      store: this.store,
      logger: logger.child({ component: 'discovery' }),
      members: () => deps.membership.members(),
      onMemberChange: listener => deps.membership.onChange((_change, member) => { listener(member) }),
      onDiscovered: (record, member) => { void this.autoCommission(record, member) },
      onReturned: record => { void this.onReturn(record) }
    })
    this.pruner = new Pruner({
      store: this.store,
      logger: logger.child({ component: 'retention' }),
      policy: async () => { const all = await this.store.allConfig(); return retentionPolicy(key => all[key]) }
    }, deps.retention)
    this.routeMap = managerRouteMap(managerRoutes({
      store: this.store,
      jobs: this.jobs,
      members: () => deps.membership.members(),
      bindingChanged: name => { this.discovery.recheck(name) }
    }), routeKey)
  }

  /** @inheritdoc */
  async start (): Promise<void> {
    await mkdir(join(this.deps.dataDir, 'runs'), { recursive: true, mode: 0o700 })
    await this.store.start()
    // From here on the store's history is this manager's: replicas of the lineage it followed
    // up to now, and not ahead of it, hold a prefix of it.
    const lineage = await this.store.lineage()
    this.base = lineage === null ? null : { ...lineage, revision: this.store.revision }
    await this.store.setLineage({ epoch: this.epoch, peerId: this.deps.self.peerId })
    // The replicator may merge a replica's state while the rest starts: its catch-up waits for this.
    let started!: () => void
    this.started = new Promise(resolve => { started = resolve })
    this.replicator?.start()
    try {
      await this.jobs.start()
      await this.discovery.start()
      this.pruner.start()
    } catch (err) {
      started()
      await this.stop()
      throw err
    }
    started()
  }

  /** @inheritdoc */
  async stop (): Promise<void> {
    this.stopping = true
    await this.mergeChain
    await this.pruner.stop()
    await this.discovery.stop()
    await this.jobs.stop()
    // After the jobs: their last writes are still replicated.
    await this.replicator?.stop()
    await this.store.stop()
  }

  /** @inheritdoc */
  routes (): Map<string, ApiHandler> {
    return this.routeMap
  }

  /** @inheritdoc */
  revision (): number {
    return this.store.revision
  }

  /**
   * Merge a replica's state from another lineage (see manager/store/merge.ts), then let the
   * parts that act on the store catch up: discovery re-derives reachability of merged nodes, and
   * the job runner restarts to resume merged jobs that are not finished (its restart resumes
   * running jobs from their last finished node).
   *
   * Resolves once the merge is durable; the catch-up runs after it, not awaited here. The
   * replicator calls this from the replica's send chain, and stopping the job runner waits for
   * its jobs' last writes, whose replication may wait for that very chain: awaiting the restart
   * here deadlocked the manager (found by the fault-injection suite, kill -9 mid-commission).
   */
  private async merge (entries: SnapshotEntry[], from: string): Promise<void> {
    const run = this.mergeChain.then(async () => {
      if (this.stopping) throw new Error('the manager is stopping')
      return await this.store.mergeForeign(entries)
    })
    this.mergeChain = run.then(() => {}, () => {})
    const report = await run
    const changed = report.nodesAdded.length + report.nodesTakenOver.length + report.lifecycleEvents +
      report.jobsAdded.length + report.jobsUpdated.length + report.jobEvents + report.config.length
    if (changed === 0) return
    this.log.warn({ from, ...report }, 'merged changes from another lineage (a healed partition or a deposed manager)')
    this.mergeChain = this.mergeChain.then(async () => {
      await this.started
      if (this.stopping) return
      if (report.nodesAdded.length + report.nodesTakenOver.length > 0) {
        await this.discovery.stop()
        await this.discovery.start()
      }
      // Also when a job this runner has taken up was finished on the other side: the restart
      // stops its run and drops its nodes (the runner never rewrites a finished job).
      if ((report.activeJobs.length > 0 || this.jobs.involves(report.jobsUpdated)) && !this.stopping) {
        await this.jobs.stop()
        await this.jobs.start()
      }
    }).catch(err => { this.log.error({ err }, 'catching up after a merge failed') })
  }

  /** Commission a newly discovered node when the policy is on and its labels match. */
  private async autoCommission (record: NodeRecord, member: Member): Promise<void> {
    try {
      const raw = await this.store.getConfig('auto-commission')
      const policy = raw === undefined ? CONFIG_DEFAULTS['auto-commission'] : parseAutoCommission(raw)
      if (!policy.enabled || !matchesSelector(member.labels, policy.selector)) return
      const job = await this.jobs.submit({ kind: 'commission', nodes: [record.name], roles: policy.roles, vars: {}, actor: 'auto-commission' })
      this.deps.logger.info({ node: record.name, job: job.id, roles: policy.roles }, 'auto-commissioning a new node')
    } catch (err) {
      this.deps.logger.warn({ node: record.name, err: (err as Error).message }, 'auto-commission refused')
    }
  }

  /** Apply the on-return policy to a commissioned node that came back. */
  private async onReturn (record: NodeRecord): Promise<void> {
    try {
      const kind = returnJob(onReturnPolicy(await this.store.getConfig('on-return')))
      if (kind === null) return
      const job = await this.jobs.submit({ kind, nodes: [record.name], roles: [], vars: {}, actor: 'on-return' })
      this.deps.logger.info({ node: record.name, job: job.id, kind }, 'on-return job started')
    } catch (err) {
      // Typically the node is already in a job (e.g. an upgrade): that job decides its state.
      this.deps.logger.warn({ node: record.name, err: (err as Error).message }, 'on-return job refused')
    }
  }
}

/** Factory the agent's ManagerHost calls on each election won. */
export function createManagerFactory (deps: ManagerDeps): ManagerFactory {
  return ({ epoch }) => new Manager(deps, epoch)
}
