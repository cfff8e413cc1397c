/**
 * POSIX shell quoting. An SSH exec request is one string the remote login shell parses, so
 * argv is joined with every word single-quoted: no name or path can become shell syntax.
 */

/** Quotes one word for a POSIX shell; NUL cannot be passed and is refused. */
export function quoteWord (word: string): string {
  if (word.includes('\0')) throw new TypeError('an argument cannot contain NUL')
  return `'${word.replaceAll("'", "'\\''")}'`
}

/** Joins argv into a command string a POSIX shell splits back into exactly argv. */
export function quoteArgv (argv: readonly string[]): string {
  if (argv.length === 0) throw new TypeError('argv must not be empty')
  return argv.map(quoteWord).join(' ')
}
