#!/usr/bin/python3 -IS
"""clusterd-gate: the node-side fence of every SSH session the cluster's credential opens.

sshd runs it as the forced command of the cluster credential (the `command="..."` option on the
manager key's authorized_keys line, or on the principals line once certificates are used), for
every session: each command Ansible runs, each file transfer, each pre-check.

Usage (as a forced command):
  clusterd-gate [--lease-file PATH] [--log PATH]
Without arguments the paths come from clusterd-gate.json beside the gate (written by bootstrap.sh:
{"leaseFile": "...", "log": "..."}), else the defaults below; so the forced command is a constant.

The manager presents the lease of its run with each session in CLUSTERD_LEASE=EPOCH:LEASE_ID
(`ssh -o SetEnv=...`; sshd passes it on because a clusterd drop-in says `AcceptEnv
CLUSTERD_LEASE`). The gate runs the session's command (SSH_ORIGINAL_COMMAND, through the user's
shell exactly as sshd would, or the sftp server for an sftp session) only when the node's own
agent holds that very lease, live by this node's clock, in its lease file; otherwise it refuses
with a message on stderr and exit status 77. Every decision is one JSON line in the log.

The presented lease stays in the environment of the command and everything it starts: when the
node's agent sees the lease end (expiry, release, a new lease) it terminates every process whose
environment carries another lease (docs/architecture.md, "Fencing"). sshd put the variable in
this process's environment before it started, so a session is findable from its first
instruction, also while the gate is still deciding.
"""
import json
import os
import pwd
import re
import sys
import time

ENV_NAME = 'CLUSTERD_LEASE'
REFUSED_EXIT = 77  # EX_NOPERM
USAGE_EXIT = 64  # EX_USAGE
DEFAULT_LEASE_FILE = '/var/lib/clusterd/lease.json'
DEFAULT_LOG = '/var/log/clusterd/gate.log'
MAX_LEASE_FILE_BYTES = 4096
MAX_LOGGED_COMMAND = 300
PRESENTED = re.compile(r'^([0-9]{1,16}):([0-9a-f]{16,64})$')
LEASE_ID = re.compile(r'^[0-9a-f]{16,64}$')
SFTP_SERVERS = ('/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server', '/usr/libexec/sftp-server')


def read_lease_file(path):
    """(lease dict or None, None) or (None, why the file is unusable). Never raises."""
    try:
        with open(path, 'rb') as f:
            data = f.read(MAX_LEASE_FILE_BYTES + 1)
    except FileNotFoundError:
        return None, None
    except OSError as e:
        return None, 'cannot read %s: %s' % (path, e.strerror)
    if len(data) > MAX_LEASE_FILE_BYTES:
        return None, '%s is larger than a lease file' % path
    try:
        doc = json.loads(data.decode('utf-8'))
    except (ValueError, UnicodeDecodeError):
        return None, '%s is not JSON' % path
    if not isinstance(doc, dict) or doc.get('version') != 1:
        return None, '%s is not a version 1 lease file' % path
    lease = doc.get('lease')
    if lease is None:
        return None, None
    if not isinstance(lease, dict):
        return None, '%s holds a malformed lease' % path
    epoch, lease_id, expires = lease.get('epoch'), lease.get('leaseId'), lease.get('expiresAt')
    if not (type(epoch) is int and epoch >= 0 and isinstance(lease_id, str) and LEASE_ID.match(lease_id)
            and type(expires) is int):
        return None, '%s holds a malformed lease' % path
    return lease, None


def decide(presented, lease, file_problem, now_ms):
    """The gate's rule, pure: (True, 'live', message) or (False, reason, message)."""
    if presented is None or presented == '':
        return (False, 'no-lease-presented',
                'the session presented no lease (%s is not set: the client sent none, or sshd does not '
                'accept it: AcceptEnv %s in /etc/ssh/sshd_config.d/clusterd-fence.conf)' % (ENV_NAME, ENV_NAME))
    m = PRESENTED.match(presented)
    if m is None:
        return False, 'malformed', '%s must be EPOCH:LEASE_ID (16-64 lower-case hex digits)' % ENV_NAME
    epoch, lease_id = int(m.group(1)), m.group(2)
    if file_problem is not None:
        return False, 'lease-file-unusable', 'the node cannot read its lease: %s' % file_problem
    if lease is None:
        return False, 'no-lease', 'the node holds no lease'
    if lease['leaseId'] != lease_id or lease['epoch'] != epoch:
        why = 'stale-epoch' if epoch < lease['epoch'] else 'other-lease'
        return (False, why, 'the node is leased to %s (epoch %d, lease %s), not to this session (epoch %d, lease %s)'
                % (lease.get('holder'), lease['epoch'], lease['leaseId'], epoch, lease_id))
    left = lease['expiresAt'] - now_ms
    if left <= 0:
        return False, 'expired', 'the lease %s expired %d ms ago' % (lease_id, -left)
    return True, 'live', 'lease %s of epoch %d is live for %d ms more' % (lease_id, epoch, left)


def log_line(path, record):
    """Append one JSON line (one write, O_APPEND); a failure is reported on stderr, never fatal."""
    try:
        d = os.path.dirname(path)
        if d and not os.path.isdir(d):
            os.makedirs(d, 0o750, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, (json.dumps(record, separators=(',', ':')) + '\n').encode('utf-8', 'replace'))
        finally:
            os.close(fd)
    except OSError as e:
        sys.stderr.write('clusterd-gate: cannot write the log %s: %s\n' % (path, e.strerror))


def defaults():
    """The paths from clusterd-gate.json beside this file, if it is there and sane."""
    opts = {'lease_file': DEFAULT_LEASE_FILE, 'log': DEFAULT_LOG}
    try:
        with open(os.path.join(os.path.dirname(os.path.realpath(__file__)), 'clusterd-gate.json'), 'rb') as f:
            conf = json.loads(f.read(4096).decode('utf-8'))
    except (OSError, ValueError, UnicodeDecodeError):
        return opts
    if isinstance(conf, dict):
        for key, name in (('leaseFile', 'lease_file'), ('log', 'log')):
            value = conf.get(key)
            if isinstance(value, str) and value.startswith('/') and '\0' not in value:
                opts[name] = value
    return opts


def parse_args(argv):
    opts = defaults()
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ('--lease-file', '--log') and i + 1 < len(argv) and argv[i + 1].startswith('/'):
            opts[a[2:].replace('-', '_')] = argv[i + 1]
            i += 2
        else:
            return None
    return opts


def target(command):
    """The argv to exec for the session's command (the user's shell, or the sftp server)."""
    if command == 'internal-sftp' or command.endswith('/sftp-server'):
        for path in SFTP_SERVERS:
            if os.access(path, os.X_OK):
                return [path]
        return None
    try:
        shell = pwd.getpwuid(os.getuid()).pw_shell or '/bin/sh'
    except KeyError:
        shell = '/bin/sh'
    return [shell, '-c', command]


def main():
    opts = parse_args(sys.argv[1:])
    if opts is None:
        sys.stderr.write('usage: clusterd-gate [--lease-file /PATH] [--log /PATH]\n')
        return USAGE_EXIT
    presented = os.environ.get(ENV_NAME)
    command = os.environ.get('SSH_ORIGINAL_COMMAND')
    now_ms = int(time.time() * 1000)
    lease, problem = read_lease_file(opts['lease_file'])
    ok, reason, message = decide(presented, lease, problem, now_ms)
    argv = None
    if ok and command is None:
        ok, reason, message = False, 'no-command', 'the cluster credential runs commands only, not interactive shells'
    elif ok:
        argv = target(command)
        if argv is None:
            ok, reason, message = False, 'no-sftp-server', 'no sftp-server found on this node'
    conn = (os.environ.get('SSH_CONNECTION') or '').split(' ')
    log_line(opts['log'], {
        't': now_ms,
        'decision': 'run' if ok else 'refused',
        'reason': reason,
        'lease': (presented or '')[:64],
        'pid': os.getpid(),
        'from': conn[0] if conn and conn[0] else None,
        'command': (command or '')[:MAX_LOGGED_COMMAND],
        **({} if ok else {'message': message}),
    })
    if not ok:
        sys.stderr.write('clusterd-gate: refused (%s): %s\n' % (reason, message))
        return REFUSED_EXIT
    try:
        os.execv(argv[0], argv)
    except OSError as e:
        sys.stderr.write('clusterd-gate: cannot run %s: %s\n' % (argv[0], e.strerror))
        return 127


if __name__ == '__main__':
    sys.exit(main())
