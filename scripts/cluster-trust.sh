# shellcheck shell=bash
# Sourced by bootstrap.sh: the cluster's trust anchors on this node (README, "Trust model";
# docs/architecture.md, "Least privilege"). Every node trusts the cluster SSH CA for root logins
# by certificates naming the principal clusterd-manager; only manager-eligible nodes hold the CA
# keys and the API token, and the elected manager signs itself a certificate valid for a few
# minutes (manager/ssh/cert-issuer.ts). No private key is shared between nodes.
#
# Uses bootstrap.sh's helpers (say, warn, die, usage_error, check_secret_file, write_if_changed,
# split_host_port, init_mode, proc_alive) and its paths (ETC, SSH_CA_FILE, API_*_FILE, SSHD_*).

# Refuses flag combinations that would put a credential on a worker.
check_role_flags () {
  if [ "$manager_eligible" = false ] && [ -n "$api_listen" ]; then
    usage_error "--api-listen: only manager-eligible nodes serve the TCP API (a worker holds neither the API token nor the CA key its TLS certificate needs)"
  fi
}

create_ssh_ca () {
  if [ -e "$SSH_CA_FILE" ]; then
    check_secret_file "$SSH_CA_FILE"
    if [ ! -e "$SSH_CA_PUB_FILE" ]; then
      ssh-keygen -y -f "$SSH_CA_FILE" > "$SSH_CA_PUB_FILE.tmp"
      chmod 0600 "$SSH_CA_PUB_FILE.tmp"; mv -f "$SSH_CA_PUB_FILE.tmp" "$SSH_CA_PUB_FILE"
      say "re-created $SSH_CA_PUB_FILE from the CA key"
    fi
    say "keeping the existing cluster SSH CA $SSH_CA_FILE"
  else
    [ ! -e "$SSH_CA_PUB_FILE" ] || die "$SSH_CA_PUB_FILE exists without its private key $SSH_CA_FILE: copy the CA key too, or remove the .pub file to create a new CA"
    ssh-keygen -q -t ed25519 -N '' -C clusterd-ssh-ca -f "$SSH_CA_FILE" > /dev/null
    chmod 0600 "$SSH_CA_FILE" "$SSH_CA_PUB_FILE"
    say "created the cluster SSH CA $SSH_CA_FILE"
  fi
}

create_api_ca () {
  if [ -e "$API_CA_KEY_FILE" ]; then
    check_secret_file "$API_CA_KEY_FILE"
    [ -e "$API_CA_CERT_FILE" ] || die "$API_CA_KEY_FILE exists without its certificate $API_CA_CERT_FILE: copy it too"
    say "keeping the existing API CA $API_CA_CERT_FILE"
    return 0
  fi
  [ ! -e "$API_CA_CERT_FILE" ] || die "$API_CA_CERT_FILE exists without its key $API_CA_KEY_FILE: copy the key too, or remove the certificate to create a new API CA"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$API_CA_KEY_FILE.tmp" 2> /dev/null || die "openssl could not create the API CA key"
  chmod 0600 "$API_CA_KEY_FILE.tmp"
  openssl req -x509 -new -key "$API_CA_KEY_FILE.tmp" -subj "/CN=clusterd API CA" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$API_CA_CERT_FILE.tmp" 2> /dev/null || die "openssl could not create the API CA certificate"
  chmod 0600 "$API_CA_CERT_FILE.tmp"
  mv -f "$API_CA_KEY_FILE.tmp" "$API_CA_KEY_FILE"; mv -f "$API_CA_CERT_FILE.tmp" "$API_CA_CERT_FILE"
  say "created the API CA $API_CA_CERT_FILE"
}

# The public halves are what they claim, and each private half present belongs to its public half.
check_trust_files () {
  local derived pub d p
  pub=$(head -n1 "$SSH_CA_PUB_FILE")
  ssh-keygen -l -f "$SSH_CA_PUB_FILE" > /dev/null 2>&1 || die "$SSH_CA_PUB_FILE is not an SSH public key"
  if [ -e "$SSH_CA_FILE" ]; then
    derived=$(ssh-keygen -y -f "$SSH_CA_FILE" 2>/dev/null) || die "$SSH_CA_FILE is not a readable unencrypted SSH private key"
    read -r -a d <<<"$derived"
    read -r -a p <<<"$pub"
    [ "${d[0]:-}" = "${p[0]:-}" ] && [ "${d[1]:-}" = "${p[1]:-}" ] \
      || die "$SSH_CA_PUB_FILE does not belong to $SSH_CA_FILE: copy both files from the same member"
  fi
  openssl x509 -in "$API_CA_CERT_FILE" -noout 2> /dev/null || die "$API_CA_CERT_FILE is not a PEM certificate"
  if [ -e "$API_CA_KEY_FILE" ]; then
    [ "$(openssl x509 -in "$API_CA_CERT_FILE" -noout -pubkey 2>/dev/null)" = "$(openssl pkey -in "$API_CA_KEY_FILE" -pubout 2>/dev/null)" ] \
      || die "$API_CA_CERT_FILE does not belong to $API_CA_KEY_FILE: copy both files from the same member"
  fi
}

# This node's TLS certificate for --api-listen, signed by the API CA: names 127.0.0.1, ::1,
# localhost, the node name, the advertised address and the listen address. Kept while it is
# still good (this CA, these names, its key, more than 30 days left).
issue_api_cert () {
  local sans listen_ip tmp serial
  split_host_port "$api_listen"; listen_ip=$hp_host
  sans="IP:127.0.0.1,IP:::1,DNS:localhost,DNS:$node_name,IP:$advertise_ip"
  if [ "$listen_ip" != 0.0.0.0 ] && [[ ! $listen_ip =~ ^[0:]+$ ]] && [ "$listen_ip" != "$advertise_ip" ]; then sans+=",IP:$listen_ip"; fi
  if [ -e "$API_CERT_FILE" ] && [ -e "$API_KEY_FILE" ] \
    && openssl verify -CAfile "$API_CA_CERT_FILE" "$API_CERT_FILE" > /dev/null 2>&1 \
    && openssl x509 -in "$API_CERT_FILE" -noout -checkend 2592000 > /dev/null 2>&1 \
    && openssl x509 -in "$API_CERT_FILE" -noout -checkip "$advertise_ip" 2>/dev/null | grep -q 'does match' \
    && openssl x509 -in "$API_CERT_FILE" -noout -checkhost "$node_name" 2>/dev/null | grep -q 'does match' \
    && [ "$(openssl x509 -in "$API_CERT_FILE" -noout -pubkey 2>/dev/null)" = "$(openssl pkey -in "$API_KEY_FILE" -pubout 2>/dev/null)" ]; then
    check_secret_file "$API_KEY_FILE"
    say "keeping the API TLS certificate $API_CERT_FILE"
    return 0
  fi
  tmp=$(mktemp -d "$ETC/.api-cert.XXXXXX")
  serial=$(od -An -vtx1 -N16 /dev/urandom | tr -d ' \n')
  printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' "$sans" > "$tmp/ext"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/key" 2> /dev/null \
    && openssl req -new -key "$tmp/key" -subj "/CN=$node_name" -out "$tmp/csr" 2> /dev/null \
    && openssl x509 -req -in "$tmp/csr" -CA "$API_CA_CERT_FILE" -CAkey "$API_CA_KEY_FILE" -set_serial "0x$serial" \
         -days 825 -sha256 -extfile "$tmp/ext" -out "$tmp/crt" 2> /dev/null \
    || { rm -rf -- "$tmp"; die "openssl could not issue the API TLS certificate"; }
  chmod 0600 "$tmp/key" "$tmp/crt"
  mv -f "$tmp/key" "$API_KEY_FILE"; mv -f "$tmp/crt" "$API_CERT_FILE"
  rm -rf -- "$tmp"
  say "issued the API TLS certificate $API_CERT_FILE ($sans)"
}

# sshd trusts certificates from the cluster SSH CA for root when they name clusterd-manager.
trust_cluster_ssh_ca () {
  local content changed=0 err effective principal
  [[ $ETC =~ ^[A-Za-z0-9/._+-]+$ ]] || die "cannot point sshd at $ETC: use a path of letters, digits and / . _ + -"
  mkdir -p -- "$SSH_PRINCIPALS_DIR"; chmod 0700 -- "$SSH_PRINCIPALS_DIR"
  # With the node gate of fencing (scripts/fence-gate.sh), the principal's line carries its forced command.
  principal=clusterd-manager
  if declare -F fence_key_options > /dev/null; then principal="$(fence_key_options) clusterd-manager"; fi
  write_if_changed "$SSH_PRINCIPALS_DIR/root" 0600 <<<"$principal" && changed=1
  content=$(
    echo "# Written by clusterd's bootstrap.sh: root logins by certificates of the cluster SSH CA"
    echo "# that name the principal clusterd-manager (the elected manager's, valid a few minutes)."
    echo "TrustedUserCAKeys $SSH_CA_PUB_FILE"
    echo "AuthorizedPrincipalsFile $SSH_PRINCIPALS_DIR/%u"
  )
  if [ ! -d "$SSHD_CONFIG_DIR" ]; then mkdir -p -- "$SSHD_CONFIG_DIR"; chmod 0755 -- "$SSHD_CONFIG_DIR"; fi
  write_if_changed "$SSHD_DROPIN" 0644 <<<"$content" && changed=1
  if ! err=$("$SSHD_BIN" -t -f "$SSHD_CONFIG" 2>&1); then
    rm -f -- "$SSHD_DROPIN"
    die "sshd refuses its configuration with $SSHD_DROPIN (removed it again): $err"
  fi
  # Debian's sshd_config includes sshd_config.d/*.conf; a config without that never reads ours.
  # Read whole first: `grep -q` in a pipe would stop sshd with SIGPIPE, a failure under pipefail.
  effective=$("$SSHD_BIN" -T -f "$SSHD_CONFIG" 2>/dev/null || true)
  grep -Fxiq "trustedusercakeys $SSH_CA_PUB_FILE" <<<"$effective" \
    || die "sshd does not read $SSHD_DROPIN: add 'Include $SSHD_CONFIG_DIR/*.conf' at the top of $SSHD_CONFIG, then run this again"
  if [ "$changed" -eq 1 ]; then say "sshd trusts the cluster SSH CA ($SSHD_DROPIN)"; reload_sshd_for_ca; else say "sshd already trusts the cluster SSH CA"; fi
}

reload_sshd_for_ca () {
  local unit pidfile pid
  if [ "$(init_mode)" = systemd ] && command -v systemctl > /dev/null; then
    for unit in ssh.service sshd.service; do
      if systemctl is-active --quiet "$unit"; then systemctl reload "$unit"; say "reloaded $unit"; return 0; fi
    done
  fi
  pidfile=$("$SSHD_BIN" -T -f "$SSHD_CONFIG" 2>/dev/null | awk '$1 == "pidfile" { print $2 }' || true)
  if [ -n "$pidfile" ] && pid=$(head -n1 "$pidfile" 2>/dev/null) && [[ $pid =~ ^[1-9][0-9]*$ ]] && proc_alive "$pid"; then
    kill -HUP "$pid"
    say "reloaded sshd (pid $pid)"
  else
    warn "sshd is not running: start it, or the manager cannot reach this node"
  fi
}
