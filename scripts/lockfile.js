// What install-deps.sh and bootstrap.sh need to know from package-lock.json, without npm:
//   install-scripts  the dependencies whose npm install script runs (by name, one a line), after
//                    checking that every dependency with an install script is decided in
//                    scripts/install-scripts.json; exit 1 naming any that is not, so a new one
//                    cannot slip in unreviewed (`npm ci --ignore-scripts` runs none of them)
//   production-dirs  the top-level node_modules/ directories of the production dependencies
//                    that are present (NUL-separated), for the installed tree under --prefix
// Usage: node scripts/lockfile.js install-scripts|production-dirs [REPO]   (REPO: default ..)
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The lockfile's package entries, keyed by path (`node_modules/a/node_modules/b`). */
function packages (repo) {
  const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8'))
  return lock.packages ?? {}
}

/** The package name of a lockfile path: the part after its last `node_modules/`. */
const nameOf = path => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)

/** `{ run, undecided }`: names whose install script runs, and ones install-scripts.json does not decide. */
export function installScripts (repo) {
  const policy = JSON.parse(readFileSync(join(repo, 'scripts', 'install-scripts.json'), 'utf8'))
  const run = Object.keys(policy.run ?? {})
  const decided = new Set([...run, ...Object.keys(policy.skip ?? {})])
  const withScripts = new Set(Object.entries(packages(repo))
    .filter(([path, entry]) => path !== '' && entry.hasInstallScript === true)
    .map(([path]) => nameOf(path)))
  return { run: run.filter(n => withScripts.has(n)), undecided: [...withScripts].filter(n => !decided.has(n)).sort() }
}

/** Top-level directories (relative to the repository) of the production dependencies on disk. */
export function productionDirs (repo) {
  return Object.entries(packages(repo))
    .filter(([path, entry]) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path) && entry.dev !== true && !entry.link)
    .map(([path]) => path)
    .filter(path => existsSync(join(repo, path)))
    .sort()
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [what, repoArg] = process.argv.slice(2)
  const repo = repoArg ?? join(dirname(fileURLToPath(import.meta.url)), '..')
  if (what === 'install-scripts') {
    const { run, undecided } = installScripts(repo)
    if (undecided.length > 0) {
      process.stderr.write(`lockfile: these dependencies have npm install scripts that scripts/install-scripts.json does not decide (run or skip, with a reason): ${undecided.join(', ')}\n`)
      process.exit(1)
    }
    for (const name of run) process.stdout.write(`${name}\n`)
  } else if (what === 'production-dirs') {
    for (const dir of productionDirs(repo)) process.stdout.write(`${dir}\0`)
  } else {
    process.stderr.write('usage: node scripts/lockfile.js install-scripts|production-dirs [REPO]\n')
    process.exit(2)
  }
}
