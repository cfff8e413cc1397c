/**
 * Names, addresses and links of one host set: a bridge in the root namespace, and per host a
 * network namespace with a veth pair (`eth0` inside, the other end in the bridge).
 */
import { readdirSync } from 'node:fs'
import { BIN, MAX_HOSTS_PER_SET, SUBNET_PREFIX } from './constants.js'
import { run, runOk } from './proc.js'

/** Every kernel-visible name of one set (slot `slot` of prefix `prefix`). */
export class SetNames {
  /** `${prefix}${slot}`: the stem of every name in the set. */
  readonly base: string
  /** The bridge on the root side. */
  readonly bridge: string
  /** `10.213.<slot>`: the /24 without its last octet. */
  readonly subnet: string
  /** The root namespace's address on the bridge. */
  readonly bridgeAddress: string

  constructor (readonly prefix: string, readonly slot: number) {
    this.base = `${prefix}${slot}`
    this.bridge = `${this.base}-br`
    this.subnet = `${SUBNET_PREFIX}.${slot}`
    this.bridgeAddress = `${this.subnet}.1`
  }

  /** Host name = netns name = hostname of host `index` (1-based). */
  host (index: number): string {
    return `${this.base}-h${index}`
  }

  /** Root-side veth of host `index` (<= 15 chars by the prefix and slot limits). */
  veth (index: number): string {
    return `${this.base}-v${index}`
  }

  /** IPv4 address of host `index`. */
  address (index: number): string {
    if (!Number.isInteger(index) || index < 1 || index > MAX_HOSTS_PER_SET) {
      throw new RangeError(`host index ${index} outside 1..${MAX_HOSTS_PER_SET}`)
    }
    return `${this.subnet}.${index + 1}`
  }

  /** True when a netns or link name belongs to this set. */
  owns (name: string): boolean {
    return name.startsWith(`${this.base}-`)
  }
}

/** Names of all network namespaces pinned under /run/netns. */
export function listNetns (): string[] {
  try {
    return readdirSync('/run/netns')
  } catch {
    return []
  }
}

/** Names of all links in the root namespace. */
export function listLinks (): string[] {
  try {
    return readdirSync('/sys/class/net')
  } catch {
    return []
  }
}

/** Third octets of every 10.213.X address configured in the root namespace (other harnesses too). */
export async function subnetsInUse (): Promise<Set<number>> {
  const out = await runOk([BIN.ip, '-4', '-o', 'addr', 'show'])
  const used = new Set<number>()
  const re = new RegExp(`inet ${SUBNET_PREFIX.replace('.', '\\.')}\\.(\\d+)\\.`, 'g')
  for (const m of out.matchAll(re)) used.add(Number(m[1]))
  return used
}

/** Runs `ip -batch` lines (one process for many changes); throws on the first failing line. */
export async function ipBatch (lines: readonly string[], netns?: string): Promise<void> {
  if (lines.length === 0) return
  const argv = netns == null ? [BIN.ip, '-batch', '-'] : [BIN.ip, '-n', netns, '-batch', '-']
  await runOk(argv, { input: lines.join('\n') + '\n' })
}

/** Creates the set's bridge with the root namespace's address on it. */
export async function createBridge (names: SetNames): Promise<void> {
  await ipBatch([
    // STP stays off (the default), so a port forwards as soon as it is up.
    `link add ${names.bridge} type bridge`,
    `addr add ${names.bridgeAddress}/24 dev ${names.bridge}`,
    `link set ${names.bridge} up`
  ])
}

/** Creates the namespaces of hosts `indexes`, their veth pairs, and configures both ends. */
export async function createHostLinks (names: SetNames, indexes: readonly number[]): Promise<void> {
  const root: string[] = []
  for (const i of indexes) {
    root.push(
      `netns add ${names.host(i)}`,
      `link add ${names.veth(i)} type veth peer name eth0 netns ${names.host(i)}`,
      `link set ${names.veth(i)} master ${names.bridge}`,
      `link set ${names.veth(i)} up`
    )
  }
  await ipBatch(root)
  // No default route: traffic can only reach the bridge subnet, i.e. stays on this machine.
  await Promise.all(indexes.map(async i => {
    await ipBatch([
      'link set lo up',
      `addr add ${names.address(i)}/24 dev eth0`,
      'link set eth0 up'
    ], names.host(i))
  }))
}

/** Sets a root-side veth up or down (a link cut that the host itself does not notice). */
export async function setLink (veth: string, up: boolean): Promise<void> {
  await runOk([BIN.ip, 'link', 'set', veth, up ? 'up' : 'down'])
}

/** Aborts every TCP socket inside a namespace (`ss -K`); a no-op when the namespace is gone. */
export async function killSockets (netns: string): Promise<void> {
  await run([BIN.ip, 'netns', 'exec', netns, 'ss', '-K', '-t', '-a'])
}
