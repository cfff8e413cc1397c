/**
 * `clusterctl node rebind NAME --peer PEER_ID` (`POST /v1/nodes/:name/rebind`): move a node's
 * name to another peer, e.g. a reinstalled machine whose agent has a new identity. The record
 * keeps its state, roles and vars; the manager pins the new peer's SSH host keys from then on.
 */

import { isPeerId } from '../../protocol/names.js'
import { nodeNames } from '../arguments.js'
import type { ApiClient } from '../client.js'
import { usageError } from '../errors.js'

/** Options of `clusterctl node rebind`. */
export interface NodeRebindOptions {
  peer?: string
}

/** Move the name and say what changed. */
export async function nodeRebind (client: ApiClient, name: string, opts: NodeRebindOptions): Promise<string> {
  const [node] = nodeNames([name])
  const peerId = opts.peer ?? ''
  if (!isPeerId(peerId)) throw usageError(`--peer: ${JSON.stringify(peerId)} is not a peer id (see the peerId of the member in clusterctl members -o json)`)
  const res = await client.rebindNode(node ?? name, { peerId })
  return `node ${res.node.name}: ${res.event.reason ?? 'rebound'} (event ${res.event.gseq})\n`
}
