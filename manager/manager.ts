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
import { routeKey, type ApiHandler } from '../protocol/api-handler.js'
import type { ManagerFactory, ManagerRole } from '../protocol/manager-role.js'
import type { StallLog } from '../protocol/stall-watch.js'
import type { ManagerFigures, ManagerMetricsSink } from '../protocol/manager-metrics.js'
import type { Member } from '../protocol/members.js'
import type { LifecycleEvent, NodeRecord } from '../protocol/nodes.js'
import type { Lineage, SnapshotEntry } from '../protocol/replication-wire.js'
import type { LeaseReply, LeaseRequest } from '../protocol/fencing-wire.js'
import { CLUSTERD_VERSION } from '../protocol/version.js'
import { AnsibleRunner } from './ansible/playbook-runner.js'
import { CONFIG_DEFAULTS, matchesSelector, parseAutoCommission, replicationAcks, retentionPolicy } from './api/config-values.js'
import { managerRouteMap, managerRoutes } from './api/manager-routes.js'
import { NodeDiscovery } from './discovery/node-discovery.js'
import { onReturnPolicy, returnJob } from './on-return/on-return.js'
import { JobRunner, type NodeTarget } from './jobs/job-runner.js'
import { claimSigner } from './fencing/claim-signer.js'
import { libp2pLeaseTransport } from './fencing/lease-transport.js'
import { NodeLeases } from './fencing/node-leases.js'
import { Revisions } from './revisions/revisions.js'
import { clusterVars } from './jobs/job-settings.js'
import { precheck } from './ssh/precheck.js'
import { SshConnector } from './ssh/remote-shell.js'
import { SshCertIssuer } from './ssh/cert-issuer.js'
import { OpenSshConnector } from './ssh/openssh-connector.js'
import { Replicator } from './replication/replicator.js'
import type { ReplicatorInit } from './replication/replicator-contract.js'
import { Pruner, type PrunerInit } from './retention/pruner.js'
import { ManagerStore } from './store/index.js'
import { writeUnacked } from './store/unacked.js'
import { Deposition, rivalClaimNews, type CheckedClaim, type DeposedNews } from './deposition.js'

/** How long a job waits for a node's facts (its SSH host keys) that were not fetched yet. */
export const TARGET_FACTS_WAIT_MS = 5_000

/** What the agent hands the manager. */
export interface ManagerDeps {
  dataDir: string
  logger: Logger
  membership: {
    members: () => Member[]
    onChange: (listener: (change: unknown, member: Member) => void) => () => void
    /** Keep every member's facts fetched until the returned function is called (agent/membership/member-facts.ts). */
    watchFacts?: () => () => void
    /** One member with its facts fetched, asked again while fetches fail, until `signal` fires (agent/membership/membership.ts). */
    memberWithFacts?: (peerId: string, signal: AbortSignal) => Promise<Member | null>
  }
  self: { name: string, peerId: string }
  /** Directory holding roles.yaml and the playbooks: revision 1 of a cluster whose store holds none. */
  playbookDir: string
  /** The manager's SSH private key (a cluster secret, mode 0600); used only without `sshCaKeyPath`. */
  sshKeyPath: string
  /**
   * The cluster SSH CA private key: when given, the manager signs itself a short-lived
   * certificate for its epoch (manager/ssh/cert-issuer.ts) and logs in with that instead.
   */
  sshCaKeyPath?: string
  /** Certificate lifetime and renewal (tests shorten them). */
  sshCert?: { validityS?: number, renewMs?: number }
  /** Cluster name injected into playbooks. */
  cluster: string
  /**
   * This process's stalls (protocol/stall-watch.ts, started by the agent): a write no replica
   * confirmed after a stall is not acknowledged alone, and the manager steps down.
   */
  stalls: StallLog
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
  /**
   * The manager learned that a newer epoch exists (it was deposed): the agent steps down
   * (Election.stepDown), which stops this role. Called once.
   */
  onDeposed?: (epoch: number, manager: string | null, claim?: Uint8Array) => void
  /**
   * Checks a manager claim a node relayed (its `rivalClaim`) as the election checks broadcast
   * claims: signed by a known eligible member under its own name. Without it relayed claims are
   * ignored.
   */
  checkClaim?: (claim: Uint8Array) => CheckedClaim
  /** Told of jobs that end and lifecycle transitions (the agent's `GET /metrics`). */
  metrics?: ManagerMetricsSink
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
  if (m.facts === null) return { unavailable: 'the node\'s facts (SSH host keys) have not been fetched from it yet; retry shortly' }
  const keys = m.facts.sshHostKeys
  if (keys.length === 0) return { unavailable: 'the node reported no SSH host key, so none can be pinned (is sshd installed on it?)' }
  return { address: ip, hostKeys: keys }
}

/**
 * `targetOf`, fetching the facts first when the node's peer is a member whose facts were not
 * fetched yet (facts travel on demand, not in gossip): a job a new manager resumes right after
 * its election would otherwise fail its nodes for want of their host keys. Bounded by
 * TARGET_FACTS_WAIT_MS and `signal`; this node's facts only, asked again while the fetch fails (a node
 * that just returned gossips before it serves them), whatever an earlier background fetch found.
 */
export async function targetWithFacts (membership: ManagerDeps['membership'], node: NodeRecord, signal: AbortSignal): Promise<NodeTarget | { unavailable: string }> {
  const members = membership.members()
  const t = targetOf(members, node)
  const m = members.find(x => x.peerId === node.peerId)
  if (!('unavailable' in t) || m === undefined || m.facts !== null || membership.memberWithFacts === undefined) return t
  const fetched = await membership.memberWithFacts(m.peerId, AbortSignal.any([signal, AbortSignal.timeout(TARGET_FACTS_WAIT_MS)])).catch(() => m)
  return targetOf(fetched === null ? [] : [fetched], node)
}

/** The manager role for one epoch. */
export class Manager implements ManagerRole {
  private readonly deps: ManagerDeps
  private readonly store: ManagerStore
  private readonly replicator: Replicator | null
  private readonly jobs: JobRunner
  private readonly discovery: NodeDiscovery
  private readonly pruner: Pruner
  private readonly revisions: Revisions
  private readonly routeMap: Map<string, ApiHandler>
  private readonly log: Logger
  private readonly epoch: number
  private readonly certs: SshCertIssuer | null
  /** The lineage and revision this store had when the role started (what replicas of it need not send). */
  private base: (Lineage & { revision: number }) | null = null
  private stopping = false
  private mergeChain: Promise<void> = Promise.resolve()
  /** Catch-ups after merges, one at a time, each after the start (see merge). */
  private catchUpChain: Promise<void> = Promise.resolve()
  /** Resolves once start() has started (or failed to start) the job runner and discovery. */
  private started: Promise<void> = Promise.resolve()
  private readonly deposition: Deposition
  /** Runs being cancelled because this manager was deposed. */
  private cancelling: Promise<void> = Promise.resolve()
  /** Keys written but refused as stale (late views), persisted for the next manager's pull. */
  private readonly unacked = new Set<string>()
  private unackedChain: Promise<void> = Promise.resolve()

  constructor (deps: ManagerDeps, epoch: number) {
    this.deps = deps
    this.epoch = epoch
    this.deposition = new Deposition(epoch, deps.self.peerId)
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
        merge: async (entries, from, unacked) => { await this.merge(entries, from, unacked) },
        acks: () => replicationAcks(this.store.peekConfig('replication.acks')),
        base: () => this.base,
        onDeposed: news => { this.deposed({ epoch: news.epoch, source: 'replica', from: news.replica, manager: news.manager }) },
        onUnacked: keys => { this.recordUnacked(keys) },
        stalls: deps.stalls,
        onUnconfirmed: stalledMs => { this.deposed({ epoch: epoch + 1, source: 'stall', stalledMs }) }
      }, { selfPeerId: deps.self.peerId, epoch, ...deps.replication })
    const replicator = this.replicator
    this.store = new ManagerStore({
      logger,
      fence: () => this.deposition.refusal(),
      ...(deps.metrics !== undefined ? { onLifecycleEvents: lifecycleCounter(deps.metrics) } : {}),
      ...(replicator !== null ? { afterCommit: async batch => { await replicator.replicate(batch) } } : {})
    }, { path: join(deps.dataDir, 'manager'), epoch })
    this.certs = deps.sshCaKeyPath === undefined
      ? null
      : new SshCertIssuer({ logger }, { caKeyPath: deps.sshCaKeyPath, dir: join(deps.dataDir, 'ssh-cert'), epoch, nodeName: deps.self.name, ...deps.sshCert })
    const certs = this.certs
    const ssh = certs === null
      ? new SshConnector({ logger }, { privateKeyPath: deps.sshKeyPath })
      : new OpenSshConnector({ logger }, { privateKeyPath: certs.privateKeyPath, certificatePath: certs.certificatePath, workDir: join(deps.dataDir, 'runs') })
    const sshIdentity = certs === null
      ? { privateKeyPath: deps.sshKeyPath }
      : { privateKeyPath: certs.privateKeyPath, certificatePath: certs.certificatePath }
    const fencing = deps.fencing === undefined || deps.libp2p === undefined
      ? undefined
      : new NodeLeases({
        transport: libp2pLeaseTransport({ libp2p: deps.libp2p, selfPeerId: deps.self.peerId, local: deps.fencing.local }),
        sign: claimSigner(deps.fencing.privateKey),
        logger: logger.child({ component: 'node-leases' }),
        onNewerEpoch: newer => { this.deposed({ epoch: newer, source: 'node-lease' }) },
        onRivalClaim: (claim, node) => { this.rivalClaim(claim, node) }
      }, { epoch, selfPeerId: deps.self.peerId })
    this.revisions = new Revisions({ store: this.store, logger: logger.child({ component: 'revisions' }) }, { dir: join(deps.dataDir, 'revisions') })
    const revisions = this.revisions
    this.jobs = new JobRunner({
      store: this.store,
      logger: logger.child({ component: 'jobs' }),
      playbooks: new AnsibleRunner({ logger }, { ...sshIdentity, workDir: join(deps.dataDir, 'runs') }),
      precheck: async (target, signal) => await precheck(ssh, target, { signal }),
      roles: async revision => await revisions.roleConfig(revision),
      currentRevision: async () => await revisions.current(),
      target: async (node, signal) => await targetWithFacts(deps.membership, node, signal),
      ...(fencing !== undefined ? { fencing } : {}),
      ...(deps.metrics !== undefined ? { metrics: deps.metrics } : {})
    }, { epoch, cluster: deps.cluster, baseVars: { agent_version: CLUSTERD_VERSION }, selfName: deps.self.name })
    this.discovery = new NodeDiscovery({
      store: this.store,
      logger: logger.child({ component: 'discovery' }),
      members: () => deps.membership.members(),
      onMemberChange: listener => deps.membership.onChange((_change, member) => { listener(member) }),
      ...(deps.membership.watchFacts !== undefined ? { watchFacts: deps.membership.watchFacts.bind(deps.membership) } : {}),
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
      bindingChanged: name => { this.discovery.recheck(name) },
      agentUpgrade: { listNodes: async () => await this.store.listNodes(), releasesDir: join(deps.dataDir, 'releases') },
      backup: { openSnapshot: async maxBytes => await this.store.openSnapshot(maxBytes), source: () => ({ peerId: deps.self.peerId, epoch }) },
      revisions: {
        store: this.store,
        revisions,
        agentVersion: async () => (await clusterVars(this.store, { agent_version: CLUSTERD_VERSION })).agent_version ?? null
      }
    }), routeKey)
  }

  /** @inheritdoc */
  async start (): Promise<void> {
    await mkdir(join(this.deps.dataDir, 'runs'), { recursive: true, mode: 0o700 })
    // The credential first: a CA key that cannot sign fails the start, not every job.
    await this.certs?.start()
    try {
      await this.store.start()
      // Late writes recorded while this store's agent was a deposed manager are its state now.
      await this.store.setUnacked(null)
    } catch (err) {
      await this.certs?.stop()
      throw err
    }
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
      // Before jobs resume: they run from a stored revision (docs/architecture.md, "Configuration revisions").
      await this.revisions.ensureInitial(this.deps.playbookDir, `manager ${this.deps.self.name}`)
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
    await this.cancelling
    await this.mergeChain
    await this.catchUpChain
    await this.pruner.stop()
    await this.discovery.stop()
    await this.jobs.stop()
    // After the jobs: their last writes are still replicated.
    await this.replicator?.stop()
    await this.unackedChain
    await this.store.stop()
    // Deposed or leaving: the key goes; a copy of the certificate would expire on its own.
    await this.certs?.stop()
  }

  /**
   * A newer epoch exists: acknowledge nothing more (the store's fence refuses every write),
   * cancel the runs (their abort signals stop Ansible; jobs stay `running` for the new manager),
   * and step down. Acts on the first news only; logged once.
   */
  private deposed (news: DeposedNews): void {
    if (!this.deposition.learn(news)) return
    this.log.error({ newerEpoch: news.epoch, source: news.source, from: news.from, manager: news.manager, stalledMs: news.stalledMs },
      news.source === 'stall'
        ? `deposed: manager epoch ${this.epoch} stood still for ${((news.stalledMs ?? 0) / 1000).toFixed(1)} s and no replica confirmed it since (stall); acknowledging no more writes, cancelling runs, stepping down`
        : news.epoch === this.epoch
        ? `deposed: manager epoch ${this.epoch} lost its epoch to ${news.manager ?? 'another manager'} (${news.source}); acknowledging no more writes, cancelling runs, stepping down`
        : `deposed: manager epoch ${this.epoch} learned of epoch ${news.epoch} (${news.source}); acknowledging no more writes, cancelling runs, stepping down`)
    this.cancelling = this.jobs.stop().catch(err => { this.log.error({ err }, 'cancelling runs after deposition failed') })
    try { this.deps.onDeposed?.(news.epoch, news.manager ?? null, news.claim) } catch (err) { this.log.error({ err }, 'step-down listener failed') }
  }

  /**
   * A node refused a lease because its election gives our epoch to another manager, and sent
   * that manager's signed claim: two agents claimed one epoch and this one has not heard the
   * other. Verified here, it deposes this manager at once (nothing more is acknowledged, so a
   * job's refused lease is not recorded as the node's failure), and the election takes the claim:
   * it names the better of the two or claims above it. A claim that fails the checks changes nothing.
   */
  private rivalClaim (claim: Uint8Array, node: string): void {
    const checked = this.deps.checkClaim?.(claim)
    if (checked === undefined) return
    if (!checked.ok) {
      this.log.warn({ node, reason: checked.reason }, 'a node named another manager of this epoch, but the claim it sent fails its checks; ignored')
      return
    }
    const news = rivalClaimNews(checked, this.epoch, this.deps.self.peerId, node, claim)
    if (news !== null) this.deposed(news)
  }

  /** Keep the keys of writes refused as stale in the store's late-writes sidecar (manager/store/unacked.ts). */
  private recordUnacked (keys: string[]): void {
    for (const k of keys) this.unacked.add(k)
    const newerEpoch = this.deposition.news?.epoch ?? this.epoch + 1
    const path = join(this.deps.dataDir, 'manager')
    this.unackedChain = this.unackedChain
      .then(async () => { await writeUnacked(path, { epoch: this.epoch, newerEpoch, keys: [...this.unacked] }) })
      .catch(err => { this.log.error({ err }, 'recording late writes failed; the next manager may apply them') })
  }

  /** @inheritdoc */
  routes (): Map<string, ApiHandler> {
    return this.routeMap
  }

  /** @inheritdoc */
  revision (): number {
    return this.store.revision
  }

  /** @inheritdoc */
  metrics (): ManagerFigures {
    const stats = this.replicator?.stats()
    return {
      storeRevision: this.store.revision,
      nodesByState: this.store.nodesByState(),
      replicas: this.replicator?.acked() ?? {},
      replicationAcks: stats?.acks ?? 0,
      underReplicated: stats?.underReplicated ?? 0,
      jobsActive: this.jobs.active
    }
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
  private async merge (entries: SnapshotEntry[], from: string, unacked: ReadonlySet<string>): Promise<void> {
    const run = this.mergeChain.then(async () => {
      if (this.stopping) throw new Error('the manager is stopping')
      return await this.store.mergeForeign(entries, { unacked })
    })
    this.mergeChain = run.then(() => {}, () => {})
    const report = await run
    const changed = report.nodesAdded.length + report.nodesTakenOver.length + report.lifecycleEvents +
      report.jobsAdded.length + report.jobsUpdated.length + report.jobEvents + report.config.length + report.stale.length
    if (changed === 0) return
    this.log.warn({ from, ...report }, 'merged changes from another lineage (a healed partition or a deposed manager)')
    // Not on the merge chain: the catch-up waits for the start, whose writes may wait for a
    // replica whose pull is merging right behind it; on one chain the second merge of a start
    // waited for the start, and the start forever (a new manager that pulled two replicas of
    // other lineages never finished starting: same-epoch test, CI).
    this.catchUpChain = this.catchUpChain.then(async () => {
      await this.started
      if (this.stopping || this.deposition.news !== null) return
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
      // A cordoned node is under maintenance: its return is recorded, nothing is run on it.
      if (record.cordoned) {
        this.deps.logger.info({ node: record.name }, 'cordoned node returned: no on-return job')
        return
      }
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

/** Reports the lifecycle events that changed a node's state to `sink` (notes and checks change none). */
function lifecycleCounter (sink: ManagerMetricsSink): (events: LifecycleEvent[]) => void {
  return events => { for (const e of events) if (e.from !== e.to) sink.lifecycleTransition(e.from, e.to) }
}

/** Factory the agent's ManagerHost calls on each election won. */
export function createManagerFactory (deps: ManagerDeps): ManagerFactory {
  return ({ epoch }) => new Manager(deps, epoch)
}
