/**
 * Command-line arguments of the benchmarks: node's `parseArgs`, plus `--help` (the flags and
 * their defaults) and a clear one-line error with exit code 2 for an unknown flag or a missing
 * value, instead of a stack trace.
 */

import { basename } from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'

/** The usage text of a benchmark: its flags with their defaults. */
export function benchUsage (options: NonNullable<ParseArgsConfig['options']>): string {
  const flags = Object.entries(options).map(([name, o]) => {
    const value = o.type === 'string' ? ' VALUE' : ''
    const def = o.default !== undefined ? ` (default ${String(o.default)})` : ''
    return `  --${name}${value}${def}`
  })
  return `usage: node ${process.argv[1] ?? 'bench'} [flags]\n${flags.join('\n')}\n`
}

/** Print `message` and the usage (or where to find it) on stderr and exit 2 (a bad flag or value). */
export function benchUsageError (message: string, options?: NonNullable<ParseArgsConfig['options']>): never {
  const help = options === undefined ? '(--help lists the flags)\n' : benchUsage(options)
  process.stderr.write(`${basename(process.argv[1] ?? 'bench')}: ${message}\n${help}`)
  process.exit(2)
}

/** `parseArgs(config)` with `--help` and clear errors (see top). */
export function benchArgs<T extends ParseArgsConfig> (config: T): ReturnType<typeof parseArgs<T>> {
  const options = config.options ?? {}
  const argv = config.args ?? process.argv.slice(2)
  if (argv.includes('--help') && !('help' in options)) {
    process.stdout.write(benchUsage(options))
    process.exit(0)
  }
  try {
    return parseArgs(config)
  } catch (err) {
    return benchUsageError(err instanceof Error ? err.message : String(err), options)
  }
}
