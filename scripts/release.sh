#!/usr/bin/env bash
# Builds a release archive of clusterd from this checkout (`npm run release`): one installed
# tree, exactly what install-tree.sh puts under PREFIX/versions/, as
#   OUT/clusterd-VERSION-HASH.tar.gz          the tree, under its id VERSION-HASH/
#   OUT/clusterd-VERSION-HASH.tar.gz.sha256   its SHA-256, in sha256sum's format
# `clusterctl upgrade --agent-release FILE` hands the archive to the manager, which ships it to
# each node (playbooks/agent-upgrade.yml checks the checksum there before unpacking).
# Run `npm run build` first: the tree carries dist/bundle.
#
# Usage: scripts/release.sh [--out DIR] [--version V]
#   --out DIR     where the archive goes (default: dist/release of the checkout)
#   --version V   stamp another version than package.json's into the tree (package.json and
#                 the version the programs report): test releases and hotfix builds
set -euo pipefail

say () { printf 'release: %s\n' "$*"; }
die () { printf 'release: %s\n' "$*" >&2; exit 1; }
usage_error () { printf 'release: %s\n' "$*" >&2; exit 2; }
abs_path () { # WHAT VALUE
  [ -n "$2" ] || usage_error "$1: expected a path; got an empty string"
  realpath -m -s -- "$2"
}

REPO=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
out="$REPO/dist/release"
stamp=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || usage_error "--out needs a value"; out=$(abs_path --out "$2"); shift 2 ;;
    --version) [ $# -ge 2 ] || usage_error "--version needs a value"; stamp=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage_error "unknown argument: $1 (usage: scripts/release.sh [--out DIR] [--version V])" ;;
  esac
done
[ -z "$stamp" ] || [[ $stamp =~ ^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$ ]] || usage_error "--version: expected a version like 1.2.3; got \"$stamp\""
[ -f "$REPO/dist/bundle/clusterd.js" ] || die "no $REPO/dist/bundle: run npm run build first"

# tree_id and copy_tree: the same tree bootstrap.sh installs.
CLUSTERD_BIN_DIR=/nonexistent
# shellcheck source=scripts/install-tree.sh
. "$REPO/scripts/install-tree.sh"

id=$(tree_id)
version=${id%-*}
if [ -n "$stamp" ]; then version=$stamp; id="$stamp-${id##*-}"; fi
mkdir -p -- "$out"
work=$(mktemp -d "$out/.release.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
copy_tree "$work/$id"

if [ -n "$stamp" ]; then
  # The version is a constant compiled into the bundle (protocol/version.ts); exactly one
  # definition must be there to replace, or the stamp would be a lie.
  built=$("$REPO/node_modules/.bin/node" -p 'require(process.argv[1]).version' "$REPO/package.json")
  mapfile -t files < <(grep -rlF --include='*.js' -- "CLUSTERD_VERSION=\"$built\"" "$work/$id/dist/bundle")
  [ "${#files[@]}" -eq 1 ] || die "expected one definition of CLUSTERD_VERSION=\"$built\" in the bundle; found ${#files[@]} files"
  chmod u+w -- "${files[0]}" "$work/$id/package.json"
  sed -i "s/CLUSTERD_VERSION=\"$built\"/CLUSTERD_VERSION=\"$stamp\"/" "${files[0]}"
  "$REPO/node_modules/.bin/node" -e '
    const fs = require("node:fs"); const [file, v] = process.argv.slice(1)
    const p = JSON.parse(fs.readFileSync(file, "utf8")); p.version = v; fs.writeFileSync(file, JSON.stringify(p, null, 2) + "\n")' \
    "$work/$id/package.json" "$stamp"
fi

name="clusterd-$id.tar.gz"
# Owner and times fixed: the archive depends on the tree, not on who built it when.
tar --owner=0 --group=0 --numeric-owner --sort=name -C "$work" -czf "$work/$name" -- "$id"
( cd "$work" && sha256sum -- "$name" > "$name.sha256" )
mv -f -- "$work/$name" "$out/$name"
mv -f -- "$work/$name.sha256" "$out/$name.sha256"
say "wrote $out/$name (clusterd $version, $(du -h -- "$out/$name" | cut -f1)) and $name.sha256"
