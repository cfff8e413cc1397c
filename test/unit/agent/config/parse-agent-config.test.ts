import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ClusterdError } from '../../../../protocol/errors.js'
import { parseAgentConfig, type AgentFlags } from '../../../../agent/config/parse-agent-config.js'
import { DEFAULT_PLAYBOOK_DIR } from '../../../../agent/config/constants.js'

const HOST = { hostname: 'Node-1.example', cwd: '/srv/work' }

function parse (flags: AgentFlags, env: Record<string, string> = {}): ReturnType<typeof parseAgentConfig> {
  return parseAgentConfig(flags, env, HOST)
}

/** Assert that parsing throws one ClusterdError with `code` whose message matches every pattern. */
function rejects (fn: () => unknown, code: string, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ClusterdError, `expected ClusterdError, got ${String(err)}`)
    assert.equal(err.code, code)
    for (const p of patterns) assert.match(err.message, p)
    assert.ok(!err.message.includes('\n'), 'one line')
    return true
  })
}

describe('parseAgentConfig', () => {
  let dir: string
  let n = 0
  const configFile = async (text: string): Promise<string> => {
    const path = join(dir, `agent-${n++}.yaml`)
    await writeFile(path, text)
    return path
  }
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'clusterd-config-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('fills every default when nothing is given', () => {
    assert.deepEqual(parse({}), {
      dataDir: '/var/lib/clusterd',
      listen: { host: '0.0.0.0', port: 7946 },
      advertise: null,
      join: [],
      secretFile: '/etc/clusterd/secret',
      nodeName: 'node-1.example',
      labels: {},
      apiSocket: '/run/clusterd/clusterd.sock',
      apiTcp: null,
      managerEligible: true,
      playbookDir: DEFAULT_PLAYBOOK_DIR,
      sshKeyFile: '/etc/clusterd/manager_ed25519',
      sshCaKeyFile: null,
      sshCaPubFile: null,
      logLevel: 'info',
      logFormat: 'json',
      failureDetection: 'standard',
      timing: {}
    })
  })

  it('takes every flag', () => {
    const config = parse({
      dataDir: 'state',
      listen: '[::]:9000',
      advertise: 'node1.example.com:9000',
      join: ['10.0.0.1:7946', '[fd00::2]:7946'],
      secretFile: '/s/secret',
      nodeName: 'Web1',
      label: ['rack=r1', 'tier=', 'example.com/zone=a_b.c-d'],
      apiSocket: '/tmp/c.sock',
      apiListen: '127.0.0.1:0',
      apiTokenFile: 'token',
      managerEligible: 'false',
      playbookDir: 'my-playbooks',
      sshKeyFile: '/k/manager',
      logLevel: 'debug',
      failureDetection: 'fast'
    })
    assert.deepEqual(config, {
      dataDir: '/srv/work/state',
      listen: { host: '::', port: 9000 },
      advertise: { host: 'node1.example.com', port: 9000 },
      join: [{ host: '10.0.0.1', port: 7946 }, { host: 'fd00::2', port: 7946 }],
      secretFile: '/s/secret',
      nodeName: 'web1',
      labels: { rack: 'r1', tier: '', 'example.com/zone': 'a_b.c-d' },
      apiSocket: '/tmp/c.sock',
      apiTcp: { listen: { host: '127.0.0.1', port: 0 }, tokenFile: '/srv/work/token', tls: null },
      managerEligible: false,
      playbookDir: '/srv/work/my-playbooks',
      sshKeyFile: '/k/manager',
      sshCaKeyFile: null,
      sshCaPubFile: null,
      logLevel: 'debug',
      logFormat: 'json',
      failureDetection: 'fast',
      timing: {}
    })
  })

  it('reads the kebab-case config file, resolves its relative paths against its directory, and lets flags win', async () => {
    const file = await configFile([
      'data-dir: state',
      'listen: 10.1.1.1:7000',
      'join: [10.0.0.1:7946, seed.example:7946]',
      'node-name: from-file',
      'label: { rack: 12, tier: web }',
      'manager-eligible: false',
      'log-level: warn',
      'log-format: pretty',
      'api-listen: 127.0.0.1:7947',
      'api-token-file: ./token',
      'ssh-ca-pub-file: ./ssh-ca.pub',
      'failure-detection: fast'
    ].join('\n'))
    const fromFile = parse({ config: file })
    assert.equal(fromFile.dataDir, join(dir, 'state'))
    assert.deepEqual(fromFile.listen, { host: '10.1.1.1', port: 7000 })
    assert.deepEqual(fromFile.join, [{ host: '10.0.0.1', port: 7946 }, { host: 'seed.example', port: 7946 }])
    assert.equal(fromFile.nodeName, 'from-file')
    assert.deepEqual(fromFile.labels, { rack: '12', tier: 'web' })
    assert.equal(fromFile.managerEligible, false)
    assert.equal(fromFile.logLevel, 'warn')
    assert.equal(fromFile.logFormat, 'pretty', 'log-format from the file')
    assert.equal(fromFile.failureDetection, 'fast', 'failure-detection from the file')
    assert.equal(fromFile.sshCaPubFile, join(dir, 'ssh-ca.pub'))
    assert.deepEqual(fromFile.apiTcp, { listen: { host: '127.0.0.1', port: 7947 }, tokenFile: join(dir, 'token'), tls: null })

    const overridden = parse({ config: file, listen: '10.2.2.2:7001', join: ['10.9.9.9:1'], label: ['zone=z'], managerEligible: 'true', dataDir: 'x' })
    assert.deepEqual(overridden.listen, { host: '10.2.2.2', port: 7001 })
    assert.deepEqual(overridden.join, [{ host: '10.9.9.9', port: 1 }], 'a --join replaces the file list')
    assert.deepEqual(overridden.labels, { zone: 'z' }, 'a --label replaces the file labels')
    assert.equal(overridden.managerEligible, true)
    assert.equal(overridden.dataDir, '/srv/work/x', 'flag paths resolve against the working directory')
    assert.equal(overridden.nodeName, 'from-file', 'keys without a flag keep the file value')
    assert.equal(parse({ config: file, failureDetection: 'standard' }).failureDetection, 'standard', 'the flag wins over the file')
  })

  it('takes membership timing overrides from CLUSTERD_TIMING, and refuses a typo, a string or bad JSON by name', () => {
    assert.deepEqual(parse({}, { CLUSTERD_TIMING: '{"probeIntervalMs":200,"syncTimeoutMs":1000,"idleConnectionMs":5000,"gossipToDeadMs":0}' }).timing,
      { probeIntervalMs: 200, syncTimeoutMs: 1000, idleConnectionMs: 5000, gossipToDeadMs: 0 })
    assert.deepEqual(parse({}, { CLUSTERD_TIMING: '' }).timing, {})
    const bad: Array<[string, RegExp]> = [
      ['{"probeIntervallMs":200}', /unknown key "probeIntervallMs"; known: .*probeIntervalMs/],
      ['{"probeIntervalMs":"200"}', /probeIntervalMs: expected a number >= 0; got "200"/],
      ['{"probeIntervalMs":-1}', /probeIntervalMs: expected a number >= 0; got -1/],
      ['[1]', /got a list/],
      ['{probeIntervalMs:200}', /which is not JSON/]
    ]
    for (const [raw, pattern] of bad) rejects(() => parse({}, { CLUSTERD_TIMING: raw }), 'CLUSTERD_ERR_INVALID_CONFIG', /^CLUSTERD_TIMING: /, pattern)
  })

  it('takes the config file from CLUSTERD_CONFIG when --config is absent', async () => {
    const file = await configFile('node-name: via-env\nlabel: [a=1, b=2]\n')
    const config = parse({}, { CLUSTERD_CONFIG: file })
    assert.equal(config.nodeName, 'via-env')
    assert.deepEqual(config.labels, { a: '1', b: '2' })
  })

  it('treats an empty config file as no settings', async () => {
    assert.deepEqual(parse({ config: await configFile('# nothing\n') }), parse({}))
  })

  describe('flag errors name the flag and the expected form', () => {
    const cases: Array<[string, AgentFlags, RegExp[]]> = [
      ['listen without port', { listen: '0.0.0.0' }, [/^--listen: /, /missing port/, /IP:PORT/]],
      ['listen port too big', { listen: '0.0.0.0:65536' }, [/^--listen: /, /port must be a number from 0 to 65535/]],
      ['listen port not a number', { listen: '0.0.0.0:http' }, [/^--listen: /, /port must be a number/]],
      ['listen on a host name', { listen: 'localhost:7946' }, [/^--listen: /, /host must be an IP address/]],
      ['unbracketed IPv6', { listen: '::1:7946' }, [/^--listen: /, /IPv6 addresses need brackets/]],
      ['advertise unspecified', { advertise: '0.0.0.0:7946' }, [/^--advertise: /, /cannot be dialled/]],
      ['advertise port 0', { advertise: '10.0.0.1:0' }, [/^--advertise: /, /from 1 to 65535/]],
      ['join bad host', { join: ['10.0.0.1:7946', 'bad_host!:7946'] }, [/^--join: /, /neither an IP address nor a DNS name/, /bad_host!/]],
      ['join missing port', { join: ['10.0.0.1'] }, [/^--join: /, /missing port/]],
      ['label without =', { label: ['rack'] }, [/^--label: /, /KEY=VALUE/]],
      ['label bad key', { label: ['-x=1'] }, [/^--label: /, /label key "-x" is invalid/]],
      ['label bad value', { label: ['x=a b'] }, [/^--label: /, /label value "a b"/]],
      ['label twice', { label: ['x=1', 'x=2'] }, [/^--label: /, /"x" given more than once/]],
      ['node name with underscore', { nodeName: 'web_1' }, [/^--node-name: /, /1-63 letters/]],
      ['node name ending in a dash', { nodeName: 'web-' }, [/^--node-name: /, /starting and ending with a letter or digit/]],
      ['node name too long', { nodeName: 'a'.repeat(64) }, [/^--node-name: /]],
      ['manager-eligible yes', { managerEligible: 'yes' }, [/^--manager-eligible: /, /expected true or false/]],
      ['log level', { logLevel: 'verbose' }, [/^--log-level: /, /fatal, error, warn, info, debug, trace/]],
      ['log format', { logFormat: 'text' }, [/^--log-format: /, /json, pretty/]],
      ['failure detection', { failureDetection: 'quick' }, [/^--failure-detection: /, /expected one of standard, fast; got "quick"/]],
      ['api-listen without token file', { apiListen: '127.0.0.1:7947' }, [/^--api-listen: /, /--api-token-file/]],
      ['token file without api-listen', { apiTokenFile: '/t' }, [/^--api-token-file: /, /only used with --api-listen/]],
      ['plain HTTP API off loopback', { apiListen: '0.0.0.0:7947', apiTokenFile: '/t' }, [/^--api-listen: /, /refusing to serve the API over plain HTTP on 0\.0\.0\.0/, /--api-tls-cert FILE and --api-tls-key FILE/]],
      ['plain HTTP API on a LAN address', { apiListen: '10.1.2.3:7947', apiTokenFile: '/t' }, [/^--api-listen: /, /plain HTTP on 10\.1\.2\.3, which is not a loopback address/]],
      ['plain HTTP API on all IPv6 addresses', { apiListen: '[::]:7947', apiTokenFile: '/t' }, [/^--api-listen: /, /plain HTTP/]],
      ['TLS certificate without its key', { apiListen: '0.0.0.0:7947', apiTokenFile: '/t', apiTlsCert: '/c' }, [/^--api-tls-cert: /, /give both --api-tls-cert FILE and --api-tls-key FILE/]],
      ['TLS files without api-listen', { apiTlsCert: '/c', apiTlsKey: '/k' }, [/^--api-tls-cert: /, /only used with --api-listen/]],
      ['empty data dir', { dataDir: '' }, [/^--data-dir: /, /expected a path/]],
      ['socket path too long', { apiSocket: '/' + 'x'.repeat(120) }, [/^--api-socket: /, /limited to 107 bytes/]]
    ]
    for (const [name, flags, patterns] of cases) {
      it(name, () => { rejects(() => parse(flags), 'CLUSTERD_ERR_INVALID_ARGUMENT', ...patterns) })
    }

    it('a host name that is not a valid node name asks for --node-name', () => {
      rejects(() => parseAgentConfig({}, {}, { hostname: 'my_host' }), 'CLUSTERD_ERR_INVALID_ARGUMENT', /"my_host" is not a valid node name/, /pass --node-name NAME/)
    })
  })

  it('serves TLS off loopback with a certificate and key, and takes the SSH CA key', () => {
    const config = parse({ apiListen: '0.0.0.0:7947', apiTokenFile: '/t', apiTlsCert: '/etc/c/api.crt', apiTlsKey: '/etc/c/api.key', sshCaKeyFile: '/etc/c/ssh-ca' })
    assert.deepEqual(config.apiTcp, { listen: { host: '0.0.0.0', port: 7947 }, tokenFile: '/t', tls: { certFile: '/etc/c/api.crt', keyFile: '/etc/c/api.key' } })
    assert.equal(config.sshCaKeyFile, '/etc/c/ssh-ca')
    // Loopback may stay plain: the token never leaves the machine.
    for (const host of ['127.0.0.1', '127.3.4.5', '[::1]']) assert.equal(parse({ apiListen: `${host}:7947`, apiTokenFile: '/t' }).apiTcp?.tls, null)
  })

  it('takes --ssh-ca-pub-file', () => {
    assert.equal(parse({ sshCaPubFile: '/etc/c/ssh-ca.pub' }).sshCaPubFile, '/etc/c/ssh-ca.pub')
  })

  describe('config file errors name the file and key', () => {
    const cases: Array<[string, string, RegExp[]]> = [
      ['unknown key', 'bogus: 1\n', [/unknown key "bogus"/, /known keys: data-dir, listen/]],
      ['camelCase key', 'dataDir: /x\n', [/unknown key "dataDir"/, /did you mean "data-dir"/]],
      ['bad port', 'listen: 0.0.0.0:99999\n', [/: listen: port must be a number/]],
      ['bad label map value', 'label: { rack: "a b" }\n', [/: label: label value "a b"/]],
      ['list where a string belongs', 'node-name: [a, b]\n', [/: node-name: expected a string; got a list/]],
      ['bad YAML', 'listen: [unclosed\n', [/invalid YAML/]],
      ['duplicate key', 'listen: 1.1.1.1:1\nlisten: 1.1.1.1:2\n', [/invalid YAML/]],
      ['not a mapping', '- a\n- b\n', [/expected a mapping/]],
      ['manager-eligible string', 'manager-eligible: maybe\n', [/: manager-eligible: expected true or false/]],
      ['failure-detection unknown', 'failure-detection: lan\n', [/: failure-detection: expected one of standard, fast; got "lan"/]]
    ]
    for (const [name, text, patterns] of cases) {
      it(name, async () => {
        const file = await configFile(text)
        rejects(() => parse({ config: file }), 'CLUSTERD_ERR_INVALID_CONFIG', new RegExp(`^config file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `), ...patterns)
      })
    }

    it('a missing config file', () => {
      rejects(() => parse({ config: join(dir, 'missing.yaml') }), 'CLUSTERD_ERR_INVALID_CONFIG', /cannot read config file .*missing\.yaml: no such file/)
    })
  })
})
