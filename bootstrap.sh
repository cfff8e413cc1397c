#!/usr/bin/env bash
# bootstrap.sh: start the first node of a clusterd cluster, or join a node to one.
# Run `./bootstrap.sh --help` for the interface; the help text below is the documentation.
# `check && check || die` is deliberate here (die always exits); the node -e snippets are
# JavaScript in single quotes on purpose.
# shellcheck disable=SC2015,SC2016
set -euo pipefail
export LC_ALL=C
umask 077

usage () {
  cat <<'EOF'
Usage:
  ./bootstrap.sh [FLAGS]                        first node: create the cluster and start clusterd
  ./bootstrap.sh join HOST:PORT [HOST:PORT...] [FLAGS]
                                                join this node to a cluster through its seed members
  ./bootstrap.sh status                         is clusterd running here; members and manager
  ./bootstrap.sh stop                           stop clusterd gracefully (it leaves the cluster)
  ./bootstrap.sh --help

Run as root. Re-running is safe: nothing is installed twice, secrets are never replaced, and
a running agent is not started a second time.

First node (no command, or `init`):
  1. installs what is missing (scripts/install-deps.sh; skip with --no-install), then
     installs clusterd itself from this checkout under --prefix (default /opt/clusterd):
     versions/VERSION-HASH/ (the built programs, playbooks, production node_modules with the
     pinned Node.js), current -> that version (switched atomically), and the wrappers
     /usr/local/bin/clusterd and /usr/local/bin/clusterctl; the service runs from
     PREFIX/current, not from the checkout;
  2. creates the cluster secrets in /etc/clusterd (directory 0700, files 0600), keeping any
     that exist: secret (gossip pre-shared key), ssh-ca and ssh-ca.pub (the cluster SSH
     certificate authority), api-ca.key and api-ca.crt (the CA of the TCP API's TLS
     certificates), api-token (bearer token for the optional TCP API); with --api-listen also
     api.key and api.crt (this node's TLS certificate, signed by api-ca.key);
  3. writes /etc/clusterd/clusterd.yaml from the flags (rewritten on every run);
  4. makes sshd trust the cluster SSH CA for root (a drop-in in /etc/ssh/sshd_config.d:
     TrustedUserCAKeys ssh-ca.pub, AuthorizedPrincipalsFile ssh-principals/%u listing
     clusterd-manager) and reloads sshd: the elected manager logs in with a certificate it
     signs itself for a few minutes, no key is shared between nodes;
     before that, installs the node gate (/usr/local/lib/clusterd/clusterd-gate and the sshd
     drop-in /etc/ssh/sshd_config.d/clusterd-fence.conf, see scripts/fence-gate.sh): every
     session of a manager certificate runs through it (the principal's forced command);
  5. starts clusterd: the systemd unit clusterd.service when systemd runs, else a supervisor
     (scripts/supervise.sh) that restarts the agent when it crashes, with its PID in
     /run/clusterd/supervisor.pid and the log in /var/log/clusterd/clusterd.log (rotated by
     the supervisor at 50 MiB: clusterd.log.1 ... clusterd.log.5);
  6. waits until a manager is elected (this node) and prints how to join more nodes.

join HOST:PORT...:
  Same steps, but the secrets must already be here, copied from a member (mode 0600; group-
  or other-readable secrets are refused). What a node holds depends on its role:
    manager-eligible (default): secret ssh-ca ssh-ca.pub api-ca.key api-ca.crt api-token
    --manager-eligible false:   secret ssh-ca.pub api-ca.crt   (a worker; it refuses to start
                                holding ssh-ca, api-ca.key, api-token or manager_ed25519, and
                                cannot serve --api-listen)
  HOST:PORT are seed members' gossip addresses (IPv4, [IPv6] or DNS name). Waits until this
  node is alive in the member list with at least one other member.

status:  exit 0 when clusterd is running here (then lists members and the manager), 6 when not.
stop:    SIGTERM to the supervisor (or `systemctl stop clusterd`); waits until the agent
         has left the cluster and exited.

Without systemd nothing starts clusterd at boot: run the same ./bootstrap.sh command again.

Flags (first node and join):
  --node-name NAME         this node's name (default: the host name, lowercased); 1-63
                           letters, digits, "." or "-"
  --listen IP:PORT         gossip listen address (default 0.0.0.0:7946)
  --advertise IP           address other members dial, with the listen port (default: the
                           --listen IP when it is not 0.0.0.0, else the first global IPv4
                           from `ip -4 -o addr show scope global`)
  --label KEY=VALUE        operator label, repeatable (e.g. --label rack=r1)
  --data-dir DIR           agent state directory (default /var/lib/clusterd)
  --manager-eligible BOOL  true|false: may this node become manager (default true)
  --api-listen IP:PORT     also serve the API over TCP with TLS (api.crt, from the cluster's
                           API CA), guarded by /etc/clusterd/api-token; manager-eligible
                           nodes only
  --no-install             do not run scripts/install-deps.sh (machine already set up)
  --prefix DIR             where clusterd is installed (default /opt/clusterd); also given
                           to status and stop when not the default
  -h, --help               this text

Exit status: 0 done; 1 failed (the message says why); 2 bad usage; 6 `status`: not running
(as clusterctl's 6, the agent cannot be reached; the table is docs/errors.md).

Environment (paths default as shown; tests point them into a temporary directory):
  CLUSTERD_ETC=/etc/clusterd            secrets and clusterd.yaml
  CLUSTERD_RUN=/run/clusterd            supervisor.pid, agent.pid, clusterd.sock (API socket)
  CLUSTERD_LOG_DIR=/var/log/clusterd    clusterd.log (supervised mode)
  CLUSTERD_SSHD_DROP_IN_DIR=/etc/ssh/sshd_config.d  where the sshd drop-in is written
  CLUSTERD_SSHD_BIN=/usr/sbin/sshd      sshd, to check its configuration and find its pid file
  CLUSTERD_SSHD_CONFIG=/etc/ssh/sshd_config   sshd's main configuration (which must include the drop-in)
  CLUSTERD_DATA_DIR=/var/lib/clusterd   default for --data-dir
  CLUSTERD_SYSTEMD_DIR=/etc/systemd/system   where clusterd.service is written
  CLUSTERD_INIT=auto                    auto|systemd|supervise (auto: systemd when
                                        /run/systemd/system exists)
  CLUSTERD_WAIT_SECONDS=60              how long to wait for a manager / the member list
  CLUSTERD_PREFIX=/opt/clusterd         default of --prefix
  CLUSTERD_BIN_DIR=/usr/local/bin       where the clusterd and clusterctl wrappers go
  CLUSTERD_NODE_BIN, CLUSTERD_JS, CLUSTERCTL_JS   run these (Node.js binary, clusterd and
                                        clusterctl entry points) instead of installing: when
                                        any is set nothing goes under --prefix (the unset ones
                                        default to this checkout's node_modules/.bin/node,
                                        bin/clusterd.js, bin/clusterctl.js)
  CLUSTERD_ALLOW_NON_ROOT=1             skip the root check (tests with private paths)
EOF
}

# ---------------------------------------------------------------- messages and checks

say () { printf 'bootstrap: %s\n' "$*"; }
warn () { printf 'bootstrap: warning: %s\n' "$*" >&2; }
die () { printf 'bootstrap: %s\n' "$*" >&2; exit 1; }
usage_error () { printf 'bootstrap: %s (try ./bootstrap.sh --help)\n' "$*" >&2; exit 2; }

# The name rules of protocol/names.ts in bash; test/unit/protocol/names.test.ts checks that
# bash accepts exactly what they accept.
NODE_NAME_RE='^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$'
LABEL_KEY_RE='^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$'
LABEL_VALUE_RE='^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$'
DNS_NAME_RE='^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$'

is_ipv4 () {
  local IFS=. octet
  [[ $1 =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || return 1
  for octet in $1; do [ "$((10#$octet))" -le 255 ] || return 1; done
}
# Loose on purpose: the agent checks IPv6 literals exactly; this catches typos and junk.
is_ipv6 () { [[ $1 == *:*:* && $1 =~ ^[0-9A-Fa-f:.]+$ && ${#1} -le 45 ]]; }
is_port () { [[ $1 =~ ^[0-9]{1,5}$ ]] && [ "$((10#$1))" -ge 1 ] && [ "$((10#$1))" -le 65535 ]; }

# split_host_port TEXT -> sets hp_host, hp_port (host without IPv6 brackets); 1 if malformed
split_host_port () {
  if [[ $1 =~ ^\[([^]]+)\]:([^:]*)$ ]]; then
    hp_host=${BASH_REMATCH[1]}; hp_port=${BASH_REMATCH[2]}
    is_ipv6 "$hp_host" || return 1
  elif [[ $1 =~ ^([^:]+):([^:]*)$ ]]; then
    hp_host=${BASH_REMATCH[1]}; hp_port=${BASH_REMATCH[2]}
  else
    return 1
  fi
  is_port "$hp_port" || return 1
}
# An address to listen on: an IP literal (0.0.0.0 and :: allowed).
check_listen_addr () { # FLAG VALUE
  split_host_port "$2" && { is_ipv4 "$hp_host" || is_ipv6 "$hp_host"; } \
    || usage_error "$1: expected IP:PORT with a port from 1 to 65535, e.g. 0.0.0.0:7946 or [::]:7946; got \"$2\""
}
format_host_port () { if [[ $1 == *:* ]]; then printf '[%s]:%s' "$1" "$2"; else printf '%s:%s' "$1" "$2"; fi; }

# A path from a flag or the environment: non-empty, one line; made absolute, because the
# agent resolves relative config paths against the config file's directory.
abs_path () { # WHAT VALUE
  [ -n "$2" ] || usage_error "$1: expected a path; got an empty string"
  [[ $2 != *$'\n'* ]] || usage_error "$1: the path contains a newline"
  realpath -m -s -- "$2"
}

# --------------------------------------------------------------------------- paths

REPO=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
ETC=$(abs_path CLUSTERD_ETC "${CLUSTERD_ETC:-/etc/clusterd}")
RUN_DIR=$(abs_path CLUSTERD_RUN "${CLUSTERD_RUN:-/run/clusterd}")
LOG_DIR=$(abs_path CLUSTERD_LOG_DIR "${CLUSTERD_LOG_DIR:-/var/log/clusterd}")
SSHD_CONFIG_DIR=$(abs_path CLUSTERD_SSHD_DROP_IN_DIR "${CLUSTERD_SSHD_DROP_IN_DIR:-/etc/ssh/sshd_config.d}")
DEFAULT_DATA_DIR=${CLUSTERD_DATA_DIR:-/var/lib/clusterd}
SSHD_BIN=$(abs_path CLUSTERD_SSHD_BIN "${CLUSTERD_SSHD_BIN:-/usr/sbin/sshd}")
SSHD_CONFIG=$(abs_path CLUSTERD_SSHD_CONFIG "${CLUSTERD_SSHD_CONFIG:-/etc/ssh/sshd_config}")
SYSTEMD_DIR=$(abs_path CLUSTERD_SYSTEMD_DIR "${CLUSTERD_SYSTEMD_DIR:-/etc/systemd/system}")
# The node gate of fencing: its paths, install_fence_gate and fence_key_options.
# shellcheck source=scripts/fence-gate.sh
. "$REPO/scripts/fence-gate.sh"
# A bootstrap run from a manager's session must not tag the agent it starts with that session's lease.
unset CLUSTERD_LEASE
# The programs bootstrap runs: the installed ones (set after the flags, from --prefix), or the
# ones these name (then nothing is installed).
if [ -n "${CLUSTERD_NODE_BIN:-}${CLUSTERD_JS:-}${CLUSTERCTL_JS:-}" ]; then
  install_tool=0
  NODE_BIN=$(abs_path CLUSTERD_NODE_BIN "${CLUSTERD_NODE_BIN:-$REPO/node_modules/.bin/node}")
  CLUSTERD_JS=$(abs_path CLUSTERD_JS "${CLUSTERD_JS:-$REPO/bin/clusterd.js}")
  CLUSTERCTL_JS=$(abs_path CLUSTERCTL_JS "${CLUSTERCTL_JS:-$REPO/bin/clusterctl.js}")
else
  install_tool=1
fi
INIT_MODE=${CLUSTERD_INIT:-auto}
WAIT_SECONDS=${CLUSTERD_WAIT_SECONDS:-60}

CONFIG_FILE="$ETC/clusterd.yaml"
SECRET_FILE="$ETC/secret"
LEGACY_SSH_KEY_FILE="$ETC/manager_ed25519"
SSH_CA_FILE="$ETC/ssh-ca"
SSH_CA_PUB_FILE="$ETC/ssh-ca.pub"
SSH_PRINCIPALS_DIR="$ETC/ssh-principals"
SSHD_DROPIN="$SSHD_CONFIG_DIR/clusterd-ca.conf"
API_CA_KEY_FILE="$ETC/api-ca.key"
API_CA_CERT_FILE="$ETC/api-ca.crt"
API_KEY_FILE="$ETC/api.key"
API_CERT_FILE="$ETC/api.crt"
API_TOKEN_FILE="$ETC/api-token"
SUPERVISOR_PID_FILE="$RUN_DIR/supervisor.pid"
AGENT_PID_FILE="$RUN_DIR/agent.pid"
API_SOCKET="$RUN_DIR/clusterd.sock"
LOG_FILE="$LOG_DIR/clusterd.log"
# Supervised mode: the supervisor rotates the log at this size, keeping this many old ones.
LOG_MAX_BYTES=$((50 * 1024 * 1024))
LOG_KEEP=5
UNIT_NAME=clusterd.service
UNIT_FILE="$SYSTEMD_DIR/$UNIT_NAME"
# What each kind of node holds (README, "Trust model"). A worker's files open no other node.
ELIGIBLE_SECRETS=(secret ssh-ca ssh-ca.pub api-ca.key api-ca.crt api-token)
WORKER_SECRETS=(secret ssh-ca.pub api-ca.crt)
WORKER_FORBIDDEN=(ssh-ca api-ca.key api-token api.key manager_ed25519)

case "$INIT_MODE" in auto|systemd|supervise) ;; *) usage_error "CLUSTERD_INIT: expected auto, systemd or supervise; got \"$INIT_MODE\"" ;; esac
[[ $WAIT_SECONDS =~ ^[1-9][0-9]{0,4}$ ]] || usage_error "CLUSTERD_WAIT_SECONDS: expected a number of seconds from 1 to 99999; got \"$WAIT_SECONDS\""
# Linux sun_path holds 108 bytes with the NUL.
[ "${#API_SOCKET}" -le 107 ] || usage_error "CLUSTERD_RUN: the API socket path $API_SOCKET is longer than 107 bytes"

# The installed tree and the wrappers: install_tree.
# shellcheck source=scripts/install-tree.sh
. "$REPO/scripts/install-tree.sh"
# SSH CA and API TLS: create_ssh_ca, create_api_ca, check_trust_files, issue_api_cert,
# trust_cluster_ssh_ca, check_role_flags.
# shellcheck source=scripts/cluster-trust.sh
. "$REPO/scripts/cluster-trust.sh"

# ---------------------------------------------------------------- command line

cmd=""
seeds=()
labels=()
label_keys=()
node_name=""
listen=""
advertise_ip=""
data_dir=""
manager_eligible=""
api_listen=""
no_install=0
prefix=""
start_flags=()   # flags given that only make sense when starting, for a clear error on status/stop

set_once () { # VAR FLAG VALUE
  [ -z "${!1}" ] || usage_error "$2 given more than once"
  [ -n "$3" ] || usage_error "$2: expected a value; got an empty string"
  printf -v "$1" '%s' "$3"
}

take_flag () { # FLAG VALUE
  start_flags+=("$1")
  case "$1" in
    --node-name)
      [[ $2 =~ $NODE_NAME_RE ]] || usage_error "--node-name: expected 1-63 letters, digits, \".\" or \"-\", starting and ending with a letter or digit; got \"$2\""
      set_once node_name "$1" "${2,,}" ;;
    --listen)
      check_listen_addr "$1" "$2"
      set_once listen "$1" "$2" ;;
    --advertise)
      is_ipv4 "$2" || is_ipv6 "$2" || usage_error "--advertise: expected an IP address (the listen port is added), e.g. 10.0.0.1; got \"$2\""
      [ "$2" != 0.0.0.0 ] && [[ ! $2 =~ ^[0:]+$ ]] || usage_error "--advertise: $2 cannot be dialled by other nodes; give this node's address"
      set_once advertise_ip "$1" "$2" ;;
    --label)
      [[ $2 == *=* ]] || usage_error "--label: expected KEY=VALUE, e.g. rack=r1; got \"$2\""
      local key=${2%%=*} value=${2#*=} k
      [[ $key =~ $LABEL_KEY_RE ]] || usage_error "--label: key \"$key\" is invalid: expected 1-63 letters, digits, \".\", \"_\", \"-\" or \"/\", starting and ending with a letter or digit"
      [[ $value =~ $LABEL_VALUE_RE ]] || usage_error "--label: value \"$value\" for key \"$key\" is invalid: expected up to 63 letters, digits, \".\", \"_\" or \"-\", starting and ending with a letter or digit"
      for k in "${label_keys[@]}"; do
        [ "$k" != "$key" ] || usage_error "--label: key \"$key\" given more than once"
      done
      label_keys+=("$key"); labels+=("$value") ;;
    --data-dir)
      [ -n "$2" ] && [[ $2 != *$'\n'* ]] || usage_error "--data-dir: expected a path on one line; got \"$2\""
      set_once data_dir "$1" "$(abs_path --data-dir "$2")" ;;
    --manager-eligible)
      [ "$2" = true ] || [ "$2" = false ] || usage_error "--manager-eligible: expected true or false; got \"$2\""
      set_once manager_eligible "$1" "$2" ;;
    --api-listen)
      check_listen_addr "$1" "$2"
      set_once api_listen "$1" "$2" ;;
  esac
}

while [ $# -gt 0 ]; do
  arg=$1; shift
  case "$arg" in
    -h|--help|help) usage; exit 0 ;;
    --no-install) no_install=1; start_flags+=("$arg") ;;
    --prefix)
      [ $# -gt 0 ] && [[ $1 != --* ]] || usage_error "$arg needs a value"
      set_once prefix "$arg" "$1"; shift ;;
    --prefix=*) set_once prefix --prefix "${arg#*=}" ;;
    --node-name|--listen|--advertise|--label|--data-dir|--manager-eligible|--api-listen)
      [ $# -gt 0 ] && [[ $1 != --* ]] || usage_error "$arg needs a value"
      take_flag "$arg" "$1"; shift ;;
    --node-name=*|--listen=*|--advertise=*|--label=*|--data-dir=*|--manager-eligible=*|--api-listen=*)
      take_flag "${arg%%=*}" "${arg#*=}" ;;
    --no-install=*) usage_error "--no-install takes no value" ;;
    -*) usage_error "unknown flag: $arg" ;;
    *)
      if [ -z "$cmd" ]; then
        case "$arg" in
          init|join|status|stop) cmd=$arg ;;
          *:*) usage_error "unknown command: \"$arg\" (to join a cluster: ./bootstrap.sh join $arg)" ;;
          *) usage_error "unknown command: \"$arg\" (commands: join, status, stop; none for the first node)" ;;
        esac
      elif [ "$cmd" = join ]; then
        split_host_port "$arg" && { is_ipv4 "$hp_host" || is_ipv6 "$hp_host" || [[ $hp_host =~ $DNS_NAME_RE ]]; } \
          || usage_error "join: expected seed addresses HOST:PORT, e.g. 10.0.0.1:7946 or [fd00::1]:7946; got \"$arg\""
        { [ "$hp_host" != 0.0.0.0 ] && [[ ! $hp_host =~ ^[0:]+$ ]]; } || usage_error "join: $arg cannot be dialled; give a member's address"
        seeds+=("$arg")
      else
        usage_error "$cmd takes no arguments; got \"$arg\""
      fi ;;
  esac
done
[ -n "$cmd" ] || cmd=init
if [ "$cmd" = join ] && [ "${#seeds[@]}" -eq 0 ]; then
  usage_error "join needs at least one seed member HOST:PORT, e.g. ./bootstrap.sh join 10.0.0.1:7946"
fi
if { [ "$cmd" = status ] || [ "$cmd" = stop ]; } && [ "${#start_flags[@]}" -gt 0 ]; then
  usage_error "$cmd takes no flags; got ${start_flags[0]}"
fi
PREFIX=$(abs_path --prefix "${prefix:-${CLUSTERD_PREFIX:-/opt/clusterd}}")
[[ $PREFIX =~ ^/[A-Za-z0-9/._+-]*$ ]] || usage_error "--prefix: expected a path of letters, digits and / . _ + -; got \"$PREFIX\""
# APP: the tree the agent runs from (its playbooks, the supervisor script).
if [ "$install_tool" -eq 1 ]; then
  APP="$PREFIX/current"
  NODE_BIN="$APP/node_modules/.bin/node"
  CLUSTERD_JS="$APP/bin/clusterd.js"
  CLUSTERCTL_JS="$APP/bin/clusterctl.js"
else
  APP=$REPO
fi

# ---------------------------------------------------------------- helpers

ensure_root () {
  if [ "$(id -u)" -ne 0 ] && [ "${CLUSTERD_ALLOW_NON_ROOT:-}" != 1 ]; then
    die "must run as root (it writes $ETC, $SSHD_DROPIN and starts a system service)"
  fi
}

init_mode () {
  case "$INIT_MODE" in
    auto) if [ -d /run/systemd/system ]; then echo systemd; else echo supervise; fi ;;
    *) echo "$INIT_MODE" ;;
  esac
}

# Alive = /proc/PID exists and is not a zombie (PID 1 may reap orphans late).
proc_alive () {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  case "${stat%% *}" in Z|X) return 1 ;; *) return 0 ;; esac
}

# Prints the supervisor's PID when the pid file names a live supervisor for this pid file.
# The command line check makes a stale pid file whose PID was reused harmless.
supervisor_pid () {
  local pid cmdline
  [ -f "$SUPERVISOR_PID_FILE" ] || return 1
  pid=$(head -n1 "$SUPERVISOR_PID_FILE" 2>/dev/null) || return 1
  [[ $pid =~ ^[1-9][0-9]*$ ]] || return 1
  proc_alive "$pid" || return 1
  cmdline=$(tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
  grep -q 'supervise\.sh$' <<<"$cmdline" || return 1
  grep -Fxq -- "$SUPERVISOR_PID_FILE" <<<"$cmdline" || return 1
  printf '%s\n' "$pid"
}

agent_pid () {
  local pid
  pid=$(head -n1 "$AGENT_PID_FILE" 2>/dev/null) || return 1
  [[ $pid =~ ^[1-9][0-9]*$ ]] && proc_alive "$pid" && printf '%s\n' "$pid"
}

is_running () {
  if [ "$(init_mode)" = systemd ]; then
    systemctl is-active --quiet "$UNIT_NAME"
  else
    supervisor_pid > /dev/null
  fi
}

clusterctl () { "$NODE_BIN" "$CLUSTERCTL_JS" --addr "$API_SOCKET" --timeout 5 "$@"; }

# Prints the elected manager as JSON ({name, peerId, epoch, since, local}); fails if none yet.
manager_json () { clusterctl manager -o json 2>/dev/null; }

# JSON on stdin -> the field named $1 of the top-level object (empty if missing).
json_field () {
  "$NODE_BIN" -e '
    const d = JSON.parse(require("node:fs").readFileSync(0, "utf8"))
    const v = d === null || typeof d !== "object" ? undefined : d[process.argv[1]]
    process.stdout.write(v === undefined || v === null ? "" : String(v))
  ' -- "$1"
}

# `clusterctl members -o json` on stdin -> "<self alive: 0|1> <other alive members>".
members_summary () {
  "$NODE_BIN" -e '
    const list = JSON.parse(require("node:fs").readFileSync(0, "utf8"))
    const me = process.argv[1]
    const alive = Array.isArray(list) ? list.filter(m => m && m.status === "alive") : []
    const self = alive.some(m => m.name === me) ? 1 : 0
    process.stdout.write(`${self} ${alive.filter(m => m.name !== me).length}`)
  ' -- "$1"
}

file_mode () { stat -L -c '%a' -- "$1"; }

# A secret must be a regular file that only its owner can read.
check_secret_file () { # FILE
  local mode
  [ -f "$1" ] || die "$1 is not a regular file"
  mode=$(file_mode "$1")
  if (( 8#$mode & 8#077 )); then
    die "$1 has mode $mode: secrets must not be readable by group or others; fix with: chmod 600 $(printf '%q' "$1")"
  fi
}

yaml_quote () { # a YAML double-quoted scalar
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

# Writes FILE (atomically) from stdin unless it already has exactly that content; returns 0
# if it changed, 1 if not. Call it with a here-string, not in a pipeline: a failure must end
# the script, not read as "unchanged".
write_if_changed () { # FILE MODE
  local tmp
  tmp=$(mktemp "$1.tmp.XXXXXX") || die "cannot write $1"
  cat > "$tmp" || die "cannot write $tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f -- "$tmp"; return 1; fi
  chmod "$2" "$tmp" && mv -f -- "$tmp" "$1" || die "cannot write $1"
}

log_tail () {
  if [ "$(init_mode)" = systemd ]; then
    journalctl -u "$UNIT_NAME" -n 20 --no-pager >&2 || true
  elif [ -f "$LOG_FILE" ]; then
    printf 'bootstrap: last lines of %s:\n' "$LOG_FILE" >&2
    tail -n 20 "$LOG_FILE" >&2 || true
  fi
}

# ---------------------------------------------------------------- steps

install_deps () {
  if [ "$no_install" -eq 0 ]; then
    say "installing what is missing (scripts/install-deps.sh)"
    "$REPO/scripts/install-deps.sh"
  fi
  if [ "$install_tool" -eq 1 ]; then
    [ -x "$REPO/node_modules/.bin/node" ] || die "Node.js 22 is missing at $REPO/node_modules/.bin/node: run $REPO/scripts/install-deps.sh (or drop --no-install)"
    [ -f "$REPO/dist/bundle/clusterd.js" ] || die "clusterd is not built ($REPO/dist/bundle is missing): run $REPO/scripts/install-deps.sh (or drop --no-install)"
    install_tree
  fi
  [ -x "$NODE_BIN" ] || die "Node.js 22 is missing at $NODE_BIN: run $REPO/scripts/install-deps.sh (or drop --no-install)"
  [ -f "$CLUSTERD_JS" ] && [ -f "$CLUSTERCTL_JS" ] || die "clusterd is not installed at $CLUSTERD_JS: run $REPO/scripts/install-deps.sh (or drop --no-install)"
  # bin/*.js run the bundles `npm run build` writes to dist/bundle/.
  if [ "$CLUSTERD_JS" = "$REPO/bin/clusterd.js" ] && [ ! -f "$REPO/dist/bundle/clusterd.js" ]; then
    die "clusterd is not built ($REPO/dist is missing): run $REPO/scripts/install-deps.sh (or drop --no-install)"
  fi
  command -v ssh-keygen > /dev/null || die "ssh-keygen is missing: install openssh-client (or drop --no-install)"
  command -v openssl > /dev/null || die "openssl is missing: install openssl (or drop --no-install)"
  [ -x "$SSHD_BIN" ] || die "sshd is missing at $SSHD_BIN: install openssh-server (or drop --no-install); the manager reaches nodes over SSH"
}

prepare_etc () {
  mkdir -p -- "$ETC"
  chmod 0700 -- "$ETC"
}

create_secrets () {
  prepare_etc
  if [ -e "$SECRET_FILE" ]; then
    check_secret_file "$SECRET_FILE"; say "keeping the existing cluster secret $SECRET_FILE"
  else
    "$NODE_BIN" "$CLUSTERD_JS" keygen "$SECRET_FILE" > /dev/null
    say "created the cluster secret $SECRET_FILE"
  fi
  create_ssh_ca
  create_api_ca

  if [ -e "$API_TOKEN_FILE" ]; then
    check_secret_file "$API_TOKEN_FILE"; say "keeping the existing API token $API_TOKEN_FILE"
  else
    # 32 random bytes as 64 hex digits; noclobber makes a concurrent run fail, not overwrite.
    ( set -o noclobber; od -An -vtx1 -N32 /dev/urandom | tr -d ' \n' > "$API_TOKEN_FILE"; echo >> "$API_TOKEN_FILE" )
    chmod 0600 "$API_TOKEN_FILE"
    say "created the API token $API_TOKEN_FILE"
  fi
  check_trust_files
}

require_secrets () {
  local name missing=() needed
  if [ "$manager_eligible" = true ]; then needed=("${ELIGIBLE_SECRETS[@]}"); else needed=("${WORKER_SECRETS[@]}"); fi
  for name in "${needed[@]}"; do [ -e "$ETC/$name" ] || missing+=("$ETC/$name"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    die "missing cluster secret ${missing[0]}$([ "${#missing[@]}" -gt 1 ] && printf ' (and %s more)' "$((${#missing[@]} - 1))"): a $([ "$manager_eligible" = true ] && echo manager-eligible || echo worker) node needs ${needed[*]} from /etc/clusterd on a member in $ETC here, mode 0600 (./bootstrap.sh on the first node printed a tar | ssh command for it)"
  fi
  if [ "$manager_eligible" = false ]; then
    # Least privilege: a worker holds nothing that opens or drives another node.
    for name in "${WORKER_FORBIDDEN[@]}"; do
      [ ! -e "$ETC/$name" ] || die "$ETC/$name is here, but this node is not manager-eligible: a worker must not hold it (it would open or drive other nodes). Remove it: rm $(printf '%q' "$ETC/$name")"
    done
  fi
  for name in "${needed[@]}"; do check_secret_file "$ETC/$name"; done
  chmod 0700 -- "$ETC"
  check_trust_files
}

resolve_node_name () {
  [ -z "$node_name" ] || return 0
  local host
  host=$(cat /proc/sys/kernel/hostname 2>/dev/null || hostname)
  [[ $host =~ $NODE_NAME_RE ]] || usage_error "the host name \"$host\" is not a valid node name; pass --node-name NAME"
  node_name=${host,,}
}

resolve_addresses () {
  [ -n "$listen" ] || listen=0.0.0.0:7946
  [ -n "$data_dir" ] || data_dir=$(abs_path CLUSTERD_DATA_DIR "$DEFAULT_DATA_DIR")
  [ -n "$manager_eligible" ] || manager_eligible=true
  split_host_port "$listen"
  listen_host=$hp_host
  listen_port=$hp_port
  if [ -z "$advertise_ip" ]; then
    if [ "$listen_host" != 0.0.0.0 ] && [[ ! $listen_host =~ ^[0:]+$ ]]; then
      advertise_ip=$listen_host
    else
      local out line addr
      out=$(ip -4 -o addr show scope global 2>/dev/null || true)
      while read -r line; do
        addr=$(awk '{ print $4 }' <<<"$line"); addr=${addr%%/*}
        if is_ipv4 "$addr"; then advertise_ip=$addr; break; fi
      done <<<"$out"
      [ -n "$advertise_ip" ] || die "found no global IPv4 address to advertise (ip -4 -o addr show scope global); pass --advertise IP"
    fi
  fi
  advertise=$(format_host_port "$advertise_ip" "$listen_port")
}

write_config () {
  local i content changed=0
  content=$(
    echo "# Written by bootstrap.sh ($cmd) on every run; keys are the flags of \`clusterd agent\`."
    echo "node-name: $(yaml_quote "$node_name")"
    echo "listen: $(yaml_quote "$listen")"
    echo "advertise: $(yaml_quote "$advertise")"
    if [ "${#seeds[@]}" -gt 0 ]; then
      echo "join:"
      for i in "${seeds[@]}"; do echo "  - $(yaml_quote "$i")"; done
    fi
    echo "data-dir: $(yaml_quote "$data_dir")"
    echo "secret-file: $(yaml_quote "$SECRET_FILE")"
    # Only manager-eligible nodes hold the SSH CA key the elected manager signs itself certificates with.
    [ "$manager_eligible" = false ] || echo "ssh-ca-key-file: $(yaml_quote "$SSH_CA_FILE")"
    # Every node: eligibility counts only when this CA attests it (README, "Trust model").
    echo "ssh-ca-pub-file: $(yaml_quote "$SSH_CA_PUB_FILE")"
    echo "api-socket: $(yaml_quote "$API_SOCKET")"
    if [ -n "$api_listen" ]; then
      echo "api-listen: $(yaml_quote "$api_listen")"
      echo "api-token-file: $(yaml_quote "$API_TOKEN_FILE")"
      echo "api-tls-cert: $(yaml_quote "$API_CERT_FILE")"
      echo "api-tls-key: $(yaml_quote "$API_KEY_FILE")"
    fi
    echo "playbook-dir: $(yaml_quote "$APP/playbooks")"
    echo "manager-eligible: $manager_eligible"
    if [ "${#label_keys[@]}" -gt 0 ]; then
      echo "label:"
      for i in "${!label_keys[@]}"; do echo "  $(yaml_quote "${label_keys[$i]}"): $(yaml_quote "${labels[$i]}")"; done
    fi
  )
  write_if_changed "$CONFIG_FILE" 0600 <<<"$content" && changed=1
  if [ "$changed" -eq 1 ]; then say "wrote $CONFIG_FILE"; else say "$CONFIG_FILE is up to date"; fi
  config_changed=$changed
}

start_systemd () {
  command -v systemctl > /dev/null || die "CLUSTERD_INIT=systemd but systemctl is missing"
  local path tpl unit
  for path in "$NODE_BIN" "$CLUSTERD_JS" "$CONFIG_FILE" "$APP"; do
    [[ $path =~ ^[A-Za-z0-9/._+-]+$ ]] || die "cannot write a systemd unit for the path \"$path\": use a path of letters, digits and / . _ + -"
  done
  tpl=$(cat "$REPO/scripts/clusterd.service")
  unit=${tpl//@NODE@/"$NODE_BIN"}
  unit=${unit//@CLUSTERD_JS@/"$CLUSTERD_JS"}
  unit=${unit//@CONFIG@/"$CONFIG_FILE"}
  unit=${unit//@APP@/"$APP"}
  [ -d "$SYSTEMD_DIR" ] || { mkdir -p -- "$SYSTEMD_DIR"; chmod 0755 -- "$SYSTEMD_DIR"; }
  if write_if_changed "$UNIT_FILE" 0644 <<<"$unit"; then
    say "wrote $UNIT_FILE"
    systemctl daemon-reload
    config_changed=1
  fi
  systemctl enable --quiet "$UNIT_NAME"
  if systemctl is-active --quiet "$UNIT_NAME"; then
    say "clusterd is already running ($UNIT_NAME)"
    [ "$config_changed" -eq 0 ] || warn "the configuration or the installed version changed; apply it with: systemctl restart $UNIT_NAME"
  else
    systemctl start "$UNIT_NAME"
    say "started $UNIT_NAME"
  fi
}

start_supervised () {
  local pid lock deadline
  mkdir -p -- "$RUN_DIR" "$LOG_DIR"
  chmod 0755 -- "$RUN_DIR"
  # One bootstrap at a time may decide to start the agent.
  exec {lock}> "$RUN_DIR/bootstrap.lock"
  flock -w 30 "$lock" || die "another bootstrap.sh holds $RUN_DIR/bootstrap.lock"
  if pid=$(supervisor_pid); then
    say "clusterd is already running (supervisor pid $pid)"
    [ "$config_changed" -eq 0 ] || warn "the configuration or the installed version changed; apply it with: ./bootstrap.sh stop, then run this command again"
    exec {lock}>&-
    return 0
  fi
  rm -f -- "$SUPERVISOR_PID_FILE" "$AGENT_PID_FILE"
  if [ -S "$API_SOCKET" ] && clusterctl members -o json > /dev/null 2>&1; then
    die "an agent not started by bootstrap.sh already answers on $API_SOCKET; stop it first"
  fi
  # Detached: own session, no terminal, stdin from /dev/null, not holding our lock.
  setsid -f "$BASH" "$APP/scripts/supervise.sh" \
    --pid-file "$SUPERVISOR_PID_FILE" --child-pid-file "$AGENT_PID_FILE" \
    --log-file "$LOG_FILE" --log-max-bytes "$LOG_MAX_BYTES" --log-keep "$LOG_KEEP" -- \
    "$NODE_BIN" "$CLUSTERD_JS" agent --config "$CONFIG_FILE" \
    < /dev/null >> "$LOG_FILE" 2>&1 {lock}>&-
  deadline=$((SECONDS + 10))
  until pid=$(supervisor_pid); do
    [ "$SECONDS" -lt "$deadline" ] || { log_tail; die "the supervisor did not start"; }
    sleep 0.1
  done
  exec {lock}>&-
  say "started clusterd (supervisor pid $pid, log $LOG_FILE)"
}

start_agent () {
  config_changed=${config_changed:-0}
  # A new installed version runs after a restart, like a new configuration.
  [ "${tree_changed:-0}" -eq 0 ] || config_changed=1
  if [ "$(init_mode)" = systemd ]; then start_systemd; else start_supervised; fi
}

# Polls CHECK (a function name) once a second until it succeeds or WAIT_SECONDS pass.
wait_until () { # DESCRIPTION CHECK
  local deadline=$((SECONDS + WAIT_SECONDS)) started=$SECONDS next_note=$((SECONDS + 5))
  say "waiting up to ${WAIT_SECONDS}s for $1"
  while :; do
    if "$2"; then return 0; fi
    if ! is_running; then log_tail; die "clusterd stopped while waiting for $1"; fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log_tail
      die "gave up after ${WAIT_SECONDS}s waiting for $1 (status: ./bootstrap.sh status)"
    fi
    if [ "$SECONDS" -ge "$next_note" ]; then
      say "still waiting for $1 ($((SECONDS - started))s)"
      next_note=$((SECONDS + 5))
    fi
    sleep 1
  done
}

manager_name=""
check_manager () {
  local json
  json=$(manager_json) || return 1
  manager_name=$(json_field name <<<"$json") || return 1
  [ -n "$manager_name" ]
}

check_self_alive () {
  local json summary
  json=$(clusterctl members -o json 2>/dev/null) || return 1
  summary=$(members_summary "$node_name" <<<"$json") || return 1
  [ "${summary%% *}" = 1 ]
}

check_joined () {
  local json summary
  json=$(clusterctl members -o json 2>/dev/null) || return 1
  summary=$(members_summary "$node_name" <<<"$json") || return 1
  [ "${summary%% *}" = 1 ] && [ "${summary#* }" -ge 1 ]
}

print_join_help () {
  local etc_q
  etc_q=$(printf '%q' "$ETC")
  cat <<EOF

To add a node: copy the cluster files it needs to it (as root; tar keeps their 0600 modes),
then run the join command there from a checkout of this repository.

A worker (never manager; holds nothing that opens another node):

  tar -C $etc_q -cf - ${WORKER_SECRETS[*]} | ssh root@NEW_NODE 'umask 077 && mkdir -p $etc_q && tar -C $etc_q -xpf -'
  ssh root@NEW_NODE 'cd /path/to/clusterd && ./bootstrap.sh join $advertise --manager-eligible false'

A manager-eligible node (holds the cluster CA keys and the API token: give it only to nodes
you trust like this one):

  tar -C $etc_q -cf - ${ELIGIBLE_SECRETS[*]} | ssh root@NEW_NODE 'umask 077 && mkdir -p $etc_q && tar -C $etc_q -xpf -'
  ssh root@NEW_NODE 'cd /path/to/clusterd && ./bootstrap.sh join $advertise'

(or copy those files from $etc_q by any other private means)
EOF
}

# ---------------------------------------------------------------- commands

cmd_init_or_join () {
  ensure_root
  resolve_node_name
  resolve_addresses
  check_role_flags
  install_deps
  if [ "$cmd" = join ]; then require_secrets; else create_secrets; fi
  write_config
  [ -z "$api_listen" ] || issue_api_cert
  install_fence_gate "$data_dir"
  trust_cluster_ssh_ca
  start_agent
  if [ "$cmd" = join ]; then
    wait_until "this node to be alive in the member list with at least one other member" check_joined
    say "joined the cluster as $node_name ($advertise)"
    clusterctl members || true
    if check_manager; then say "manager: $manager_name"; else say "no manager is elected yet"; fi
    return 0
  fi
  if [ "$manager_eligible" = false ]; then
    warn "this node is not manager-eligible: no manager until an eligible node joins"
    wait_until "this node to be alive in the member list" check_self_alive
    say "clusterd is running as $node_name ($advertise)"
  else
    wait_until "a manager to be elected" check_manager
    if [ "$manager_name" = "$node_name" ]; then
      say "this node ($node_name, $advertise) is the manager"
    else
      say "the manager is $manager_name (this node is $node_name, $advertise)"
    fi
  fi
  print_join_help
}

cmd_status () {
  local mode pid apid
  mode=$(init_mode)
  if [ "$mode" = systemd ]; then
    if ! systemctl is-active --quiet "$UNIT_NAME"; then say "clusterd is not running ($UNIT_NAME is inactive)"; exit 6; fi
    say "clusterd is running ($UNIT_NAME)"
  else
    if ! pid=$(supervisor_pid); then say "clusterd is not running (no live supervisor in $SUPERVISOR_PID_FILE)"; exit 6; fi
    if apid=$(agent_pid); then
      say "clusterd is running (supervisor pid $pid, agent pid $apid, log $LOG_FILE)"
    else
      say "the supervisor is running (pid $pid) but the agent is not: it is restarting (log $LOG_FILE)"
    fi
  fi
  clusterctl members || warn "the agent API at $API_SOCKET did not answer"
  clusterctl manager || true
}

cmd_stop () {
  ensure_root
  local pid deadline
  if [ "$(init_mode)" = systemd ]; then
    systemctl stop "$UNIT_NAME"
    say "stopped $UNIT_NAME"
    return 0
  fi
  if ! pid=$(supervisor_pid); then
    say "clusterd is not running"
    return 0
  fi
  say "stopping clusterd (supervisor pid $pid): the agent leaves the cluster"
  kill -TERM "$pid"
  # The agent gives itself 10 s; the supervisor SIGKILLs it after 30 s.
  deadline=$((SECONDS + 45))
  while proc_alive "$pid"; do
    [ "$SECONDS" -lt "$deadline" ] || die "the supervisor (pid $pid) did not exit within 45s"
    sleep 0.2
  done
  say "stopped"
}

case "$cmd" in
  init|join) cmd_init_or_join ;;
  status) cmd_status ;;
  stop) cmd_stop ;;
esac
