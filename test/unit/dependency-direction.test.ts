// Imports point down (docs/architecture.md, "Code map"): protocol/ imports nothing of the
// programs, manager/ and cli/ import only protocol/ besides themselves, and agent/ reaches into
// manager/ only from its composition roots. Read from the TypeScript sources' import
// specifiers (static, dynamic and re-exports), so a new crossing fails here, not in review.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, posix, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = fileURLToPath(new URL('../../../', import.meta.url))

/** What each top folder may import besides itself. */
const ALLOWED: Record<string, string[]> = {
  protocol: [],
  manager: ['protocol'],
  cli: ['protocol'],
  agent: ['protocol']
}

/** The composition roots' crossings into manager/: the replica's store and the lazy manager role. */
const ROOT_CROSSINGS = new Set([
  'agent/agent.ts -> manager/store/index.ts',
  'agent/agent.ts -> manager/manager.ts',
  'agent/replica/recover-command.ts -> manager/store/index.ts',
  'agent/replica/restore-command.ts -> manager/store/index.ts'
])

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g

function sources (dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(join(REPO, dir), { withFileTypes: true })) {
    const path = posix.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...sources(path))
    else if (entry.name.endsWith('.ts')) out.push(path)
  }
  return out
}

/** Every relative import of `file` as `file -> target` (target repo-relative, `.js` read as `.ts`). */
function imports (file: string): string[] {
  const text = readFileSync(join(REPO, file), 'utf8')
  return [...text.matchAll(SPECIFIER)].map(m => {
    const target = relative(REPO, join(REPO, dirname(file), m[1] ?? '')).split(sep).join('/')
    return `${file} -> ${target.replace(/\.js$/, '.ts')}`
  })
}

describe('dependency direction', () => {
  const edges = Object.keys(ALLOWED).flatMap(top => sources(top).flatMap(imports))

  it('reads the imports it judges (static, dynamic, type-only)', () => {
    assert.ok(edges.includes('agent/agent.ts -> manager/manager.ts'), 'the lazy manager import is dynamic: import(...)')
    assert.ok(edges.includes('manager/manager.ts -> protocol/manager-role.ts'), 'a type-only import')
    assert.ok(edges.length > 300, `only ${edges.length} imports found`)
  })

  for (const [top, allowed] of Object.entries(ALLOWED)) {
    it(`${top}/ imports only ${[top, ...allowed].map(t => `${t}/`).join(' and ')}${top === 'agent' ? ' (manager/ from its composition roots)' : ''}`, () => {
      const crossing = edges.filter(edge => {
        const [from, to] = edge.split(' -> ')
        if (from?.split('/')[0] !== top) return false
        const target = to?.split('/')[0] ?? ''
        return target !== top && !allowed.includes(target) && !ROOT_CROSSINGS.has(edge)
      })
      assert.deepEqual(crossing, [])
    })
  }
})
