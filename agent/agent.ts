/**
 * Composition root of `clusterd agent`: the only place that picks concrete classes.
 * Start: secret, identity, libp2p, membership, API. Stop (SIGTERM/SIGINT): API, graceful
 * leave, libp2p, in that order, under a deadline.
 */

import { mkdir } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { pino, type Logger } from 'pino'
import { AGENT_VERSION } from './version.js'
import type { AgentConfig, HostPort } from './config/agent-config.js'
import { collectFacts } from './facts/collect-facts.js'
import { loadOrCreateIdentity } from './identity/identity.js'
import { loadEligibilityTrust } from './identity/eligibility-files.js'
import { createClusterNode, hostPortToMultiaddr, type ClusterNode } from './libp2p/create-node.js'
import { ConnectionGate } from './libp2p/connection-gate.js'
import { IdleConnections } from './libp2p/idle-connections.js'
import { memberDialer } from './libp2p/member-dialer.js'
import { DatagramChannel } from './transport/datagram-channel.js'
import { counterStore } from './counter-store.js'
import { Election } from './election/election.js'
import { ManagerGateway } from './manager-role/manager-gateway.js'
import { ManagerHost } from './manager-role/manager-host.js'
import { lazyManagerFactory } from './manager-role/lazy-manager.js'
import { ManagerStore } from '../manager/store/index.js'
import type { ReplicaStatus } from '../protocol/replication-wire.js'
import type { Member } from '../protocol/members.js'
import { Replica } from './replica/replica.js'
import { LeaseKeeper } from './fencing/lease-keeper.js'
import { LEASE_FILE_NAME } from './fencing/lease-file.js'
import { LeaseSweeper } from './fencing/lease-sweeper.js'
import { StoreRecovery, refuseWhileAwaiting } from './replica/store-recovery.js'
import { ReplicaRevisions } from './replica/revision-gossip.js'
import { MANAGER_ROUTES } from '../protocol/api-routes.js'
import { routeKey } from '../protocol/api-handler.js'
import { EXIT_INTERNAL } from '../protocol/exit-codes.js'
import { Membership } from './membership/membership.js'
import { FAILURE_DETECTION_TIMING } from './membership/constants.js'
import { ApiServer } from './api/server.js'
import { readApiToken } from './api/bearer-auth.js'
import { readApiTls } from './api/tls-files.js'
import { registerLocalRoutes } from './api/local-routes.js'
import { readSecretFile } from './transport/secret.js'
import { StartupWatch, startupDeadlineFromEnv } from './startup-watch.js'
import { AgentMetrics } from './metrics/agent-metrics.js'
import { StallWatch } from '../protocol/stall-watch.js'
import { registerOpsRoutes } from './metrics/ops-routes.js'
import { findConsoleDir, loadConsoleFiles } from './console/console-files.js'
import { registerConsoleRoutes } from './console/console-routes.js'
import { judgeHealth, judgeReadiness } from './metrics/probes.js'
import { directoryBytes } from './metrics/store-bytes.js'
import { LogRing } from './diagnostics/log-ring.js'
import { StdoutSink } from './diagnostics/stdout-sink.js'
import { AgentDiagnosticsSource, secretValuesInMemory } from './diagnostics/agent-diagnostics.js'
import { DiagnosticsStream } from './diagnostics/diagnostics-stream.js'
import { registerDiagnosticsRoutes } from './diagnostics/diagnostics-routes.js'
import { formatLogLine } from '../protocol/log-lines.js'

/** How long a graceful stop may take before the process exits anyway. */
const STOP_DEADLINE_MS = 10_000

/** A running agent. */
export interface RunningAgent {
  peerId: string
  membership: Membership
  election: Election
  node: ClusterNode
  stop: () => Promise<void>
}

/** Address others should dial: --advertise, else the listen address, else the first non-loopback IPv4. */
export function resolveAdvertise (listen: HostPort, advertise: HostPort | null): HostPort {
  if (advertise !== null) return advertise
  if (listen.host !== '0.0.0.0' && listen.host !== '::') return listen
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.family === 'IPv4') return { host: a.address, port: listen.port }
  }
  return { host: '127.0.0.1', port: listen.port }
}

/**
 * Start every part of the agent; a failed start stops what did start. `watch` hears of each
 * step; `logs` holds the recent lines `logger` wrote (`GET /v1/logs`; none kept without it).
 */
export async function startAgent (config: AgentConfig, logger: Logger, watch?: Pick<StartupWatch, 'begin'>, logs: LogRing = new LogRing(() => {}, { capacity: 1 })): Promise<RunningAgent> {
  const startedAt = new Date()
  watch?.begin('secret and identity')
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
  const psk = await readSecretFile(config.secretFile)
  const privateKey = await loadOrCreateIdentity(config.dataDir)
  // Eligibility attested by the cluster SSH CA (README, "Trust model"); checked before listening.
  const trust = await loadEligibilityTrust({ ...config, peerId: peerIdFromPrivateKey(privateKey).toString() })
  const advertise = resolveAdvertise(config.listen, config.advertise)
  const advertiseAddr = hostPortToMultiaddr(advertise)
  watch?.begin('libp2p listen')
  // Members and seeds hold connections; other secret holders only to join (connection-gate.ts).
  // The view exists once membership starts; until then everyone is a joiner.
  let isMember: (peerId: string) => boolean = () => false
  const gate: { node: ClusterNode | null } = { node: null }
  const connectionGate = new ConnectionGate({
    isMember: peerId => isMember(peerId),
    connectedPeers: () => (gate.node?.getConnections() ?? []).map(c => c.remotePeer.toString()),
    logger: logger.child({ component: 'connection-gate' })
  }, { seedHosts: config.join.map(j => j.host) })
  const node = await createClusterNode({
    privateKey,
    psk,
    listen: hostPortToMultiaddr(config.listen),
    announce: [advertiseAddr],
    gater: connectionGate.gater()
  })
  gate.node = node
  const stack: Array<() => Promise<void>> = [async () => { await node.stop() }]
  const unwind = async (): Promise<void> => {
    for (const fn of stack.reverse()) await fn().catch(err => logger.error({ err }, 'stop step failed'))
  }
  try {
    watch?.begin('datagram channel')
    const timing = config.timing
    // SWIM datagrams: UDP on the same host and port as the libp2p TCP listener (like Serf).
    const datagrams = new DatagramChannel({ logger: logger.child({ component: 'datagrams' }) }, { secret: psk, host: config.listen.host, port: config.listen.port })
    await datagrams.start()
    stack.push(async () => { await datagrams.stop() })
    watch?.begin('membership (facts, incarnation)')
    const membership = new Membership({
      libp2p: node,
      privateKey,
      logger: logger.child({ component: 'membership' }),
      datagrams,
      collectFacts: async () => await collectFacts({ agentVersion: AGENT_VERSION }),
      incarnations: counterStore(config.dataDir, 'incarnation', { onInvalid: reason => { logger.error({ reason }, 'the persisted incarnation is not used') } }),
      ...(trust !== null ? { attestations: trust.verifier } : {})
    }, {
      nodeName: config.nodeName,
      labels: config.labels,
      managerEligible: config.managerEligible,
      ...(trust !== null && trust.attestation !== null ? { attestation: trust.attestation } : {}),
      advertise,
      seeds: config.join,
      // The operator's failure-detection timing, then any test or benchmark override.
      swim: { ...FAILURE_DETECTION_TIMING[config.failureDetection], ...timing },
      timing
    })
    await membership.start()
    stack.push(async () => { await membership.stop() })
    // Every broadcast, gateway call and replication request asks about its sender: one lookup,
    // not a walk over all members (membership.members() builds every Member; at 64 members that
    // walk per announcement was the largest CPU item of a late joiner; docs/benchmarks.md).
    let memberIndex: Map<string, Member> | null = null
    membership.onChange(() => { memberIndex = null })
    const memberOf = (peerId: string): Member | undefined => (memberIndex ??= new Map(membership.members().map(m => [m.peerId, m]))).get(peerId)
    isMember = peerId => memberOf(peerId) !== undefined
    // Manager RPC, replication and leases dial members by peer id; libp2p learns the address then.
    const dialer = memberDialer(node, id => membership.dialAddress(id))

    // Replication: an eligible agent holds a replica of the manager store while it is not the
    // manager, and failover prefers the eligible agent with the highest replica revision.
    let replica: Replica | null = null
    let managerHost: ManagerHost | null = null
    // A damaged store is moved aside and refilled from the manager; until then this agent
    // must not become manager (store-recovery.ts).
    watch?.begin('election')
    const recovery = new StoreRecovery({ logger: logger.child({ component: 'store-recovery' }) }, { dataDir: config.dataDir })
    await recovery.load()
    const managing = (): boolean => managerHost?.localRevision() != null
    const revisions = new ReplicaRevisions({
      broadcasts: membership,
      privateKey,
      isMember,
      logger: logger.child({ component: 'replica-revisions' }),
      revision: () => managerHost?.localRevision() ?? replica?.revision ?? 0,
      storeOpen: () => managing() || replica?.isOpen === true,
      // The manager and the few replicas its writes wait for; the rest are caught up behind them.
      acknowledging: () => managing() || replica?.acknowledging() === true,
      awaitingSnapshot: () => recovery.awaitingSnapshot
    }, { peerId: node.peerId.toString(), announce: config.managerEligible })
    revisions.start()
    stack.push(async () => { revisions.stop() })

    // While the store awaits a snapshot the election lists this agent ineligible (it never claims).
    const selfId = node.peerId.toString()
    const asElectionSees = (m: Member): Member => recovery.awaitingSnapshot && m.peerId === selfId ? { ...m, managerEligible: false } : m
    const election = new Election({
      broadcasts: membership,
      privateKey,
      logger: logger.child({ component: 'election' }),
      members: () => recovery.awaitingSnapshot ? membership.members().map(asElectionSees) : membership.members(),
      member: peerId => { const m = memberOf(peerId); return m === undefined ? m : asElectionSees(m) },
      epochs: counterStore(config.dataDir, 'epoch', { onInvalid: reason => { logger.error({ reason }, 'the persisted manager epoch is not used') } }),
      revisions,
      synced: () => membership.synced()
    }, { peerId: node.peerId.toString(), name: config.nodeName, eligible: config.managerEligible, hasSeeds: config.join.length > 0 })
    membership.onChange(change => { election.poke(change.peerId) })
    await election.start()
    stack.push(async () => { await election.stop() })

    // Bounded connections: close the ones idle ~30 s, except to the manager.
    const idle = new IdleConnections({
      libp2p: node,
      logger: logger.child({ component: 'connections' }),
      keep: () => { const m = election.manager(); return m === null ? [] : [m.peerId] }
    }, timing.idleConnectionMs !== undefined ? { idleMs: timing.idleConnectionMs } : {})
    idle.start()
    stack.push(async () => { idle.stop() })

    watch?.begin('lease keeper')
    // Fencing: this node's lease, granted to one manager epoch at a time (agent/fencing); the
    // sweeper stops what still runs on the node under a lease that ended.
    const keeper = new LeaseKeeper({ libp2p: node, election, logger: logger.child({ component: 'lease-keeper' }), sweeper: new LeaseSweeper() },
      { nodeName: config.nodeName, leaseFile: join(config.dataDir, LEASE_FILE_NAME) })
    await keeper.start()
    stack.push(async () => { await keeper.stop() })

    watch?.begin('replica store')
    if (config.managerEligible) {
      const replicaLogger = logger.child({ component: 'replica' })
      const r = new Replica({
        libp2p: node,
        election,
        logger: replicaLogger,
        openStore: recovery.wrap(() => new ManagerStore({ logger: replicaLogger }, { path: join(config.dataDir, 'manager') })),
        isEligibleMember: peerId => memberOf(peerId)?.managerEligible === true
      })
      await r.start()
      replica = r
      stack.push(async () => { await r.stop() })
    }

    // Metrics (agent/metrics): read from the parts at scrape time; the manager role reports
    // its jobs and lifecycle transitions into the same registry.
    // One watch of this process's stalls: /healthz and the metrics read its lateness, the
    // manager role its stalls (a frozen manager steps down).
    const stalls = new StallWatch()
    stalls.start()
    stack.push(async () => { stalls.stop() })
    const replicaStatus = (): ReplicaStatus => {
      const managerRevision = managerHost?.localRevision() ?? null
      if (managerRevision !== null) return { role: 'manager', revision: managerRevision, syncedEpoch: election.epoch }
      const status = replica?.status() ?? { role: 'closed', revision: 0, syncedEpoch: 0 }
      return recovery.awaitingSnapshot ? { ...status, awaitingSnapshot: true } : status
    }
    const metrics = new AgentMetrics({
      members: () => membership.members(),
      membershipStats: () => membership.stats(),
      datagramStats: () => datagrams.stats(),
      epoch: () => election.epoch,
      manager: () => election.manager(),
      leaseStats: () => keeper.stats(),
      storeRevision: () => config.managerEligible ? replicaStatus().revision : null,
      storeBytes: async () => config.managerEligible ? await directoryBytes(join(config.dataDir, 'manager')) : null,
      managerFigures: () => managerHost?.metrics() ?? null,
      eventLoop: () => stalls.reading(),
      logLinesDropped: () => logs.droppedBySink
    }, { version: AGENT_VERSION, nodeName: config.nodeName })
    election.onChange((info, previous) => { metrics.managerChanged(info, previous) })

    watch?.begin('manager host and gateway')
    const host = new ManagerHost({
      election,
      logger: logger.child({ component: 'manager-host' }),
      ...(replica !== null ? { handover: { release: async () => { await replica?.close() }, reclaim: async () => { await replica?.open() } } } : {}),
      // The manager's code is imported only when this agent is elected (manager-role/lazy-manager.ts).
      factory: refuseWhileAwaiting(recovery, lazyManagerFactory(async () => (await import('../manager/manager.js')).createManagerFactory({
        dataDir: config.dataDir,
        logger: logger.child({ component: 'manager' }),
        membership,
        self: { name: config.nodeName, peerId: node.peerId.toString() },
        playbookDir: config.playbookDir,
        sshKeyPath: config.sshKeyFile,
        ...(config.sshCaKeyFile !== null ? { sshCaKeyPath: config.sshCaKeyFile } : {}),
        cluster: 'clusterd',
        stalls,
        libp2p: dialer,
        fencing: { privateKey, local: async req => await keeper.handle(req, node.peerId.toString()) },
        // A deposed manager stops at once: the election drops it, so the host stops the role.
        // With a rival's verified claim, the election weighs it as if gossip had brought it.
        onDeposed: (epoch, manager, claim) => { void (claim !== undefined ? election.hearClaim(claim) : election.stepDown(epoch, manager)) },
        checkClaim: claim => election.checkClaim(claim),
        metrics
      })))
    })
    managerHost = host
    host.start()
    stack.push(async () => { await host.stop() })

    const gateway = new ManagerGateway({ libp2p: node, dialer, election, logger: logger.child({ component: 'gateway' }), localRoutes: () => host.localRoutes(), startError: () => host.startError, isMember })
    await gateway.start()
    stack.push(async () => { await gateway.stop() })

    watch?.begin('API socket')
    const token = config.apiTcp !== null ? await readApiToken(config.apiTcp.tokenFile) : null
    const api = new ApiServer({ logger: logger.child({ component: 'api' }) }, {
      socketPath: config.apiSocket,
      ...(config.apiTcp !== null && token !== null
        ? { tcp: { host: config.apiTcp.listen.host, port: config.apiTcp.listen.port, token, ...(config.apiTcp.tls !== null ? { tls: await readApiTls(config.apiTcp.tls) } : {}) } }
        : {})
    })
    registerLocalRoutes(api, {
      members: () => membership.members(),
      membersWithFacts: async signal => await membership.membersWithFacts(signal),
      // Each member's name binding comes from the manager's records (null: none elected yet).
      bindings: async signal => election.manager() === null
        ? null
        : await gateway.call(routeKey(MANAGER_ROUTES.nameBindings.method, MANAGER_ROUTES.nameBindings.pattern), { params: {}, query: {}, body: undefined, signal }),
      manager: () => election.manager(),
      replicaStatus,
      leaseStatus: () => keeper.leaseStatus()
    })
    registerOpsRoutes(api, {
      render: async () => await metrics.render(),
      health: () => judgeHealth(stalls.reading()),
      readiness: () => judgeReadiness({
        hasSeeds: config.join.length > 0,
        otherAliveMembers: membership.members().filter(m => m.status === 'alive' && m.peerId !== node.peerId.toString()).length,
        manager: election.manager(),
        managerServing: host.serving,
        managerStartError: host.startError
      })
    })
    // Diagnostics and recent logs, this agent's or another member's (agent/diagnostics).
    const diagnosticsSource = new AgentDiagnosticsSource({
      logs,
      members: () => membership.members(),
      manager: () => election.manager(),
      epoch: () => election.epoch,
      replicaStatus,
      leaseStatus: () => keeper.leaseStatus(),
      secretsInMemory: () => secretValuesInMemory(psk, token)
    }, { config, peerId: node.peerId.toString(), version: AGENT_VERSION, startedAt })
    const diagnosticsStream = new DiagnosticsStream({ libp2p: node, logger: logger.child({ component: 'diagnostics' }), source: diagnosticsSource, isMember })
    await diagnosticsStream.start()
    stack.push(async () => { await diagnosticsStream.stop() })
    registerDiagnosticsRoutes(api, { source: diagnosticsSource, stream: diagnosticsStream, members: () => membership.members(), selfPeerId: node.peerId.toString() })
    for (const r of Object.values(MANAGER_ROUTES)) api.route(r.method, r.pattern, gateway.handler(routeKey(r.method, r.pattern)))
    const consoleDir = findConsoleDir()
    registerConsoleRoutes(api, consoleDir === null ? null : await loadConsoleFiles(consoleDir))
    await api.start()
    stack.push(async () => { await api.stop() })

    logger.info({ peerId: node.peerId.toString(), listen: config.listen, advertise: advertiseAddr, node: config.nodeName, failureDetection: config.failureDetection }, 'agent started')
    return { peerId: node.peerId.toString(), membership, election, node, stop: unwind }
  } catch (err) {
    await unwind()
    throw err
  }
}

/**
 * Run the agent until SIGTERM or SIGINT, then leave gracefully. Resolves once stopped.
 */
export async function runAgent (config: AgentConfig): Promise<void> {
  // Every line goes to stdout (as JSON, or readable with --log-format pretty) and into the ring
  // of recent lines the API serves (agent/diagnostics/log-ring.ts).
  // Never blocking: a slow reader of stdout must not freeze the failure detector (stdout-sink.ts).
  const stdout = new StdoutSink()
  const logs = new LogRing(config.logFormat === 'pretty' ? line => { stdout.write(formatLogLine(line) + '\n') } : line => { stdout.write(line) }, { droppedBySink: () => stdout.dropped })
  const logger = pino({ level: config.logLevel, base: { node: config.nodeName } }, logs)
  // A start that hangs fails loudly at the deadline, naming its step (startup-watch.ts).
  logger.info({ version: AGENT_VERSION, pid: process.pid }, 'agent starting')
  const watch = new StartupWatch({ logger: logger.child({ component: 'startup' }) }, { deadlineMs: startupDeadlineFromEnv() })
  const agent = await startAgent(config, logger, watch, logs).finally(() => { watch.done() })
  await new Promise<void>(resolve => {
    const onSignal = (signal: string): void => {
      logger.info({ signal }, 'leaving the cluster')
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      const timer = setTimeout(() => {
        logger.error('graceful stop timed out; exiting')
        process.exit(EXIT_INTERNAL)
      }, STOP_DEADLINE_MS)
      timer.unref()
      agent.stop().finally(resolve)
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
  logger.info('agent stopped')
}
