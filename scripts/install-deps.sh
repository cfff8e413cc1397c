#!/usr/bin/env bash
# Installs everything clusterd needs on a Debian machine, idempotently:
#   - Debian packages: OpenSSH, Ansible (ansible-core + python3-ansible-runner), iproute2;
#     with --dev also what the tests and benchmarks use (serf, for the membership benchmark;
#     chromium, the browser the web console's test drives);
#   - Node.js: any `npm` to bootstrap with (Debian's if none is present); the project then
#     brings its own Node.js 22 as the npm package `node` (node_modules/.bin/node), because
#     libp2p 3 needs Node 22 and Debian ships older releases;
#   - npm dependencies (npm ci) and the build (dist/: tsc, then the bundles in dist/bundle/).
# Usage: scripts/install-deps.sh [--dev]     (run as root)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: must run as root (it installs Debian packages)" >&2
  exit 1
fi

packages=(openssh-server openssh-client openssl ansible-core python3-ansible-runner iproute2 procps util-linux ca-certificates)
[ "$dev" -eq 1 ] && packages+=(serf psmisc chromium)
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
if [ ! -x node_modules/.bin/node ] || ! node_modules/.bin/node -e 'process.exit(+process.versions.node.split(".")[0] >= 22 ? 0 : 1)' \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci (brings Node.js 22 as node_modules/.bin/node)"
  npm ci --no-audit --no-fund
fi
PATH="$here/node_modules/.bin:$PATH" npm run build --silent
echo "install-deps: ready (Node $(node_modules/.bin/node --version), $(/usr/bin/ansible-runner --version 2>/dev/null | head -1 || echo 'ansible-runner ?'))"
