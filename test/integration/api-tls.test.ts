/**
 * The TCP API over TLS, with certificates made by openssl the way bootstrap.sh makes them (an
 * EC P-256 CA, a server certificate naming the listen address): clusterctl's client verifies
 * the agent against the given CA only, a wrong CA or a certificate for another address fails
 * with a clear message (exit 2, no retry), a token is never sent over plain http:// off
 * loopback, and the key file must be private. Real server, real TLS, loopback only.
 */
import assert from 'node:assert/strict'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { ApiServer } from '../../agent/api/server.js'
import { readApiTls } from '../../agent/api/tls-files.js'
import { ApiClient } from '../../cli/client.js'
import { ExitError } from '../../cli/errors.js'
import { clientFromOptions } from '../../cli/program.js'
import { ClusterdError } from '../../protocol/errors.js'
import { makeCa, makeServerCert } from '../harness/tls-certs.js'

const TOKEN = 'a'.repeat(64)

describe('TCP API over TLS', () => {
  let dir: string
  let ca: { key: string, cert: string }
  let other: { key: string, cert: string }
  const servers: ApiServer[] = []

  const serve = async (files: { key: string, cert: string }): Promise<string> => {
    const server = new ApiServer({ logger: pino({ level: 'silent' }) }, {
      socketPath: join(dir, `api-${servers.length}.sock`),
      tcp: { host: '127.0.0.1', port: 0, token: TOKEN, tls: await readApiTls({ certFile: files.cert, keyFile: files.key }) }
    })
    server.route('GET', '/v1/members', async () => [])
    await server.start()
    servers.push(server)
    return `https://127.0.0.1:${server.tcpAddress()!.port}`
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'api-tls-'))
    ca = await makeCa(dir, 'cluster-ca')
    other = await makeCa(dir, 'other-ca')
  })

  after(async () => {
    for (const s of servers) await s.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('clusterctl verifies the agent against the cluster CA and talks to it', async () => {
    const url = await serve(await makeServerCert(dir, 'agent', ca, 'IP:127.0.0.1,DNS:localhost'))
    const client = new ApiClient({ addr: url, token: TOKEN, ca: await readFile(ca.cert), caFile: ca.cert })
    assert.deepEqual(await client.members(), [])
    // The token is still required over TLS.
    await assert.rejects(new ApiClient({ addr: url, ca: await readFile(ca.cert) }).members(),
      (err: unknown) => err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_UNAUTHORIZED')
  })

  it('a wrong CA, or a certificate for another address, fails at once with a clear message (exit 2)', async () => {
    const url = await serve(await makeServerCert(dir, 'agent2', ca, 'IP:127.0.0.1'))
    await assert.rejects(new ApiClient({ addr: url, token: TOKEN, ca: await readFile(other.cert), caFile: other.cert, timeoutMs: 5000 }).members(), (err: unknown) => {
      assert.ok(err instanceof ExitError, String(err))
      assert.equal(err.exitCode, 2)
      assert.match(err.message, /presented a TLS certificate that the CA in .*other-ca\.crt does not vouch for \(UNABLE_TO_VERIFY_LEAF_SIGNATURE/)
      assert.match(err.message, /--ca-file/)
      return true
    })
    const elsewhere = await serve(await makeServerCert(dir, 'agent3', ca, 'IP:127.0.0.2'))
    await assert.rejects(new ApiClient({ addr: elsewhere, token: TOKEN, ca: await readFile(ca.cert), caFile: ca.cert, timeoutMs: 5000 }).members(), (err: unknown) => {
      assert.ok(err instanceof ExitError, String(err))
      assert.match(err.message, /ERR_TLS_CERT_ALTNAME_INVALID/)
      return true
    })
  })

  it('plain http:// to the TLS port gets no answer that could carry data', async () => {
    const url = await serve(await makeServerCert(dir, 'agent4', ca, 'IP:127.0.0.1'))
    await assert.rejects(new ApiClient({ addr: url.replace('https:', 'http:'), timeoutMs: 5000 }).members(), (err: unknown) => err instanceof Error)
  })

  it('clusterctl never sends a token over plain http:// off loopback, and reads its CA file', async () => {
    const tokenFile = join(dir, 'token')
    await writeFile(tokenFile, TOKEN + '\n', { mode: 0o600 })
    await assert.rejects(clientFromOptions({ addr: 'http://10.0.0.1:7947', tokenFile }, {}), (err: unknown) => {
      assert.ok(err instanceof ExitError)
      assert.equal(err.exitCode, 2)
      assert.match(err.message, /refusing to send the API token in clear to 10\.0\.0\.1:7947 over http:\/\//)
      return true
    })
    // Loopback and token-less plain HTTP stay allowed.
    await clientFromOptions({ addr: 'http://127.0.0.1:7947', tokenFile }, {})
    await clientFromOptions({ addr: 'http://10.0.0.1:7947' }, {})
    await assert.rejects(clientFromOptions({ addr: 'https://10.0.0.1:7947', caFile: join(dir, 'missing.crt') }, {}), /--ca-file: cannot read .*missing\.crt: ENOENT/)
    const url = await serve(await makeServerCert(dir, 'agent5', ca, 'IP:127.0.0.1'))
    const client = await clientFromOptions({ addr: url, tokenFile, caFile: ca.cert }, {})
    assert.deepEqual(await client.members(), [])
    const viaEnv = await clientFromOptions({ addr: url, tokenFile }, { CLUSTERCTL_CA_FILE: ca.cert })
    assert.deepEqual(await viaEnv.members(), [])
  })

  it('the agent refuses a key file others can read and a certificate that is not the key\'s', async () => {
    const files = await makeServerCert(dir, 'agent6', ca, 'IP:127.0.0.1')
    await chmod(files.key, 0o644)
    await assert.rejects(readApiTls({ certFile: files.cert, keyFile: files.key }), /has mode 644: it must not be readable by group or others/)
    await chmod(files.key, 0o600)
    const second = await makeServerCert(dir, 'agent7', ca, 'IP:127.0.0.1')
    await assert.rejects(readApiTls({ certFile: files.cert, keyFile: second.key }), (err: unknown) =>
      err instanceof ClusterdError && err.code === 'CLUSTERD_ERR_INVALID_CONFIG' && /not a usable pair/.test(err.message))
  })
})
