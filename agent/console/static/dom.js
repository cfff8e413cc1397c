// Building the page without HTML strings: every value from the API (node names, labels,
// facts, task names: attacker-influenced) becomes a text node or an attribute value, never
// markup. No string is ever parsed as HTML anywhere in the console.

import { pause } from './model.js'

/**
 * An element: `h('td', { class: 'num' }, 'text', child, [more])`. Attributes are set with
 * setAttribute (`on*` functions become listeners); children that are not nodes become text.
 */
export function h (tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  append(el, children)
  return el
}

/** Append children to `el`: nodes as they are, anything else as text; null and false skipped. */
export function append (el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return el
}

/** Replace everything in `el` with `children`. */
export function show (el, ...children) {
  el.replaceChildren()
  return append(el, children)
}

/** A table: `columns` are `{ header, cell: row => node|text, class? }`. */
export function table (columns, rows, attrs = {}) {
  return h('table', attrs,
    h('thead', {}, h('tr', {}, columns.map(c => h('th', { class: c.class }, c.header)))),
    h('tbody', {}, rows.map(r => h('tr', {}, columns.map(c => h('td', { class: c.class }, c.cell(r)))))))
}

/** A coloured word for a status or state (its class names the value, for the style sheet). */
export function badge (value) {
  const text = String(value)
  return h('span', { class: `badge b-${text.replace(/[^a-z0-9-]/gi, '_')}` }, text)
}

/** A link to a page of the console (`href` is made by model.js from encoded values). */
export function link (href, text) {
  return h('a', { href }, text)
}

/** A definition list from `[term, value]` pairs. */
export function facts (pairs) {
  return h('dl', { class: 'facts' }, pairs.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]))
}

/** A titled section. */
export function section (title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), children)
}

/** A box that shows an error's code and message. */
export function errorBox (err) {
  const code = err?.code ?? 'ERROR'
  return h('div', { class: 'error', role: 'alert' }, h('strong', {}, code), ' ', err?.message ?? String(err))
}

/**
 * Run `draw` now and every `ms` until `signal` aborts. A failure of the first draw is thrown
 * (the page shows it, or asks for the token on a 401); a later one (the agent restarting, no
 * manager for a moment) is shown above the last good content, and drawing goes on.
 */
export async function every (ms, signal, main, draw) {
  let drawn = false
  while (!signal.aborted) {
    try {
      await draw()
      drawn = true
    } catch (err) {
      if (!drawn || signal.aborted || err?.status === 401) throw err
      main.querySelector(':scope > .stale')?.remove()
      main.prepend(h('div', { class: 'stale' }, errorBox(err)))
    }
    await pause(ms, signal)
  }
}
