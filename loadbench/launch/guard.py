"""The guard: a tiny stdlib-only parent for one server process tree, so no server outlives loadbench.

    python -S loadbench/launch/guard.py --lifeline FD --parent PID [--cpus 0,1] [--grace 2] -- CMD...

(equivalent to `python -m loadbench.launch.guard ...`; the launcher runs the file with -S because it
imports only the standard library, which saves the site import on every server start.)

How a server tree is kept from leaking, in order of strength:

1. **Lifeline pipe.** loadbench creates a pipe, keeps the only write end and hands the read end to the
   guard (``pass_fds``). The guard polls it; when it reads EOF, every holder of the write end has gone,
   which happens when loadbench exits for any reason, SIGKILL included (the kernel closes its fds).
2. **PR_SET_PDEATHSIG = SIGTERM** (ctypes ``prctl``), a second line should the pipe be inherited by
   accident. Caveat: the kernel sends it when the *thread* that spawned the guard exits, so start
   servers from a thread that outlives them (the main thread does).
   CMD gets a lifeline of its own the same way: PR_SET_PDEATHSIG = the stop signal, set between fork
   and exec, so a guard killed with SIGKILL takes CMD (and through CMD's own stop, its workers) with it
   even when loadbench is killed right after and cannot stop the group itself.
3. **Signals.** SIGTERM, SIGINT or SIGHUP to the guard stop the tree the same way.

The guard runs in a new session (the launcher uses ``start_new_session=True``), so a terminal's Ctrl-C
reaches loadbench, not the server. It sets its CPU affinity first, so CMD and every process CMD forks
inherit it. It makes itself a child subreaper, so workers orphaned by a dying master are reparented to
the guard (not init) and stay visible and reapable. CMD runs in a process group of its own (pgid = CMD's
pid), which is the group loadbench's ``ServerProcess.stop()`` signals; the guard is not in it, so
``pids()`` can leave the guard out and a group-wide SIGKILL never hits the guard.

Stopping: SIGTERM (or --stop-signal) to CMD's group, wait up to the grace period for the group to
empty (reaping as it goes), then SIGKILL whatever is left, and exit. When CMD exits on its own, the
guard cleans the group the same way and exits with CMD's code (128 + signal number when a signal ended it).

Protocol with the launcher: the guard writes CMD's pid and a newline on its stdout, then closes it. It
writes its own problems (cannot start CMD, bad CPU list) on stderr, which the launcher points at the
server's log file; CMD's stdout and stderr go there too. With --remove-dir (repeatable) the guard deletes
those private directories (the log dir, a server's run dir) when it stops the tree because loadbench went
away or signalled it, not when CMD exits on its own: then loadbench reads the log to report why.
Exit code 127: CMD could not be started.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_POLL_S = 0.01


def _prctl(option: int, value: int) -> None:
    """Call prctl(2); quietly does nothing where libc or prctl is missing (not Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _die_with_guard(stop_signal: int) -> Callable[[], None]:
    """The preexec function giving CMD a lifeline of its own: PR_SET_PDEATHSIG = `stop_signal`.

    Without it, a guard killed with SIGKILL left CMD running, reparented to init, and when loadbench then
    died too nobody was left to stop it. With it the kernel sends CMD its stop signal the moment the guard
    (the thread that forked it: the guard is single-threaded) dies, and CMD stops its workers as on any
    stop. It runs in the child between fork and exec: only the prctl and a getppid() check, no imports,
    because the guard may have died before the prctl took effect (then CMD is not started at all).
    """
    guard_pid = os.getpid()
    try:
        libc: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
    except OSError:
        libc = None

    def preexec() -> None:
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, stop_signal, 0, 0, 0)
        if os.getppid() != guard_pid:
            os._exit(1)

    return preexec


def _reap() -> None:
    """Collect every exited child (CMD and orphaned workers reparented to us), without blocking."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def group_alive(pgid: int) -> bool:
    """True while any process of group `pgid` exists (pgid ≤ 1 never names a server's group)."""
    if pgid <= 1:
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, sig: int) -> None:
    """Send `sig` to group `pgid` if it still exists; pgid ≤ 1 (ours, or init's) is never signalled."""
    if pgid <= 1:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_group(pgid: int, grace_s: float, stop_signal: int = signal.SIGTERM) -> None:
    """Send `stop_signal` to the group, wait up to `grace_s` for it to empty, SIGKILL the rest, reap."""
    signal_group(pgid, stop_signal)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        _reap()
        if not group_alive(pgid):
            return
        time.sleep(_POLL_S)
    signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        _reap()
        if not group_alive(pgid):
            return
        time.sleep(_POLL_S)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="loadbench-guard", description="Run CMD; stop its group with us.")
    parser.add_argument("--lifeline", type=int, required=True, help="read end of the lifeline pipe")
    parser.add_argument("--parent", type=int, default=0, help="pid of loadbench (checked after prctl)")
    parser.add_argument("--cpus", default="", help="comma-separated CPUs for the whole tree")
    parser.add_argument("--grace", type=float, default=2.0, help="seconds between SIGTERM and SIGKILL")
    parser.add_argument("--remove-dir", action="append", default=[],
                        help="private dir to delete when loadbench is gone (repeatable)")
    parser.add_argument("--stop-signal", type=int, default=int(signal.SIGTERM), help="first signal sent")
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.cmd and args.cmd[0] == "--":
        args.cmd = args.cmd[1:]
    if not args.cmd:
        parser.error("no command given after --")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the guard; returns CMD's exit code (127 when CMD could not be started)."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    stop_requested: list[int] = []
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)

    def _on_signal(signum: int, _frame: object) -> None:
        stop_requested.append(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    if args.parent and os.getppid() != args.parent:
        return 1  # loadbench died before prctl took effect: start nothing
    if args.cpus:
        try:
            os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
        except (OSError, ValueError) as exc:
            print(f"loadbench guard: cannot pin to CPUs {args.cpus}: {exc}", file=sys.stderr, flush=True)
            return 2
    try:
        child = subprocess.Popen(
            args.cmd, stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno(), stderr=sys.stderr.fileno(),
            process_group=0, preexec_fn=_die_with_guard(args.stop_signal),
        )
    except OSError as exc:
        print(f"loadbench guard: cannot start {args.cmd[0]!r}: {exc}", file=sys.stderr, flush=True)
        return 127
    with contextlib.suppress(OSError):
        os.write(1, f"{child.pid}\n".encode())
        os.close(1)
    return _watch(child, args.lifeline, wake_r, stop_requested, args.grace, args.stop_signal, args.remove_dir)


def _watch(
    child: subprocess.Popen[bytes], lifeline: int, wake_r: int, stop: list[int], grace_s: float,
    stop_signal: int, remove_dirs: list[str],
) -> int:
    """Block until the lifeline closes, a stop signal comes, or CMD exits; then clean the group."""
    poller = select.poll()
    poller.register(lifeline, select.POLLIN | select.POLLHUP | select.POLLERR)
    poller.register(wake_r, select.POLLIN)
    child_fd = -1
    try:
        child_fd = os.pidfd_open(child.pid)
        poller.register(child_fd, select.POLLIN)
        timeout_ms = None
    except (AttributeError, OSError):
        timeout_ms = 100  # no pidfd: notice CMD's exit by polling
    pgid = child.pid
    while True:
        events = poller.poll(timeout_ms)
        if stop:
            break
        if any(fd == lifeline for fd, _ in events):
            try:
                data = os.read(lifeline, 4096)
            except OSError:
                data = b""
            if not data:
                break  # EOF: loadbench is gone
        if child.poll() is not None:
            stop_group(pgid, grace_s, stop_signal)  # CMD died: take its workers with it
            _reap()
            return _exit_code_of(child)
    stop_group(pgid, grace_s, stop_signal)
    _reap()
    for directory in remove_dirs:  # loadbench is gone (or we were told to stop): nobody will read the log
        shutil.rmtree(directory, ignore_errors=True)
    if child_fd >= 0:
        os.close(child_fd)
    return _exit_code_of(child) if child.returncode is not None else 0


def _exit_code_of(child: subprocess.Popen[bytes]) -> int:
    code = child.poll()
    if code is None:
        return 0
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main())
