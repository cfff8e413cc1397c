/**
 * Test hosts stand for machines clusterd was installed on, and install fills Node's compile
 * cache (`clusterd compile-cache`, scripts/install-tree.sh). A host's /var is an overlay on the
 * machine's, so filling the machine's /var/cache/clusterd once, before the hosts are mounted,
 * gives every host's agents that cache (a host's own writes stay in its upper layer). Without
 * it every agent on every host compiled the bundle cold: 64 agents started together paid that
 * 64 times on 2 cores.
 */

import { AGENT_ENV, CLUSTERD, NODE } from './agent-process.js'
import { runOk } from './proc.js'

let filled: Promise<void> | null = null

/** Run `clusterd compile-cache` on the machine once per process (as the agents will: root, HOME=/root). */
export async function fillCompileCache (): Promise<void> {
  filled ??= runOk([NODE, CLUSTERD, 'compile-cache'], { env: { ...AGENT_ENV } }).then(() => {}, err => { filled = null; throw err })
  await filled
}
