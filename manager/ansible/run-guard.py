#!/usr/bin/python3
"""Run one playbook run (ansible-runner) so that none of it outlives the manager's agent.

Usage: run-guard.py COMMAND [ARG...]   (started by manager/ansible/playbook-runner.ts)

The agent starts this guard, which starts COMMAND and waits for it. The guard is:
- told by the kernel when the agent dies (parent-death signal SIGTERM, set before anything
  runs; if the agent is already gone by then, nothing is started);
- the subreaper of everything COMMAND starts: ansible-playbook runs in its own session under
  pexpect and would be orphaned to init when ansible-runner dies without taking it down (seen
  in the fault suite after a kill -9 of the agent), so it stays a descendant of the guard
  whatever dies first.

On SIGTERM (the agent died, or the agent stops the run) the guard sends SIGTERM to every
descendant, then SIGKILL to what is left after a short grace, and exits 143. Otherwise it exits
with COMMAND's status once COMMAND has exited; leftover descendants (ssh control masters) are
the agent's to close. The guard writes nothing to stdout, which belongs to COMMAND.
"""
import ctypes
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
POLL_S = 0.1
GRACE_S = 1.0
KILL_ROUNDS = 20


def descendants(root):
    """Pids of every live descendant of root, from /proc (deepest first is not needed)."""
    children = {}
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name, 'rb') as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        fields = stat[stat.rfind(b')') + 2:].split(b' ')
        children.setdefault(int(fields[1]), []).append(int(name))
    found, queue = [], [root]
    while queue and len(found) < 10000:
        for c in children.get(queue.pop(), []):
            found.append(c)
            queue.append(c)
    return found


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def reap():
    """Collect every exited child; returns {pid: status}."""
    done = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return done
        if pid == 0:
            return done
        done[pid] = status


def stop_tree(me):
    signal_all(descendants(me), signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline and descendants(me):
        reap()
        time.sleep(POLL_S)
    # What ignored SIGTERM, and whatever was forked meanwhile.
    for _ in range(KILL_ROUNDS):
        left = descendants(me)
        if not left:
            break
        signal_all(left, signal.SIGKILL)
        time.sleep(POLL_S / 2)
        reap()


def main():
    if len(sys.argv) < 2:
        sys.stderr.write('usage: run-guard.py COMMAND [ARG...]\n')
        return 2
    agent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0 or libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.stderr.write('run-guard: prctl failed: %s\n' % os.strerror(ctypes.get_errno()))
        return 2
    stopping = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    # The agent died before the death signal was armed: start nothing.
    if os.getppid() != agent:
        return 143
    child = os.fork()
    if child == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            os.execv(sys.argv[1], sys.argv[1:])
        except OSError as err:
            sys.stderr.write('run-guard: cannot run %s: %s\n' % (sys.argv[1], err.strerror))
        os._exit(127)
    me = os.getpid()
    while True:
        if stopping or os.getppid() != agent:
            stop_tree(me)
            return 143
        done = reap()
        if child in done:
            status = done[child]
            # The agent may have died at the same moment; its run must not go on without it.
            if stopping or os.getppid() != agent:
                stop_tree(me)
                return 143
            return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
        time.sleep(POLL_S)


if __name__ == '__main__':
    sys.exit(main())
