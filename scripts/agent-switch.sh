#!/usr/bin/env bash
# Switches a node's clusterd to an installed tree and restarts the agent; rolls back when the
# new agent does not report the expected version in time. Run on the node by the manager's
# agent-upgrade playbook (playbooks/agent-upgrade.yml), from the NEW tree, after the release
# archive was checked and unpacked into PREFIX/versions/TREE.
#
#   agent-switch.sh --prefix PREFIX --tree TREE --version V --attempt ID
#                   [--socket API_SOCKET] [--supervisor-pid-file FILE] [--unit NAME] [--deadline S]
#
# The work runs detached (its own session, setsid) and this process waits for its result:
# restarting the agent of the manager's own node ends the manager's SSH session, and the
# switch must carry on and roll back by itself. The result of an attempt is kept in
# PREFIX/agent-switch/ID.result ("ok ..." or "failed ..."), so the next manager, running the
# same job's step again, gets it instead of switching twice.
#
# The worker, under PREFIX/agent-switch/lock:
#   1. notes the running agent's pid (GET /v1/diagnostics on the API socket), and fills Node's
#      compile cache for the new tree (`clusterd compile-cache`, its output in the attempt's log);
#   2. points PREFIX/previous at what `current` was and `current` at versions/TREE (each by one
#      rename: a reader never sees a missing link);
#   3. restarts the agent: `systemctl restart UNIT` when that unit is active, else SIGUSR1 to
#      the supervisor (scripts/supervise.sh restarts the command, which runs PREFIX/current);
#   4. polls the socket until an agent with another pid reports V; past --deadline seconds it
#      points `current` back, restarts again and records the failure.
# Exit status: 0 when the agent reports V, 1 when it did not (rolled back), 2 on bad usage.
set -uo pipefail

die () { echo "agent-switch: $1" >&2; exit 2; }

prefix="" tree="" version="" attempt="" socket=/run/clusterd/clusterd.sock
pid_file=/run/clusterd/supervisor.pid unit=clusterd deadline=120 worker=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix|--tree|--version|--attempt|--socket|--supervisor-pid-file|--unit|--deadline)
      [ $# -ge 2 ] || die "$1 needs a value"
      case "$1" in
        --prefix) prefix=$2 ;; --tree) tree=$2 ;; --version) version=$2 ;; --attempt) attempt=$2 ;;
        --socket) socket=$2 ;; --supervisor-pid-file) pid_file=$2 ;; --unit) unit=$2 ;; --deadline) deadline=$2 ;;
      esac
      shift 2 ;;
    --worker) worker=1; shift ;;
    *) die "unknown argument: $1" ;;
  esac
done
[[ $prefix =~ ^/[A-Za-z0-9/._+-]*$ ]] || die "--prefix: expected an absolute path of letters, digits and / . _ + -; got \"$prefix\""
[[ $tree =~ ^[A-Za-z0-9.+-]+-[0-9a-f]{12}$ ]] || die "--tree: expected VERSION-HASH; got \"$tree\""
[[ $version =~ ^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$ ]] || die "--version: expected a version like 1.2.3; got \"$version\""
[[ $attempt =~ ^[A-Za-z0-9._-]{1,100}$ ]] || die "--attempt: expected an id of letters, digits and . _ -; got \"$attempt\""
[[ $deadline =~ ^[1-9][0-9]{0,4}$ ]] || die "--deadline: expected a positive number of seconds; got \"$deadline\""
[[ $unit =~ ^[A-Za-z0-9@._-]+$ ]] || die "--unit: unexpected unit name \"$unit\""
[ -d "$prefix/versions/$tree" ] || die "$prefix/versions/$tree is not installed"

state="$prefix/agent-switch"
result="$state/$attempt.result"
mkdir -p -- "$state" && chmod 0700 -- "$state" || die "cannot create $state"

# The agent's pid and version as its API reports them ("PID VERSION"), or nothing.
agent_identity () {
  "$prefix/versions/$tree/node_modules/.bin/node" -e '
    const req = require("node:http").get({ socketPath: process.argv[1], path: "/v1/diagnostics", timeout: 3000 }, res => {
      let body = ""; res.setEncoding("utf8"); res.on("data", d => { body += d })
      res.on("end", () => { try { const d = JSON.parse(body); if (Number.isInteger(d.pid) && typeof d.version === "string") console.log(d.pid + " " + d.version) } catch {} })
    })
    req.on("timeout", () => req.destroy()); req.on("error", () => {})' "$socket" 2>/dev/null
}

# Points LINK (current or previous) at TARGET by one rename.
point () { # LINK TARGET
  ln -sfn -- "$2" "$prefix/$1.tmp" && mv -Tf -- "$prefix/$1.tmp" "$prefix/$1"
}

# How the agent is restarted here: "systemd", or "supervisor PID" for a supervise.sh that
# restarts on SIGUSR1 (one from before that would die of the signal and leave the agent
# unsupervised); else why not, with status 1. Asked before anything is switched.
restart_method () {
  local pid script=""
  if command -v systemctl > /dev/null && systemctl is-active --quiet "$unit" 2>/dev/null; then echo systemd; return 0; fi
  pid=$(head -n1 "$pid_file" 2>/dev/null) || { echo "no supervisor pid file $pid_file and no active $unit unit"; return 1; }
  [[ $pid =~ ^[1-9][0-9]*$ ]] && [ -d "/proc/$pid" ] || { echo "the supervisor pid file $pid_file names no running process"; return 1; }
  while IFS= read -r -d '' arg; do [[ $arg == */supervise.sh ]] && { script=$arg; break; }; done < "/proc/$pid/cmdline"
  [ -n "$script" ] || { echo "process $pid (from $pid_file) is not supervise.sh"; return 1; }
  grep -q "on_restart" "$script" 2>/dev/null || { echo "the supervisor (pid $pid, $script) predates restarts on SIGUSR1: restart clusterd by hand once (bootstrap.sh stop, then start)"; return 1; }
  echo "supervisor $pid"
}

restart_agent () { # METHOD (from restart_method)
  case "$1" in
    systemd) systemctl restart "$unit" ;;
    supervisor\ *) kill -USR1 "${1#supervisor }" || { echo "cannot signal the supervisor (pid ${1#supervisor })"; return 1; } ;;
  esac
}

# Polls until an agent other than OLD_PID reports VERSION, up to SECONDS.
await_version () { # OLD_PID VERSION SECONDS
  local end=$((SECONDS + $3)) id
  while [ "$SECONDS" -lt "$end" ]; do
    id=$(agent_identity)
    if [ -n "$id" ] && [ "${id%% *}" != "$1" ] && [ "${id#* }" = "$2" ]; then return 0; fi
    sleep 1
  done
  return 1
}

# Writes the attempt's result by one rename: the waiting side never reads half of it.
record () { # LINE
  printf '%s\n' "$1" > "$result.tmp" && mv -f -- "$result.tmp" "$result"
}

work () {
  local was old_pid id why method
  [ -e "$result" ] && return 0
  id=$(agent_identity); old_pid=${id%% *}
  was=$(readlink "$prefix/current" 2>/dev/null) || was=""
  if [ "$was" = "versions/$tree" ] && [ -n "$id" ] && [ "${id#* }" = "$version" ]; then
    record "ok the agent already runs $version (pid $old_pid)"; return 0
  fi
  if ! method=$(restart_method); then record "failed cannot restart the agent here: $method (nothing was switched)"; return 0; fi
  # Node's compile cache for the new tree (the agent's default, /var/cache/clusterd for root),
  # as install-tree.sh fills it: the new agent's first start loads as fast as a restart. Only
  # ever saves time, so a failure is logged and the switch goes on.
  "$prefix/versions/$tree/node_modules/.bin/node" "$prefix/versions/$tree/bin/clusterd.js" compile-cache \
    || echo "agent-switch: could not fill the compile cache for versions/$tree; its first start compiles the code"
  if [ "$was" != "versions/$tree" ]; then
    [ -n "$was" ] && point previous "$was"
    point current "versions/$tree" || { record "failed cannot point $prefix/current at versions/$tree"; return 0; }
  fi
  if ! why=$(restart_agent "$method"); then
    [ -n "$was" ] && [ "$was" != "versions/$tree" ] && point current "$was"
    record "failed cannot restart the agent: $why"; return 0
  fi
  if await_version "${old_pid:-none}" "$version" "$deadline"; then
    record "ok the agent reports $version"; return 0
  fi
  if [ -n "$was" ] && [ "$was" != "versions/$tree" ]; then
    point current "$was"; point previous "versions/$tree"
    restart_agent "$method" > /dev/null
    record "failed the agent did not report $version within ${deadline}s; rolled $prefix/current back to $was and restarted it"
  else
    record "failed the agent did not report $version within ${deadline}s (nothing to roll back to)"
  fi
}

if [ "$worker" -eq 1 ]; then
  exec 9> "$state/lock" || exit 1
  flock 9 || exit 1
  work
  exit 0
fi

if [ ! -e "$result" ]; then
  # A clean environment: the session's node lease tag (CLUSTERD_LEASE) would have the restarted
  # agent's lease sweeper end the worker when the manager's lease ends (a new manager, or the
  # release after this step); setsid -f leaves it no tagged parent either. Started under a
  # live lease, it finishes its one switch on its own.
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin setsid -f "$BASH" "$0" --worker --prefix "$prefix" --tree "$tree" --version "$version" --attempt "$attempt" \
    --socket "$socket" --supervisor-pid-file "$pid_file" --unit "$unit" --deadline "$deadline" \
    < /dev/null >> "$state/$attempt.log" 2>&1
fi
# The worker's deadline, two restarts and the lock held by an earlier worker: bounded.
end=$((SECONDS + 2 * deadline + 120))
until [ -e "$result" ]; do
  [ "$SECONDS" -lt "$end" ] || { echo "agent-switch: no result after $((2 * deadline + 120))s; see $state/$attempt.log" >&2; exit 1; }
  sleep 1
done
read -r outcome rest < "$result"
echo "$rest"
[ "$outcome" = ok ]
