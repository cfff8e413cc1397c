/**
 * A small ustar (POSIX.1-1988) writer for the support bundle: regular files and directories
 * only, names up to 255 bytes (split into prefix and name at a `/`), sizes under 8 GiB. Each
 * entry is produced as bytes (header, data, padding) so the caller streams them through gzip
 * into a file without holding the archive in memory. Pure: no I/O.
 */

/** Tar's block size: headers, data padding and the end marker come in blocks of 512 bytes. */
export const BLOCK = 512

/** Largest file size the 11 octal digits of a ustar size field hold. */
const MAX_SIZE = 8 ** 11 - 1

/** One entry's metadata. */
export interface TarEntryInit {
  /** Relative path with `/` separators: no leading `/`, no `.` or `..` segment. */
  path: string
  /** Permission bits (e.g. 0o600). */
  mode: number
  mtime: Date
}

function writeString (header: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8')
  if (bytes.length > length) throw new Error(`tar: ${JSON.stringify(value)} does not fit in ${length} bytes`)
  bytes.copy(header, offset)
}

function writeOctal (header: Buffer, offset: number, length: number, value: number): void {
  // length - 1 octal digits, then NUL.
  writeString(header, offset, length, value.toString(8).padStart(length - 1, '0') + '\0')
}

/** `path` split into ustar's prefix (≤155 bytes) and name (≤100 bytes); throws when it cannot be. */
export function splitPath (path: string): { prefix: string, name: string } {
  if (path === '' || path.startsWith('/') || path.split('/').some(s => s === '.' || s === '..' || s === '')) {
    throw new Error(`tar: ${JSON.stringify(path)} is not a plain relative path`)
  }
  if (/[\u0000-\u001f\u007f]/.test(path)) throw new Error(`tar: ${JSON.stringify(path)} has a control character`)
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path }
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i)
    const name = path.slice(i + 1)
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { prefix, name }
  }
  throw new Error(`tar: ${JSON.stringify(path)} is too long for ustar`)
}

/** The 512-byte ustar header of a file (`type` '0') or directory ('5') of `size` bytes. */
export function tarHeader (entry: TarEntryInit, size: number, type: '0' | '5'): Buffer {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_SIZE) throw new Error(`tar: size ${size} is out of range`)
  const { prefix, name } = splitPath(entry.path)
  const h = Buffer.alloc(BLOCK)
  // A directory's name ends with `/`, as tar itself writes it.
  writeString(h, 0, 100, type === '5' ? `${name}/` : name)
  writeOctal(h, 100, 8, entry.mode & 0o7777)
  writeOctal(h, 108, 8, 0) // uid
  writeOctal(h, 116, 8, 0) // gid
  writeOctal(h, 124, 12, size)
  writeOctal(h, 136, 12, Math.max(0, Math.floor(entry.mtime.getTime() / 1000)))
  h.fill(0x20, 148, 156) // checksum field counts as spaces while summing
  writeString(h, 156, 1, type)
  writeString(h, 257, 6, 'ustar\0')
  writeString(h, 263, 2, '00')
  writeString(h, 265, 32, 'root')
  writeString(h, 297, 32, 'root')
  writeString(h, 345, 155, prefix)
  let sum = 0
  for (const b of h) sum += b
  writeString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ')
  return h
}

/** A regular file entry: header, data, zero padding to the block. */
export function tarFile (entry: TarEntryInit, data: Buffer): Buffer {
  const pad = (BLOCK - (data.length % BLOCK)) % BLOCK
  return Buffer.concat([tarHeader(entry, data.length, '0'), data, Buffer.alloc(pad)])
}

/** A directory entry (its path without a trailing `/`). */
export function tarDirectory (entry: TarEntryInit): Buffer {
  return tarHeader(entry, 0, '5')
}

/** The end of the archive: two zero blocks. */
export function tarEnd (): Buffer {
  return Buffer.alloc(2 * BLOCK)
}
