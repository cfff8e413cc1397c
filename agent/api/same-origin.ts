/**
 * Refusing what a browser sends on behalf of another site. The bearer token already stops
 * such requests on TCP (a page cannot make a browser attach it), but the unix socket needs no
 * token, and an operator may forward it to a local port (`ssh -L 8080:/run/clusterd/api.sock`)
 * to open the web console: any page they visit could then POST to it (a "simple" cross-site
 * request needs no CORS preflight). Browsers mark such requests (`Sec-Fetch-Site`, `Origin`);
 * clusterctl, curl and Prometheus send neither header, so they are not affected.
 */

import type { IncomingHttpHeaders } from 'node:http'

/** Why the request comes from another site, or null when it does not (or is not from a browser). */
export function crossSiteReason (headers: IncomingHttpHeaders): string | null {
  const site = headers['sec-fetch-site']
  if (site === 'cross-site' || site === 'same-site') return `the browser marked it ${site}`
  const origin = headers.origin
  if (origin === undefined) return null
  let host: string
  try {
    host = new URL(origin).host
  } catch {
    return 'its Origin header is not a URL'
  }
  // 'null' (a sandboxed frame, a file: page) parses to an empty host, never equal to Host.
  return host !== '' && host === headers.host ? null : `it comes from origin ${JSON.stringify(origin.slice(0, 200))}`
}
