/**
 * Where the playbooks shipped with clusterd live: `playbooks/` at the package root, found by
 * walking up from this module so it works from `dist/` and from any build directory.
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ROLE_CONFIG_FILE } from './constants.js'

/** Absolute path of the clusterd package root (holding package.json and playbooks/). */
export function packageRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'playbooks', ROLE_CONFIG_FILE))) return dir
    dir = dirname(dir)
  }
  throw new Error('the shipped playbooks/ directory was not found above the clusterd modules')
}

/** Absolute path of the shipped playbook directory; throws if the package lacks it. */
export function shippedPlaybookDir (): string {
  return join(packageRoot(), 'playbooks')
}
