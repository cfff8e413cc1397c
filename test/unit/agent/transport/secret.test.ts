import assert from 'node:assert/strict'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ClusterdError } from '../../../../protocol/errors.js'
import {
  formatSecretFile,
  generateSecret,
  parseSecretFile,
  readSecretFile,
  writeSecretFile
} from '../../../../agent/transport/secret.js'

const HEX = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'

/** Asserts an INVALID_CONFIG ClusterdError whose message matches `pattern`. */
function isConfigError (pattern: RegExp, code = 'CLUSTERD_ERR_INVALID_CONFIG') {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ClusterdError, `expected a ClusterdError, got ${String(err)}`)
    assert.equal(err.code, code)
    assert.match(err.message, pattern)
    return true
  }
}

describe('cluster secret format', () => {
  it('generates distinct 32-byte secrets', () => {
    const a = generateSecret()
    const b = generateSecret()
    assert.equal(a.byteLength, 32)
    assert.notDeepEqual(a, b)
  })

  it('formats the 95-byte swarm key file and parses it back', () => {
    const psk = generateSecret()
    const text = formatSecretFile(psk)
    assert.equal(Buffer.byteLength(text), 95)
    assert.match(text, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/)
    assert.deepEqual(parseSecretFile(text), psk)
  })

  it('accepts CRLF line ends, upper-case hex and a missing final newline', () => {
    const expected = new Uint8Array(Buffer.from(HEX, 'hex'))
    assert.deepEqual(parseSecretFile(`/key/swarm/psk/1.0.0/\r\n/base16/\r\n${HEX.toUpperCase()}\r\n`), expected)
    assert.deepEqual(parseSecretFile(`/key/swarm/psk/1.0.0/\n/base16/\n${HEX}`), expected)
  })

  it('refuses to format a secret of the wrong length', () => {
    assert.throws(() => formatSecretFile(new Uint8Array(16)), isConfigError(/32 bytes, got 16/, 'CLUSTERD_ERR_INVALID_ARGUMENT'))
  })

  it('names what is wrong with a malformed file', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /line 1 must be "\/key\/swarm\/psk\/1\.0\.0\/".*empty line/],
      [`/key/swarm/psk/2.0.0/\n/base16/\n${HEX}\n`, /line 1 .*found "\/key\/swarm\/psk\/2\.0\.0\/"/],
      [`/key/swarm/psk/1.0.0/\n/base64/\n${HEX}\n`, /line 2 must be "\/base16\/" \(only base16/],
      ['/key/swarm/psk/1.0.0/\n/base16/\n', /line 3 .*missing/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(2)}\n`, /exactly 64 hex digits .*found 62 characters/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(1)}g\n`, /non-hex character at column 64/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX}\nmore\n`, /expected 3 lines, found 4/]
    ]
    for (const [text, pattern] of cases) {
      assert.throws(() => parseSecretFile(text), isConfigError(pattern), `for ${JSON.stringify(text)}`)
    }
  })

  it('never echoes key material in an error', () => {
    // a bare key without the header lines is the likeliest mistake
    assert.throws(() => parseSecretFile(`${HEX}\n`), (err: unknown) => {
      assert.ok(err instanceof ClusterdError)
      assert.match(err.message, /bare hex key/)
      assert.doesNotMatch(err.message, /00112233/)
      return true
    })
  })
})

describe('cluster secret file', () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'clusterd-secret-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('writes mode 0600 in a new 0700 directory and reads back the same secret', async () => {
    const path = join(dir, 'new', 'etc', 'secret')
    const psk = await writeSecretFile(path)
    assert.equal((await stat(path)).mode & 0o777, 0o600)
    assert.equal((await stat(join(dir, 'new'))).mode & 0o777, 0o700)
    assert.equal((await stat(join(dir, 'new', 'etc'))).mode & 0o777, 0o700)
    assert.equal((await readFile(path)).byteLength, 95)
    assert.deepEqual(await readSecretFile(path), psk)
    // the temporary file is gone
    assert.deepEqual(await readdir(join(dir, 'new', 'etc')), ['secret'])
  })

  it('leaves an existing parent directory mode alone', async () => {
    const parent = join(dir, 'shared')
    await mkdir(parent, { mode: 0o755 })
    await chmod(parent, 0o755)
    await writeSecretFile(join(parent, 'secret'))
    assert.equal((await stat(parent)).mode & 0o777, 0o755)
  })

  it('writes a given secret', async () => {
    const psk = generateSecret()
    const path = join(dir, 'given')
    assert.deepEqual(await writeSecretFile(path, { psk }), psk)
    assert.deepEqual(await readSecretFile(path), psk)
  })

  it('refuses to overwrite an existing file unless forced', async () => {
    const path = join(dir, 'existing')
    const first = await writeSecretFile(path)
    await assert.rejects(writeSecretFile(path), isConfigError(/refusing to overwrite/, 'CLUSTERD_ERR_INVALID_ARGUMENT'))
    assert.deepEqual(await readSecretFile(path), first)
    const second = await writeSecretFile(path, { force: true })
    assert.notDeepEqual(second, first)
    assert.deepEqual(await readSecretFile(path), second)
    assert.deepEqual((await readdir(dir)).filter(name => name.endsWith('.tmp')), [])
  })

  it('refuses a missing file', async () => {
    await assert.rejects(readSecretFile(join(dir, 'absent')), isConfigError(/does not exist/))
  })

  it('refuses a file open to group or others and tells the fix', async () => {
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      const path = join(dir, `open-${mode.toString(8)}`)
      await writeFile(path, formatSecretFile(generateSecret()))
      await chmod(path, mode)
      await assert.rejects(readSecretFile(path), isConfigError(new RegExp(`mode 0${mode.toString(8)}.*chmod 600 ${path}`)))
    }
  })

  it('refuses a malformed file, naming the file', async () => {
    const path = join(dir, 'malformed')
    await writeFile(path, '/key/swarm/psk/1.0.0/\n/base16/\nnot-hex\n', { mode: 0o600 })
    await assert.rejects(readSecretFile(path), isConfigError(new RegExp(`${path}: line 3`)))
  })

  it('refuses a directory', async () => {
    const path = join(dir, 'a-dir')
    await mkdir(path, { mode: 0o700 })
    await assert.rejects(readSecretFile(path), isConfigError(/not a regular file/))
  })
})
