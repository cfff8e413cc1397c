// Shell metacharacters, quotes, newlines and Jinja in node names, labels and variables: refused
// with a clear error wherever a name or label enters (flags, config file, signed records, API),
// and carried as inert data where free text is allowed (ssh argv, Ansible inventory).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parseDocument } from 'yaml'
import { parseAgentConfig } from '../../../agent/config/parse-agent-config.js'
import { buildInventory } from '../../../manager/ansible/inventory.js'
import { quoteArgv } from '../../../manager/ssh/quote.js'
import { ClusterdError } from '../../../protocol/errors.js'
import { decodeRecordPayload, encodeRecordPayload, type NodeRecord, type WireResult } from '../../../protocol/membership-wire.js'
import { HOSTILE_STRINGS } from '../../harness/fuzz.js'

const PEER = '12D3KooWAbcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTU'

describe('hostile names, labels and variables', () => {
  let dir: string
  let canary: string
  const payloads = (): string[] => [
    `$(touch ${canary})`, `\`touch ${canary}\``, `;touch ${canary}`, `a && touch ${canary}`, `a|touch ${canary}`, `a\ntouch ${canary}`,
    "a'b", 'a"b', 'a b', '-oProxyCommand=x', `{{ lookup('pipe', 'touch ${canary}') }}`, '${HOME}', 'a\\b', '*', '~root', '#x', 'a\tb'
  ]

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clusterd-hostile-names-'))
    canary = join(dir, 'pwned')
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('refuses them as node names and labels in flags and in the config file', async () => {
    for (const p of payloads()) {
      const invalid = (err: unknown): boolean => err instanceof ClusterdError && /^CLUSTERD_ERR_INVALID_(ARGUMENT|CONFIG)$/.test(err.code)
      assert.throws(() => parseAgentConfig({ nodeName: p, secretFile: '/s' }, {}, { hostname: 'h' }), invalid, `--node-name ${JSON.stringify(p)}`)
      assert.throws(() => parseAgentConfig({ label: [`zone=${p}`], secretFile: '/s' }, {}, { hostname: 'h' }), invalid, `--label value ${JSON.stringify(p)}`)
      assert.throws(() => parseAgentConfig({ label: [`${p}=a`], secretFile: '/s' }, {}, { hostname: 'h' }), invalid, `--label key ${JSON.stringify(p)}`)
      const file = join(dir, 'c.yaml')
      await writeFile(file, `node-name: ${JSON.stringify(p)}\nlabel:\n  zone: ${JSON.stringify(p)}\n`)
      assert.throws(() => parseAgentConfig({ config: file }, {}, { hostname: 'h' }), invalid, `config file ${JSON.stringify(p)}`)
    }
    // a hostile host name is not silently used as the default node name either
    assert.throws(() => parseAgentConfig({ secretFile: '/s' }, {}, { hostname: '$(reboot)' }), ClusterdError)
  })

  it('refuses them in the name and labels of a signed membership record', () => {
    const record: NodeRecord = { v: 2, name: 'n1', peerId: PEER, incarnation: 1, state: 'alive', addrs: [], labels: {}, managerEligible: true, agentVersion: '0.1.0', boot: null, facts: null }
    const decode = (r: NodeRecord): WireResult<NodeRecord> => decodeRecordPayload(encodeRecordPayload(r), PEER)
    assert.equal(decode(record).ok, true)
    for (const p of [...payloads(), ...HOSTILE_STRINGS.filter(s => s !== '' && !/^[a-z0-9]/i.test(s))]) {
      assert.equal(decode({ ...record, name: p }).ok, false, `name ${JSON.stringify(p)}`)
      // Label values may hold `-`, `/`, `=`, `.` (not shell syntax); anything else is refused.
      if (/[^a-z0-9._:@/+=-]/i.test(p)) assert.equal(decode({ ...record, labels: { zone: p } }).ok, false, `label ${JSON.stringify(p)}`)
      assert.equal(decode({ ...record, labels: { [p]: 'a' } }).ok, false, `label key ${JSON.stringify(p)}`)
    }
  })

  it('passes them through an ssh command line as exactly the words given (a real shell parses it)', () => {
    const words = [...payloads(), ...HOSTILE_STRINGS.filter(s => !s.includes('\u0000'))]
    const r = spawnSync('/bin/sh', ['-c', `printf '%s\\0' ${quoteArgv(words)}`], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(r.stdout.split('\0').slice(0, -1), words.map(w => w.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')))
    assert.equal(existsSync(canary), false, 'a word was run by the shell')
  })

  it('writes them into the Ansible inventory as !unsafe data, literally', () => {
    const vars: Record<string, string> = {}
    payloads().forEach((p, i) => { vars[`v${i}`] = p })
    const inv = buildInventory({
      kind: 'commission',
      cluster: 'c',
      playbooks: ['/p/base.yml'],
      hosts: [{ name: 'n1', address: '10.0.0.1', hostKeys: [{ type: 'ssh-ed25519', key: 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl' }], roles: ['base'], vars }]
    }, { privateKeyPath: '/k' })
    const doc = parseDocument(inv.yaml, { customTags: [{ tag: '!unsafe', resolve: (s: string) => s }] })
    const host = (doc.toJS() as { all: { hosts: Record<string, Record<string, unknown>> } }).all.hosts.n1
    for (const [k, v] of Object.entries(vars)) {
      assert.equal(host?.[k], v, k)
      assert.match(inv.yaml, new RegExp(`${k}: !unsafe`))
    }
  })
})
