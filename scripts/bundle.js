// Bundles the two programs for start-up speed (part of `npm run build`, after tsc):
//   dist/bundle/clusterd.js, dist/bundle/clusterctl.js, shared and lazily loaded code in
//   dist/bundle/chunks/, each with a source map (.map, sources not inlined: they are in the repo).
// Loading one bundled file instead of hundreds of ESM modules halves an agent's start-up
// (docs/benchmarks.md, "Agent start-up"). Code behind a dynamic import() (the manager role,
// `clusterd agent` itself) becomes its own chunk and is only read when that import runs.
// It also copies the web console's static files to dist/ui/.
// Usage: node scripts/bundle.js   (run from anywhere; writes into the repository's dist/)
import { cp, rm, writeFile } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const outdir = join(root, 'dist', 'bundle')

// Packages with native addons stay outside the bundle (their .node files are found relative
// to their own package directory) and load from node_modules at run time.
const external = ['classic-level', 'ssh2']

// An ESM `import ... from 'node:http'` makes Node evaluate every export of the built-in,
// lazy ones included: for node:http that loads undici (its fetch/WebSocket exports), about
// 25 ms and 10 MB per process; node:fs, node:util and node:process pull in streams and more.
// require() leaves them lazy. So every import of a built-in becomes a require() of it (through
// a one-line CommonJS module; esbuild's interop reads a property only when the code uses it).
const builtins = new Set(builtinModules)
const builtinsViaRequire = {
  name: 'builtins-via-require',
  setup (b) {
    b.onResolve({ filter: /^(node:)?[a-z_][a-z0-9_/]*$/ }, args => {
      const name = args.path.replace(/^node:/, '')
      if (!builtins.has(name)) return undefined
      const id = `node:${name}`
      if (args.namespace === 'builtin' || args.kind === 'require-call') return { path: id, external: true }
      return { path: id, namespace: 'builtin' }
    })
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, args => ({ contents: `module.exports = require(${JSON.stringify(args.path)})`, loader: 'js' }))
  }
}

await rm(outdir, { recursive: true, force: true })
const result = await build({
  absWorkingDir: root,
  entryPoints: { clusterd: 'agent/main.ts', clusterctl: 'cli/main.ts' },
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  external,
  plugins: [builtinsViaRequire],
  sourcemap: 'linked',
  sourcesContent: false,
  minifyWhitespace: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  // CommonJS dependencies call require() for Node built-ins, which ESM output lacks.
  banner: { js: "import { createRequire as __clusterdRequire } from 'node:module'; const require = __clusterdRequire(import.meta.url);" }
})
// The web console's hand-written files (no build step of their own), served from dist/ui/ by
// agent/console/console-files.ts, so an installed dist/ carries them.
await rm(join(root, 'dist', 'ui'), { recursive: true, force: true })
await cp(join(root, 'agent', 'console', 'static'), join(root, 'dist', 'ui'), { recursive: true })
// What went into which file, for `npx esbuild --analyze`-style inspection (e.g. esbuild.github.io/analyze).
await writeFile(join(outdir, 'meta.json'), JSON.stringify(result.metafile))
