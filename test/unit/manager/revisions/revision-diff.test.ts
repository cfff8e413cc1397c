import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MAX_EDITS, diffFile, diffLines } from '../../../../manager/revisions/revision-diff.js'

/** Apply unified hunks to `before`: proves the diff is a correct edit script. */
function apply (before: string, hunks: string[]): string {
  const a = before === '' ? [] : before.replace(/\n$/, '').split('\n')
  const out: string[] = []
  let i = 0
  for (const line of hunks) {
    const m = /^@@ -(\d+),(\d+) \+\d+,\d+ @@$/.exec(line)
    if (m !== null) {
      const start = Number(m[2]) === 0 ? Number(m[1]) : Number(m[1]) - 1
      while (i < start) out.push(a[i++] as string)
      continue
    }
    if (line.startsWith(' ')) { assert.equal(a[i], line.slice(1)); out.push(a[i++] as string) } else if (line.startsWith('-')) { assert.equal(a[i], line.slice(1)); i++ } else out.push(line.slice(1))
  }
  while (i < a.length) out.push(a[i++] as string)
  return out.length === 0 ? '' : out.join('\n') + '\n'
}

describe('revision diffs', () => {
  it('shows a change with three lines of context and correct hunk headers', () => {
    assert.deepEqual(diffLines('a\nb\nc\n', 'a\nB\nc\n'), ['@@ -1,3 +1,3 @@', ' a', '-b', '+B', ' c'])
    assert.deepEqual(diffLines('', 'x\n'), ['@@ -0,0 +1,1 @@', '+x'])
    assert.deepEqual(diffLines('x\n', 'x\n'), [])
  })

  it('produces hunks that turn the old text into the new one (seeded random edits)', () => {
    let seed = 7
    const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
    for (let round = 0; round < 50; round++) {
      const a = Array.from({ length: rand(40) }, () => `l${rand(8)}`)
      const b = a.filter(() => rand(5) !== 0).flatMap(l => rand(6) === 0 ? [l, `n${rand(8)}`] : [l])
      const before = a.length === 0 ? '' : a.join('\n') + '\n'
      const after = b.length === 0 ? '' : b.join('\n') + '\n'
      assert.equal(apply(before, diffLines(before, after)), after, `round ${round}`)
    }
  })

  it('falls back to remove-all/add-all past MAX_EDITS differences, still correct', () => {
    const a = Array.from({ length: MAX_EDITS + 10 }, (_, i) => `a${i}`).join('\n') + '\n'
    const b = Array.from({ length: MAX_EDITS + 10 }, (_, i) => `b${i}`).join('\n') + '\n'
    const hunks = diffLines(a, b)
    assert.equal(apply(a, hunks), b)
  })

  it('marks binary files and names added and removed ones', () => {
    assert.deepEqual(diffFile('x.bin', Buffer.from([0, 1]), Buffer.from([0, 2])), { path: 'x.bin', change: 'modified', binary: true })
    assert.equal(diffFile('same', Buffer.from('x'), Buffer.from('x')), undefined)
    assert.equal(diffFile('new.yml', undefined, Buffer.from('x\n'))?.change, 'added')
    assert.equal(diffFile('old.yml', Buffer.from('x\n'), undefined)?.change, 'removed')
  })
})
