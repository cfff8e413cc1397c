#!/usr/bin/env bash
# Keeps one command running, for machines without systemd (bootstrap.sh starts it detached
# with setsid, stdin from /dev/null and stdout/stderr appended to the agent log):
#   - restarts the command when it fails (non-zero exit or killed by a signal), with
#     exponential backoff from 1 s up to --max-backoff (reset after a run of 60 s or more);
#     a clean exit (status 0, e.g. the agent got SIGTERM from someone else and left the
#     cluster) ends the supervisor too, like systemd's Restart=on-failure;
#   - on SIGTERM or SIGINT forwards SIGTERM to the command (a graceful leave for clusterd),
#     waits for it to exit (SIGKILL after --stop-timeout seconds), then exits;
#   - on SIGUSR1 restarts the command at once: SIGTERM, the same wait, then a new start with
#     no backoff (an agent upgrade: the command is the wrapper that runs PREFIX/current, so
#     the new start runs the tree `current` now points at; scripts/agent-switch.sh sends it);
#   - writes its own PID to --pid-file and the command's PID to --child-pid-file, and removes
#     both on exit (only if they still hold its PIDs);
#   - with --log-file (the file its stdout appends to) and --log-max-bytes, rotates that log
#     when it has grown past the size (looked at when the command starts, then every
#     --log-check-seconds, default 10):
#     FILE.1 ... FILE.N with N = --log-keep (default 5), by copy and truncate, which is right
#     because every writer appends (O_APPEND: after the truncation it writes at the new end,
#     leaving no hole); lines written between the copy and the truncation are lost.
# Its own log lines are pino-style JSON on stdout, so the log stays one format.
# Usage: supervise.sh --pid-file FILE [--child-pid-file FILE] [--max-backoff SECONDS]
#                     [--stop-timeout SECONDS] [--log-file FILE --log-max-bytes BYTES
#                     [--log-keep N] [--log-check-seconds S]] -- COMMAND [ARG...]
set -uo pipefail

pid_file=""
child_pid_file=""
max_backoff=30
stop_timeout=30
log_file=""
log_max_bytes=0
log_keep=5
log_check=10
# A run at least this long counts as healthy: the next failure restarts after 1 s again.
healthy_run=60

log () { # LEVEL(number) MESSAGE; messages are our own words, never quotes or backslashes
  printf '{"level":%s,"time":%s,"component":"supervisor","pid":%s,"msg":"%s"}\n' \
    "$1" "$(date +%s%3N)" "$$" "$2"
}
die () { echo "supervise: $1" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --pid-file) [ $# -ge 2 ] || die "--pid-file needs a value"; pid_file=$2; shift 2 ;;
    --child-pid-file) [ $# -ge 2 ] || die "--child-pid-file needs a value"; child_pid_file=$2; shift 2 ;;
    --max-backoff) [ $# -ge 2 ] || die "--max-backoff needs a value"; max_backoff=$2; shift 2 ;;
    --stop-timeout) [ $# -ge 2 ] || die "--stop-timeout needs a value"; stop_timeout=$2; shift 2 ;;
    --log-file) [ $# -ge 2 ] || die "--log-file needs a value"; log_file=$2; shift 2 ;;
    --log-max-bytes) [ $# -ge 2 ] || die "--log-max-bytes needs a value"; log_max_bytes=$2; shift 2 ;;
    --log-keep) [ $# -ge 2 ] || die "--log-keep needs a value"; log_keep=$2; shift 2 ;;
    --log-check-seconds) [ $# -ge 2 ] || die "--log-check-seconds needs a value"; log_check=$2; shift 2 ;;
    --) shift; break ;;
    *) die "unknown argument: $1 (usage: supervise.sh --pid-file FILE [--child-pid-file FILE] [--max-backoff S] [--stop-timeout S] -- COMMAND [ARG...])" ;;
  esac
done
[ -n "$pid_file" ] || die "--pid-file is required"
[ $# -gt 0 ] || die "no command given after --"
[[ $max_backoff =~ ^[1-9][0-9]*$ ]] || die "--max-backoff: expected a positive number of seconds; got \"$max_backoff\""
[[ $stop_timeout =~ ^[1-9][0-9]*$ ]] || die "--stop-timeout: expected a positive number of seconds; got \"$stop_timeout\""
[[ $log_max_bytes =~ ^(0|[1-9][0-9]{0,15})$ ]] || die "--log-max-bytes: expected a number of bytes; got \"$log_max_bytes\""
[[ $log_keep =~ ^[1-9][0-9]{0,2}$ ]] || die "--log-keep: expected a number of old logs from 1 to 999; got \"$log_keep\""
[[ $log_check =~ ^[1-9][0-9]{0,4}$ ]] || die "--log-check-seconds: expected a positive number of seconds; got \"$log_check\""
{ [ "$log_max_bytes" -eq 0 ] || [ -n "$log_file" ]; } || die "--log-max-bytes needs --log-file (the file stdout appends to)"

write_pid () { # FILE PID: atomic, so a reader never sees a half-written file
  local tmp="$1.tmp.$$"
  printf '%s\n' "$2" > "$tmp" && mv -f "$tmp" "$1"
}
remove_own () { # FILE PID: remove FILE only if it still holds PID (a newer supervisor may own it)
  [ -n "$1" ] && [ "$(head -n1 "$1" 2>/dev/null)" = "$2" ] && rm -f "$1"
  return 0
}
# Alive = /proc/PID exists and is not a zombie (a zombie still answers kill -0).
alive () {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  case "${stat%% *}" in Z|X) return 1 ;; *) return 0 ;; esac
}

# Copy-and-truncate rotation of the log when it is past its size: FILE.1 newest, FILE.N oldest.
rotate_log () {
  local size i
  size=$(stat -c %s -- "$log_file" 2>/dev/null) || return 0
  [ "$size" -ge "$log_max_bytes" ] || return 0
  rm -f -- "$log_file.$log_keep"
  for ((i = log_keep - 1; i >= 1; i--)); do
    [ ! -e "$log_file.$i" ] || mv -f -- "$log_file.$i" "$log_file.$((i + 1))"
  done
  cp -p -- "$log_file" "$log_file.1" && truncate -s 0 -- "$log_file" \
    && log 30 "rotated the log at $size bytes (kept $log_keep old ones)"
}

# Waits until the child exits (status in $status) or a stop is asked for; rotates the log
# meanwhile, looking at start and then every --log-check-seconds. `wait -n` returns on whichever
# ends first: the child or the check interval. Bash 5.2 drops a job killed by a signal from its
# job table once it has reaped it outside a `wait`; `wait -n` then says "no such job" (stderr,
# which is the agent's log: silenced) and waits for the sleeper alone. So before each wait the
# loop checks what a rotation may have hidden: a stop or restart asked for meanwhile (its trap
# killed the child), or a child that ended. Before, a SIGTERM that landed in a rotation made the
# stop wait out the interval (3.2 s with a 3 s interval, measured). What remains is a child that
# dies in the instant between that check and the wait: it is seen one interval late.
wait_child () {
  local which ret sleeper
  if [ "$log_max_bytes" -eq 0 ]; then wait "$child"; status=$?; return 0; fi
  while :; do
    rotate_log
    which=""
    sleep "$log_check" & sleeper=$!
    if [ "$stopping" -eq 0 ] && [ "$restarting" -eq 0 ] && alive "$child"; then
      # -p unsets `which` first, and leaves it unset when a signal interrupts the wait.
      wait -n -p which "$child" "$sleeper" 2>/dev/null; ret=$?
    fi
    kill "$sleeper" 2>/dev/null
    wait "$sleeper" 2>/dev/null
    if [ "${which:-}" = "$child" ]; then status=$ret; return 0; fi
    if [ "$stopping" -eq 1 ] || [ "$restarting" -eq 1 ]; then return 0; fi
    # A child that ended outside `wait -n` is no job for it any more: plain `wait` still
    # returns its status.
    if ! alive "$child"; then wait "$child"; status=$?; return 0; fi
  done
}

stopping=0
stop_signal=""
restarting=0
child=""
backoff_sleeper=""
# shellcheck disable=SC2317  # called from the traps below
on_signal () {
  stopping=1
  stop_signal=$1
  # Only a child we have not reaped yet: its PID cannot have been reused.
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; fi
  # In the restart backoff: end the sleep (not yet reaped either).
  if [ -n "$backoff_sleeper" ]; then kill "$backoff_sleeper" 2>/dev/null; fi
}
# shellcheck disable=SC2317  # called from the trap below
on_restart () {
  [ "$stopping" -eq 1 ] && return 0
  restarting=1
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; fi
}
trap 'on_signal TERM' TERM
trap 'on_restart' USR1
trap 'on_signal INT' INT
trap '' HUP

write_pid "$pid_file" "$$" || die "cannot write the pid file $pid_file"
log 30 "supervisor started"

backoff=1
status=0
while :; do
  started=$SECONDS
  # A restart asked for before this start is this start: it runs the new tree already.
  restarting=0
  "$@" < /dev/null &
  child=$!
  [ -n "$child_pid_file" ] && write_pid "$child_pid_file" "$child"
  log 30 "started the agent (pid $child)"
  # A signal that arrived while forking found no child to forward to.
  [ "$stopping" -eq 1 ] && kill -TERM "$child" 2>/dev/null

  # A trapped signal interrupts `wait` (status > 128) while the child runs on; the stop
  # path below then polls it under a deadline.
  [ "$stopping" -eq 1 ] || [ "$restarting" -eq 1 ] || wait_child
  if [ "$stopping" -eq 1 ] || [ "$restarting" -eq 1 ]; then
    deadline=$((SECONDS + stop_timeout))
    while alive "$child"; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        log 50 "the agent did not stop within ${stop_timeout}s of SIGTERM; sending SIGKILL"
        kill -KILL "$child" 2>/dev/null
        deadline=$((SECONDS + 3600))
      fi
      # Poll, not `wait`: a blocking wait would outlast the deadline.
      sleep 0.2
    done
    # Bash keeps a reaped child's status: this returns the agent's own exit status, not
    # the 128+N of a wait the trap interrupted.
    wait "$child" 2>/dev/null; status=$?
  fi
  reaped=$child
  child=""
  remove_own "$child_pid_file" "$reaped"
  ran=$((SECONDS - started))

  if [ "$stopping" -eq 1 ]; then
    log 30 "the agent exited with status $status after SIG$stop_signal; supervisor exiting"
    break
  fi
  if [ "$restarting" -eq 1 ]; then
    log 30 "the agent exited with status $status after SIGUSR1; starting it again"
    backoff=1
    continue
  fi
  if [ "$status" -eq 0 ]; then
    log 30 "the agent exited cleanly (status 0); not restarting, supervisor exiting"
    break
  fi
  [ "$ran" -ge "$healthy_run" ] && backoff=1
  log 40 "the agent exited with status $status after ${ran}s; restarting in ${backoff}s"
  # Sleep in the background so a SIGTERM during the backoff is handled at once: the trap kills
  # the sleeper, and a signal that came before it was known is caught by the check after it
  # (bash runs a trap between commands, so one arriving while `log` forked `date` was handled
  # before the wait began, which then slept the whole backoff).
  sleep "$backoff" & backoff_sleeper=$!
  [ "$stopping" -eq 1 ] && kill "$backoff_sleeper" 2>/dev/null
  wait "$backoff_sleeper"
  kill "$backoff_sleeper" 2>/dev/null
  wait "$backoff_sleeper" 2>/dev/null
  backoff_sleeper=""
  [ "$stopping" -eq 1 ] && { log 30 "stopped during the restart backoff; supervisor exiting"; break; }
  backoff=$((backoff * 2))
  [ "$backoff" -gt "$max_backoff" ] && backoff=$max_backoff
done

remove_own "$pid_file" "$$"
exit 0
