/**
 * Serves the web console on the agent's API listeners: the page at `/ui` and its files at
 * `/ui/<file>`, without the bearer token (a browser cannot attach one to a page load, and the
 * files hold no data). Every data request the page makes goes to the ordinary API routes,
 * which keep requiring the token on TCP exactly as before (README, "Web console").
 */

import { ClusterdError } from '../../protocol/errors.js'
import { TextReply } from '../api/respond.js'
import type { ApiServer } from '../api/server.js'
import type { ConsoleFile } from './console-files.js'
import { CONSOLE_HEADERS, CONSOLE_INDEX, CONSOLE_PATH } from './constants.js'

/**
 * Register the console's routes. `files` null (the console was not built) still answers `/ui`,
 * with an error that says so, rather than a bare "no route".
 */
export function registerConsoleRoutes (server: Pick<ApiServer, 'route'>, files: readonly ConsoleFile[] | null): void {
  if (files === null) {
    server.route('GET', CONSOLE_PATH, async () => {
      throw new ClusterdError('CLUSTERD_ERR_NOT_FOUND', 'the web console files are not installed (run npm run build)')
    }, { withoutToken: true })
    return
  }
  for (const file of files) {
    const reply = new TextReply(200, file.contentType, file.text, CONSOLE_HEADERS)
    const path = file.name === CONSOLE_INDEX ? CONSOLE_PATH : `${CONSOLE_PATH}/${file.name}`
    // Literal paths only (one route per file), so no request path can reach the file system.
    server.route('GET', path, async () => reply, { withoutToken: true })
  }
}
