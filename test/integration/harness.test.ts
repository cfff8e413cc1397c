/**
 * The test-host harness against the real machine: namespaces, overlays, sshd, teardown.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync, readlinkSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { TestHosts, type TestHost } from '../harness/hosts.js'
import { listLinks, listNetns } from '../harness/net.js'
import { waitFor } from '../harness/poll.js'
import { run } from '../harness/proc.js'
import { knownHostsLine } from '../harness/sshd.js'

const NODE = process.execPath
const HOSTS_MODULE = new URL('../harness/hosts.js', import.meta.url).href
const CLI = fileURLToPath(new URL('../harness/cli.js', import.meta.url))

/** Outcome of one TCP connect from the root namespace. */
async function probe (address: string, port: number, timeoutMs = 1000): Promise<'open' | 'refused' | 'timeout'> {
  return await new Promise(resolve => {
    const s = connect({ host: address, port, timeout: timeoutMs })
    s.once('connect', () => { s.destroy(); resolve('open') })
    s.once('timeout', () => { s.destroy(); resolve('timeout') })
    s.once('error', () => { s.destroy(); resolve('refused') })
  })
}

/** Every trace of a set on the machine: its namespaces, links, netns mounts and state. */
function traces (set: TestHosts): string[] {
  const mine = (n: string): boolean => set.names.owns(n)
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .filter(l => set.hosts.some(h => l.includes(`/run/netns/${h.name} `)) || l.includes(set.stateDir))
  return [
    ...listNetns().filter(mine),
    ...listLinks().filter(mine),
    ...mounts,
    ...(existsSync(set.stateDir) ? [set.stateDir] : [])
  ]
}

describe('test hosts', { timeout: 120_000 }, () => {
  let set: TestHosts
  let h: TestHost[]

  before(async () => {
    set = await TestHosts.create({ count: 3, prefix: 'ht' })
    h = set.hosts
  })

  after(async () => {
    await set?.destroy()
  })

  it('starts 3 hosts, each reachable by strict-host-key ssh and reporting its own hostname', async () => {
    assert.equal(h.length, 3)
    assert.equal(new Set(h.map(x => x.address)).size, 3)
    for (const host of h) {
      assert.match(host.address, /^10\.213\.\d+\.\d+$/)
      assert.match(host.hostKeyPublic, /^ssh-ed25519 AAAA/)
      const r = await host.ssh(['hostname'])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout.trim(), host.hostname)
    }
    assert.notEqual(h[0]?.hostname, (await run(['hostname'])).stdout.trim())
  })

  it('keeps /etc private: a file written in one host is not in another nor on the real /etc', async () => {
    const [a, b] = h as [TestHost, TestHost]
    const path = `/etc/harness-probe-${set.names.base}`
    const w = await a.exec(['sh', '-c', 'cat > "$1"', 'sh', path], { stdin: 'from a\n' })
    assert.equal(w.code, 0, w.stderr)
    assert.equal(await a.readFile(path), 'from a\n')
    assert.equal((await a.ssh(['cat', path])).stdout, 'from a\n')
    assert.equal(await b.readFile(path), null)
    assert.equal((await b.exec(['test', '-e', path])).code, 1)
    assert.equal(existsSync(path), false)
    assert.equal(readFileSync(`${a.upperDir('/etc')}/harness-probe-${set.names.base}`, 'utf8'), 'from a\n')
  })

  it('keeps /tmp and /run/clusterd private per host, reachable from the root side via pathFromRoot', async () => {
    const [a, b] = h as [TestHost, TestHost]
    const w = await a.exec(['sh', '-c', 'pwd > sock-dir; echo a > /tmp/harness-t'], { cwd: '/run/clusterd' })
    assert.equal(w.code, 0, w.stderr)
    assert.equal(readFileSync(a.pathFromRoot('/run/clusterd/sock-dir'), 'utf8'), '/run/clusterd\n')
    assert.equal(await a.readFile('/tmp/harness-t'), 'a\n')
    assert.equal(await b.readFile('/run/clusterd/sock-dir'), null)
    assert.equal(await b.readFile('/tmp/harness-t'), null)
    assert.equal(existsSync('/run/clusterd/sock-dir'), false)
    assert.equal((await a.exec(['ls', '-A', '/var/tmp/clusterd-test'])).stdout, '', 'harness state is hidden from hosts')
  })

  it('authorizeKey lets another key log in as root', async () => {
    const a = h[0] as TestHost
    const key = `${set.stateDir}/other_ed25519`
    assert.equal((await run(['/usr/bin/ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', key])).code, 0)
    const withOther = (): string[] => a.sshArgv(['true']).map(x => x === set.clientKeyPath ? key : x)
    assert.equal((await run(withOther())).code, 255, 'not authorized yet')
    await a.authorizeKey(readFileSync(`${key}.pub`, 'utf8'))
    assert.equal((await run(withOther())).code, 0)
  })

  it('refuses ssh when known_hosts pins another key for the address', async () => {
    const [a, b] = h as [TestHost, TestHost]
    const wrong = `${set.stateDir}/wrong_known_hosts`
    await writeFile(wrong, knownHostsLine([a.address], b.hostKeyPublic) + '\n')
    const r = await a.ssh(['true'], { knownHostsPath: wrong })
    assert.equal(r.code, 255)
    assert.match(r.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/)
    assert.equal((await a.ssh(['true'])).code, 0, 'the right known_hosts still works')
  })

  it('cutLink makes a host unreachable and restoreLink brings it back', async () => {
    const c = h[2] as TestHost
    assert.equal(await probe(c.address, 22), 'open')
    await c.cutLink()
    try {
      assert.equal(await probe(c.address, 22, 800), 'timeout')
      assert.equal((await c.exec(['hostname'])).stdout.trim(), c.hostname, 'the host itself keeps running')
    } finally {
      await c.restoreLink()
    }
    await waitFor(async () => (await c.ssh(['true'])).code === 0, { timeoutMs: 10_000, message: 'ssh after restoreLink' })
  })

  it('runs a spawned process inside the host netns, and powerOff kills it', async () => {
    const b = h[1] as TestHost
    const server = b.spawn([NODE, '-e', `require('net').createServer(s => s.end(require('os').hostname())).listen(7077, '${b.address}', () => console.log('listening'))`])
    const exited = once(server, 'exit')
    let out = ''
    server.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d })
    await waitFor(() => out.includes('listening'), { timeoutMs: 10_000, message: 'spawned server listening' })
    assert.equal(readlinkSync(`/proc/${server.pid}/ns/net`), readlinkSync(`/proc/${b.pid}/ns/net`))
    assert.notEqual(readlinkSync(`/proc/${server.pid}/ns/net`), readlinkSync('/proc/self/ns/net'))
    const reply = await new Promise<string>((resolve, reject) => {
      let data = ''
      const s = connect({ host: b.address, port: 7077 })
      s.setEncoding('utf8').on('data', (d: string) => { data += d }).on('end', () => resolve(data)).on('error', reject)
    })
    assert.equal(reply, b.hostname, 'the process answers on the host address with the host hostname')
    await b.powerOff()
    await exited
    await b.powerOn()
  })

  it('powerOff/powerOn keeps files written before (but not tmpfs)', async () => {
    const a = h[0] as TestHost
    const [ssh, ...args] = a.sshArgv(['sh', '-c', 'echo started; exec sleep 60'])
    const session = spawn(ssh as string, args, { stdio: ['ignore', 'pipe', 'ignore'] })
    const sessionEnded = once(session, 'exit')
    let said = ''
    session.stdout.setEncoding('utf8').on('data', (d: string) => { said += d })
    await waitFor(() => said.includes('started'), { timeoutMs: 10_000, message: 'ssh session running' })
    assert.equal((await a.exec(['sh', '-c', 'echo kept > /etc/harness-kept; echo home > /root/harness-home; echo gone > /tmp/harness-tmp'])).code, 0)
    await a.powerOff()
    assert.equal(a.running, false)
    assert.deepEqual(await sessionEnded, [255, null], 'open ssh sessions die with the host')
    assert.notEqual(await probe(a.address, 22, 800), 'open')
    assert.equal(await a.readFile('/etc/harness-kept'), 'kept\n', 'readable from its disk while off')
    await assert.rejects(a.exec(['true']), /powered off/)
    await a.powerOn()
    assert.equal((await a.ssh(['cat', '/etc/harness-kept', '/root/harness-home'])).stdout, 'kept\nhome\n')
    assert.equal(await a.readFile('/tmp/harness-tmp'), null)
    assert.equal((await a.ssh(['hostname'])).stdout.trim(), a.hostname)
  })

  it('addHost grows the set on the same subnet, known to known_hosts', async () => {
    const d = await set.addHost()
    assert.equal(d.index, 4)
    assert.equal(set.hosts.length, 4)
    assert.match(readFileSync(set.knownHostsPath, 'utf8'), new RegExp(`^${d.address.replaceAll('.', '\\.')},${d.name} ssh-ed25519 `, 'm'))
    assert.equal((await d.exec([NODE, '-e', `require('net').connect(22, '${h[0]?.address}').on('connect', () => process.exit(0)).on('error', () => process.exit(1))`])).code, 0, 'new host reaches an old one')
  })

  it('destroy leaves no netns, veth, bridge, mount or state behind, and a second create right after works', async () => {
    const slotDir = `/var/tmp/clusterd-test/.slots/${set.names.slot}`
    const pids = set.hosts.map(x => x.pid).filter((p): p is number => p != null)
    assert.ok(traces(set).length > 0)
    await set.destroy()
    await set.destroy() // idempotent
    assert.deepEqual(traces(set), [])
    assert.equal(existsSync(slotDir), false)
    for (const pid of pids) assert.equal(existsSync(`/proc/${pid}/ns/net`), false, `sshd ${pid} is gone`)

    const again = await TestHosts.create({ count: 1, prefix: 'ht' })
    try {
      assert.equal((await again.hosts[0]?.ssh(['hostname']))?.stdout.trim(), again.hosts[0]?.hostname)
    } finally {
      await again.destroy()
    }
    assert.deepEqual(traces(again), [])
  })
})

describe('test hosts outside the happy path', { timeout: 120_000 }, () => {
  /** Starts a process that makes a 1-host set and reports it; returns the child and the set. */
  async function childWithHosts (prefix: string): Promise<{ child: ReturnType<typeof spawn>, desc: { stateDir: string, bridge: string, hosts: Array<{ name: string }> } }> {
    const script = `const { TestHosts } = await import(${JSON.stringify(HOSTS_MODULE)});
      const set = await TestHosts.create({ count: 1, prefix: ${JSON.stringify(prefix)} });
      console.log(JSON.stringify(set.describe())); setInterval(() => {}, 1000)`
    const child = spawn(NODE, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
    const line = await waitFor(() => out.split('\n').find(l => l.startsWith('{')), { timeoutMs: 30_000, message: `child set ${prefix} up` })
    return { child, desc: JSON.parse(line) }
  }

  const leftFor = (bridge: string): string[] => {
    const base = bridge.replace(/-br$/, '-')
    return [...listNetns(), ...listLinks()].filter(n => n.startsWith(base))
  }

  it('an interrupted process (SIGTERM) tears its hosts down before it exits', async () => {
    const { child, desc } = await childWithHosts('hs')
    assert.ok(leftFor(desc.bridge).length > 0)
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    const [code, signal] = await exited
    assert.equal(signal ?? code, 'SIGTERM')
    assert.deepEqual(leftFor(desc.bridge), [])
    assert.equal(existsSync(desc.stateDir), false)
  })

  it('hosts of a killed process (SIGKILL) are swept by the next create of the prefix', async () => {
    const { child, desc } = await childWithHosts('hk')
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
    assert.ok(leftFor(desc.bridge).length > 0, 'SIGKILL leaves them behind')
    const next = await TestHosts.create({ count: 1, prefix: 'hk' })
    try {
      assert.deepEqual(leftFor(desc.bridge).filter(n => !next.names.owns(n)), [])
      assert.equal((await next.hosts[0]?.ssh(['true']))?.code, 0)
    } finally {
      await next.destroy()
    }
  })

  it('the CLI starts hosts that outlive it and removes them with down', async () => {
    const up = await run([NODE, CLI, 'up', '2', '--prefix', 'hc'], { timeoutMs: 60_000 })
    assert.equal(up.code, 0, up.stderr)
    const desc = JSON.parse(up.stdout) as { bridge: string, clientKeyPath: string, knownHostsPath: string, hosts: Array<{ name: string, address: string }> }
    assert.equal(desc.hosts.length, 2)
    const first = desc.hosts[0] as { name: string, address: string }
    const ssh = await run(['/usr/bin/ssh', '-F', '/dev/null', '-i', desc.clientKeyPath, '-o', `UserKnownHostsFile=${desc.knownHostsPath}`,
      '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${first.address}`, 'hostname'])
    assert.equal(ssh.stdout.trim(), first.name, ssh.stderr)
    const down = await run([NODE, CLI, 'down', '--prefix', 'hc'], { timeoutMs: 60_000 })
    assert.equal(down.code, 0, down.stderr)
    assert.deepEqual(leftFor(desc.bridge), [])
  })

  it('rejects a prefix that would make names ambiguous or too long', async () => {
    await assert.rejects(TestHosts.create({ count: 1, prefix: 'cd1' }), /invalid test-host prefix/)
    await assert.rejects(TestHosts.create({ count: 1, prefix: 'toolong' }), /invalid test-host prefix/)
  })
})
