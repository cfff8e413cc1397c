/** Shared CLI test fixtures: a real ApiServer on a temp socket serving a fake members list. */

import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { Member } from '../../../protocol/members.js'
import { ApiServer } from '../../../agent/api/server.js'

/** Two members, deliberately not in name order. */
export const MEMBERS: Member[] = [
  {
    name: 'web2',
    peerId: '12D3KooWB',
    addresses: ['/ip4/10.0.0.2/tcp/7946', '/ip6/fd00::2/tcp/7946'],
    status: 'suspect',
    incarnation: 12,
    labels: { tier: 'web', rack: 'r2' },
    facts: null, boot: null,
    managerEligible: false,
    lastSeen: '2026-11-22T10:00:00.000Z',
    nameBinding: 'conflict',
    nameBoundTo: '12D3KooWAnotherPeerHoldsTheName'
  },
  {
    name: 'db1',
    peerId: '12D3KooWA',
    addresses: ['/ip4/10.0.0.1/tcp/7946'],
    status: 'alive',
    incarnation: 3,
    labels: {},
    facts: null, boot: null,
    managerEligible: true,
    lastSeen: '2026-11-22T10:04:55.000Z',
    nameBinding: 'bound',
    nameBoundTo: null
  }
]

/** The bearer token the fixture's TCP listener requires. */
export const TOKEN = 'cli-test-token-0123456789'

/** A started server plus its temp dir; `close()` cleans up. */
export interface Fixture {
  dir: string
  socketPath: string
  url: string
  tokenFile: string
  server: ApiServer
  close: () => Promise<void>
}

/** Start a real ApiServer (unix socket + TCP on 127.0.0.1) with `GET /v1/members`. */
export async function startFixture (members: Member[] = MEMBERS): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'clusterctl-'))
  const socketPath = join(dir, 'api.sock')
  const tokenFile = join(dir, 'token')
  await writeFile(tokenFile, TOKEN + '\n', { mode: 0o600 })
  const server = new ApiServer({ logger: pino({ level: 'silent' }) }, { socketPath, tcp: { host: '127.0.0.1', port: 0, token: TOKEN } })
  server.route('GET', '/v1/members', async () => members)
  await server.start()
  const url = `http://127.0.0.1:${server.tcpAddress()?.port ?? 0}`
  return {
    dir,
    socketPath,
    url,
    tokenFile,
    server,
    close: async () => {
      await server.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }
}
