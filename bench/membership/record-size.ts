/**
 * Sizes of the gossiped member record with and without an eligibility attestation: this
 * machine's real facts (collectFacts), a real libp2p key and a real ssh-keygen CA, measured with
 * the SWIM codec's own size functions. Prints one JSON line; docs/benchmarks.md quotes it.
 *
 * Usage: node dist/bench/membership/record-size.js
 */

import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { collectFacts } from '../../agent/facts/collect-facts.js'
import { signAttestation } from '../../agent/identity/eligibility-attestation.js'
import { parseSshEd25519PrivateKey } from '../../agent/identity/ssh-ed25519-key.js'
import { SelfRecord } from '../../agent/membership/self-record.js'
import { AGENT_VERSION } from '../../agent/version.js'
import { broadcastSize, datagramHeaderSize } from '../../protocol/swim-wire.js'

const BUDGET = 1400
const dir = mkdtempSync(join(tmpdir(), 'record-size-'))
try {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'clusterd-ssh-ca', '-f', join(dir, 'ca')])
  const ca = parseSshEd25519PrivateKey(readFileSync(join(dir, 'ca'), 'utf8'))
  if (!ca.ok) throw new Error(ca.reason)
  const key = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(key).toString()
  const facts = await collectFacts({ agentVersion: AGENT_VERSION })
  const nodeName = 'node-12.example'
  const measure = async (eligible: boolean, attested: boolean): Promise<Record<string, number>> => {
    const self = new SelfRecord({ privateKey: key, collectFacts: async () => facts }, {
      peerId, nodeName, labels: { rack: 'r1' }, managerEligible: eligible, advertise: { host: '10.0.0.12', port: 7946 },
      ...(attested ? { attestation: Buffer.from(signAttestation(ca.value, peerId, nodeName)).toString('base64url') } : {})
    })
    await self.refresh()
    const { info } = self.sign(7, false)
    const update = broadcastSize({ t: 'alive', info })
    const header = datagramHeaderSize({ t: 'ping', from: peerId, seq: 1, target: peerId, gossip: [] })
    return { signedRecord: info.record.byteLength, aliveUpdate: update, perProbeDatagram: Math.floor((BUDGET - header) / update), pingHeader: header }
  }
  console.log(JSON.stringify({ worker: await measure(false, false), eligibleSelfAsserted: await measure(true, false), eligibleAttested: await measure(true, true) }))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
