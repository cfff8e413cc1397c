# shellcheck shell=bash
# Sourced by bootstrap.sh: installs the node gate of clusterd's fencing on this node.
#
# Every SSH session the cluster's manager credential opens runs through the gate
# (agent/fencing/clusterd-gate.py, installed as $GATE_DIR/clusterd-gate, root-owned 0755): it
# runs the session's command only while this node's own agent holds the lease the session
# presents (CLUSTERD_LEASE=EPOCH:LEASE_ID), and logs every decision to $LOG_DIR/gate.log. sshd
# must accept that variable from clients: the drop-in $SSHD_DROP_IN_DIR/clusterd-fence.conf says
# `AcceptEnv CLUSTERD_LEASE` (Debian's sshd_config includes sshd_config.d/*.conf). The manager key
# is then authorized with `command="<gate> ..."` (fence_key_options), which applies to that key
# only, never to other root logins. See docs/architecture.md, "Fencing".
#
# Environment (tests point them into a temporary directory):
#   CLUSTERD_GATE_DIR=/usr/local/lib/clusterd       where the gate is installed
#   CLUSTERD_SSHD_DROP_IN_DIR=/etc/ssh/sshd_config.d where the sshd drop-in is written
#   CLUSTERD_SSHD_PID_FILE=/run/sshd.pid             sshd to reload (SIGHUP) when the drop-in changed
#                                                    and systemd does not run it

GATE_DIR=$(abs_path CLUSTERD_GATE_DIR "${CLUSTERD_GATE_DIR:-/usr/local/lib/clusterd}")
GATE_FILE="$GATE_DIR/clusterd-gate"
SSHD_DROP_IN_DIR=$(abs_path CLUSTERD_SSHD_DROP_IN_DIR "${CLUSTERD_SSHD_DROP_IN_DIR:-/etc/ssh/sshd_config.d}")
SSHD_DROP_IN="$SSHD_DROP_IN_DIR/clusterd-fence.conf"
SSHD_PID_FILE=$(abs_path CLUSTERD_SSHD_PID_FILE "${CLUSTERD_SSHD_PID_FILE:-/run/sshd.pid}")

# The authorized_keys options of the manager key: every session through the gate, no forwarding.
# The command is a constant (the gate reads its paths from clusterd-gate.json beside it): sshd
# hands it to root's shell, so no operator-chosen path goes into it.
# (With SSH certificates, the same options go on the principal's line of AuthorizedPrincipalsFile.)
fence_key_options () {
  printf 'command="%s",no-port-forwarding,no-agent-forwarding,no-X11-forwarding' "$GATE_FILE"
}

install_fence_gate () { # DATA_DIR
  [[ $GATE_FILE =~ ^[A-Za-z0-9/._+-]+$ ]] || die "cannot use \"$GATE_FILE\" as the gate's forced command: use a path of letters, digits and / . _ + -"
  [ -x /usr/bin/python3 ] || die "/usr/bin/python3 is missing: the node gate (and Ansible) need it"
  [ -d "$GATE_DIR" ] || { mkdir -p -- "$GATE_DIR"; chmod 0755 -- "$GATE_DIR"; }
  if write_if_changed "$GATE_FILE" 0755 < "$REPO/agent/fencing/clusterd-gate.py"; then say "installed the node gate $GATE_FILE"; fi
  # JSON by the agent's own Node (the paths are data, whatever characters they hold).
  if "$NODE_BIN" -e 'process.stdout.write(JSON.stringify({ leaseFile: process.argv[1], log: process.argv[2] }) + "\n")' \
      "$1/lease.json" "$LOG_DIR/gate.log" | write_if_changed "$GATE_FILE.json" 0644; then
    say "wrote $GATE_FILE.json"
  fi
  [ -d "$SSHD_DROP_IN_DIR" ] || { mkdir -p -- "$SSHD_DROP_IN_DIR"; chmod 0755 -- "$SSHD_DROP_IN_DIR"; }
  if printf '# clusterd: a manager presents its node lease with each session (see %s)\nAcceptEnv CLUSTERD_LEASE\n' "$GATE_FILE" \
      | write_if_changed "$SSHD_DROP_IN" 0644; then
    say "wrote $SSHD_DROP_IN"
    reload_sshd
  fi
}

reload_sshd () {
  if [ "$(init_mode)" = systemd ] && systemctl is-active --quiet ssh 2> /dev/null; then
    systemctl reload ssh && say "reloaded sshd (AcceptEnv CLUSTERD_LEASE)" && return 0
  elif [ -s "$SSHD_PID_FILE" ] && kill -HUP "$(cat "$SSHD_PID_FILE")" 2> /dev/null; then
    say "reloaded sshd (pid $(cat "$SSHD_PID_FILE")) for AcceptEnv CLUSTERD_LEASE"
    return 0
  fi
  warn "reload sshd so it reads $SSHD_DROP_IN: until then the node gate refuses the manager's sessions (no lease presented)"
}
