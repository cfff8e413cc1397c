// The console's entry: picks the page from the location hash (#/, #/nodes/NAME, #/jobs,
// #/jobs/ID), and asks for the API token when the agent wants one. Nothing with data is drawn
// before the agent has answered with it, so a refused token leaves an empty page and a form.

import { ApiError, clearToken, setToken, token } from './api.js'
import { errorBox, h, show } from './dom.js'
import { jobPage, jobsPage } from './jobs.js'
import { parseHash } from './model.js'
import { nodePage } from './node.js'
import { overviewPage } from './overview.js'

const main = document.getElementById('main')
const signOut = document.getElementById('signout')
/** Aborts the page shown when another is opened. */
let current = null

function tokenForm (refused) {
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' })
  const form = h('form', {
    class: 'card signin',
    id: 'signin',
    onsubmit: (ev) => {
      ev.preventDefault()
      setToken(input.value.trim())
      void open()
    }
  },
  h('h1', {}, 'API token'),
  h('p', {}, 'This agent serves its API on TCP, which needs the bearer token (the file given with --api-token-file, e.g. /etc/clusterd/api-token). It is kept in this tab only (sessionStorage) and sent in the Authorization header.'),
  refused ? h('p', { class: 'error', id: 'token-refused', role: 'alert' }, 'The agent refused that token.') : null,
  h('label', {}, 'Token ', input), ' ', h('button', { type: 'submit' }, 'Sign in'))
  show(main, form)
  main.dataset.loaded = 'signin'
  input.focus()
}

async function open () {
  current?.abort()
  const controller = new AbortController()
  current = controller
  const signal = controller.signal
  signOut.hidden = token() === null
  delete main.dataset.loaded
  const target = parseHash(location.hash)
  try {
    if (target.page === 'overview') await overviewPage(main, signal)
    else if (target.page === 'node') await nodePage(main, target.name, signal)
    else if (target.page === 'jobs') await jobsPage(main, signal)
    else if (target.page === 'job') await jobPage(main, target.id, signal)
    else show(main, h('p', {}, 'No such page. '), h('a', { href: '#/' }, 'Back to the cluster'))
  } catch (err) {
    if (signal.aborted) return
    if (err instanceof ApiError && err.status === 401) {
      // A token we sent and the agent refused is dropped at once, not retried.
      const refused = token() !== null
      clearToken()
      signOut.hidden = true
      tokenForm(refused)
      return
    }
    show(main, errorBox(err))
  }
}

signOut.addEventListener('click', () => {
  clearToken()
  current?.abort()
  tokenForm(false)
  signOut.hidden = true
})
window.addEventListener('hashchange', () => { void open() })
void open()

