// Bundles the two programs for start-up speed (part of `npm run build`, after tsc):
//   dist/bundle/clusterd.js, dist/bundle/clusterctl.js, shared and lazily loaded code in
//   dist/bundle/chunks/, each with a source map (.map, sources not inlined: they are in the repo).
// Loading one bundled file instead of hundreds of ESM modules halves an agent's start-up
// (docs/benchmarks.md, "Agent start-up"). Code behind a dynamic import() (the manager role,
// `clusterd agent` itself) becomes its own chunk and is only read when that import runs.
// Usage: node scripts/bundle.js   (run from anywhere; writes into the repository's dist/)
import { rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const outdir = join(root, 'dist', 'bundle')

// Packages with native addons stay outside the bundle (their .node files are found relative
// to their own package directory) and load from node_modules at run time.
const external = ['classic-level', 'ssh2']

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
  sourcemap: 'linked',
  sourcesContent: false,
  metafile: true,
  logLevel: 'warning',
  // CommonJS dependencies call require() for Node built-ins, which ESM output lacks.
  banner: { js: "import { createRequire as __clusterdRequire } from 'node:module'; const require = __clusterdRequire(import.meta.url);" }
})
// What went into which file, for `npx esbuild --analyze`-style inspection (e.g. esbuild.github.io/analyze).
await writeFile(join(outdir, 'meta.json'), JSON.stringify(result.metafile))
