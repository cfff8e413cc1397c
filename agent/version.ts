/**
 * The agent's version, read once from the package manifest (two levels above the compiled
 * file: dist/agent/version.js -> package.json).
 */

import { readFileSync } from 'node:fs'

function readVersion (): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0'
  } catch {
    return '0.0.0'
  }
}

/** The clusterd version, e.g. `0.1.0`. */
export const AGENT_VERSION = readVersion()
