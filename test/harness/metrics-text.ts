/**
 * Reading an agent's `GET /metrics` (the Prometheus text format) in tests and benchmarks.
 */

import { once } from 'node:events'
import { request, type IncomingMessage } from 'node:http'

/** Samples of a Prometheus text: `name{labels}` -> value (comments and blank lines skipped). */
export function promSamples (text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

/** One scrape of `GET /metrics` on an agent's API socket, as samples; null when it does not answer 200 in time. */
export async function scrapeMetrics (socketPath: string, timeoutMs = 5000): Promise<Map<string, number> | null> {
  try {
    const req = request({ socketPath, path: '/metrics', agent: false, timeout: timeoutMs })
    req.on('timeout', () => { req.destroy(new Error(`GET /metrics on ${socketPath}: no answer in ${timeoutMs} ms`)) })
    req.end()
    const [res] = await once(req, 'response') as [IncomingMessage]
    let text = ''
    for await (const chunk of res) text += String(chunk)
    return res.statusCode === 200 ? promSamples(text) : null
  } catch {
    return null
  }
}
