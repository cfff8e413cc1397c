// Node's compile cache for the launchers: V8 keeps the code it compiled for the bundle in a
// directory and reuses it on the next start (about a third less start-up, docs/benchmarks.md).
// The directory: $CLUSTERD_COMPILE_CACHE (`off` disables), else /var/cache/clusterd (root, the
// agent under systemd), else ${XDG_CACHE_HOME:-~/.cache}/clusterd. A directory that cannot
// be created or written is skipped silently: the cache only ever saves time.
// NODE_DISABLE_COMPILE_CACHE=1 (Node's own switch) also turns it off.
import module from 'node:module'
import { homedir } from 'node:os'
import { join } from 'node:path'

/** Cache directories to try, in order. */
function candidates (env) {
  const override = env.CLUSTERD_COMPILE_CACHE
  if (override === 'off') return []
  if (override !== undefined && override !== '') return [override]
  const userCache = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(homedir(), '.cache')
  return ['/var/cache/clusterd', join(userCache, 'clusterd')]
}

/** Turns on the compile cache in the first usable directory; returns it, or null. */
export function enableCompileCache (env = process.env) {
  if (typeof module.enableCompileCache !== 'function') return null
  for (const dir of candidates(env)) {
    const { status, directory } = module.enableCompileCache(dir)
    const { ENABLED, ALREADY_ENABLED, DISABLED } = module.constants.compileCacheStatus
    if (status === ENABLED || status === ALREADY_ENABLED) return directory ?? dir
    if (status === DISABLED) return null
  }
  return null
}
