/** Constants of the web console (agent/console). */

/** Path of the console's page; its files are under `${CONSOLE_PATH}/`. */
export const CONSOLE_PATH = '/ui'

/** Directory of the built console files, beside the bundles (`npm run build` copies agent/console/static there). */
export const CONSOLE_DIST_DIR = 'ui'

/** The page itself, served at CONSOLE_PATH. */
export const CONSOLE_INDEX = 'index.html'

/** Content types by file extension; a file of another kind is not served. */
export const CONSOLE_CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml'
}

/**
 * Headers of every console file. The policy allows only the console's own files and fetches to
 * its own origin: no inline script or style, no other origin, no framing (clickjacking), no
 * form posts, no `<base>`; data the page shows cannot become code even if escaping failed.
 */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin'
}
