// The agent's log output (agent/diagnostics/stdout-sink.ts) over a real FIFO whose reader is
// not reading: writing never blocks the caller, a full buffer drops and counts lines instead,
// and once the reader reads, every line that was not dropped arrives whole and in order.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs'
import { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StdoutSink } from '../../../../agent/diagnostics/stdout-sink.js'

/** A FIFO with its read end open (not read yet) and its write end for the sink. */
function fifo (): { readFd: number, writeFd: number, close: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'clusterd-sink-'))
  const path = join(dir, 'out')
  execFileSync('mkfifo', [path])
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  const writeFd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK)
  return { readFd, writeFd, close: () => { try { closeSync(writeFd) } catch {} rmSync(dir, { recursive: true, force: true }) } }
}

describe('StdoutSink', () => {
  it('does not block on a reader that does not read: it buffers, then drops and counts', async () => {
    const f = fifo()
    try {
      const sink = new StdoutSink({ fd: f.writeFd, maxBytes: 256 * 1024 })
      const line = (i: number): string => JSON.stringify({ i, msg: 'x'.repeat(200) }) + '\n'
      const total = 10_000 // ~2.2 MB: far more than the FIFO (64 KiB) and the buffer hold
      for (let i = 0; i < total; i++) sink.write(line(i)) // a blocking sink would hang here
      assert.ok(sink.dropped > 0, 'lines beyond the buffer are dropped')
      assert.ok(sink.dropped < total, 'the buffer kept some')

      // The reader catches up: what was not dropped arrives in order, each line whole.
      const expected = total - sink.dropped
      const got: number[] = []
      let partial = ''
      const reader = new Socket({ fd: f.readFd, readable: true, writable: false })
      await new Promise<void>((resolve, reject) => {
        reader.on('error', reject)
        reader.on('data', (b: string | Buffer) => {
          const parts = (partial + b.toString()).split('\n')
          partial = parts.pop() ?? ''
          for (const p of parts) got.push((JSON.parse(p) as { i: number }).i)
          if (got.length >= expected) resolve()
        })
      })
      reader.destroy()
      assert.equal(got.length, expected)
      for (let k = 1; k < got.length; k++) assert.ok((got[k] as number) > (got[k - 1] as number), 'in order')
      assert.equal(got[0], 0, 'the first lines were buffered, not dropped')
    } finally {
      f.close()
    }
  })

  it('keeps everything when the reader keeps up', async () => {
    const f = fifo()
    try {
      const sink = new StdoutSink({ fd: f.writeFd })
      const reader = new Socket({ fd: f.readFd, readable: true, writable: false })
      let text = ''
      const done = new Promise<void>(resolve => {
        reader.on('data', (b: string | Buffer) => { text += b.toString(); if (text.split('\n').length > 100) resolve() })
      })
      for (let i = 0; i < 100; i++) sink.write(`line ${i}\n`)
      await done
      reader.destroy()
      assert.equal(sink.dropped, 0)
      assert.deepEqual(text.trimEnd().split('\n'), Array.from({ length: 100 }, (_, i) => `line ${i}`))
    } finally {
      f.close()
    }
  })
})
