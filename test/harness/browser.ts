/**
 * A real browser for tests and benchmarks: Debian's chromium driven by playwright-core (never
 * a downloaded browser). Headless, sandbox off (tests run as root), no network of its own
 * (no updates, sync or QUIC), a fresh profile per launch.
 */

import { existsSync } from 'node:fs'
import { chromium, type BrowserContext } from 'playwright-core'

/** The Debian package's browser (scripts/install-deps.sh --dev installs it). */
export const CHROMIUM = '/usr/bin/chromium'

/**
 * Why a browser test cannot run here, or false when it can. Under CI=true a missing browser is
 * not a reason to skip: it throws, so the suite fails instead of passing without a browser.
 */
export function browserSkipReason (): string | false {
  if (existsSync(CHROMIUM)) return false
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing and CI=true: install it (scripts/install-deps.sh --dev)`)
  return `${CHROMIUM} is missing (apt-get install chromium, or scripts/install-deps.sh --dev); the browser test cannot run`
}

/** Launch chromium with a fresh profile in `profileDir` (which must not exist or be empty); `args` are added. */
export async function launchChromium (profileDir: string, args: string[] = []): Promise<BrowserContext> {
  return await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', ...args]
  })
}
