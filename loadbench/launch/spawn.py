"""Spawn any command under the guard and stop its process group: what servers and Locust processes share.

spawn_guarded() runs `python -S loadbench/launch/guard.py ... -- CMD` in a new session with the read end of
a lifeline pipe (see guard.py for the orphan-proofing: lifeline, PR_SET_PDEATHSIG, process group,
subreaper), reads CMD's pid back from the guard, and returns a GuardedProcess whose stop() always leaves
nothing of CMD's group running. CMD's stdout and stderr go to `log_path`.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from loadbench.launch.guard import group_alive, signal_group

__all__ = ["GUARD_GRACE_S", "GUARD_PATH", "GuardedProcess", "guard_argv", "read_pid", "spawn_guarded"]

GUARD_PATH = Path(__file__).resolve().parent / "guard.py"
GUARD_GRACE_S = 3.0  # the guard's own SIGTERM -> SIGKILL delay


def guard_argv(
    command: Sequence[str], lifeline_fd: int, cpus: tuple[int, ...] | None, stop_signal: int = signal.SIGTERM,
    *remove_dirs: Path | None,
) -> list[str]:
    """The guard's command line wrapping `command` (see guard.py); every dir given (not None) goes with it."""
    argv = [
        sys.executable, "-S", str(GUARD_PATH), "--lifeline", str(lifeline_fd), "--parent", str(os.getpid()),
        "--grace", str(GUARD_GRACE_S), "--stop-signal", str(int(stop_signal)),
    ]
    if cpus:
        argv += ["--cpus", ",".join(str(c) for c in cpus)]
    for directory in remove_dirs:
        if directory is not None:
            argv += ["--remove-dir", str(directory)]
    return [*argv, "--", *command]


def read_pid(guard: subprocess.Popen[bytes], deadline: float) -> int | None:
    """CMD's pid as the guard reports it on its stdout; None when the guard ends or stalls first."""
    assert guard.stdout is not None
    fd = guard.stdout.fileno()
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            break
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    try:
        return int(data.split(b"\n", 1)[0])
    except ValueError:
        with contextlib.suppress(subprocess.TimeoutExpired):
            guard.wait(timeout=1.0)
        return None


class GuardedProcess:
    """One command running under its own guard: its pid (= its process group), its log, and a stop.

    `pid` is -1 when the guard could not start the command (then `returncode` says why: 127 = not found).
    """

    def __init__(self, *, command: list[str], guard: subprocess.Popen[bytes], pid: int, log_path: Path,
                 lifeline_fd: int, stop_signal: int = signal.SIGTERM) -> None:  # fmt: skip
        self.command = command
        self.pid = pid
        self.log_path = log_path
        self.stop_signal = stop_signal
        self._guard = guard
        self._lifeline_fd = lifeline_fd
        self._stopped = False

    @property
    def guard_pid(self) -> int:
        return self._guard.pid

    @property
    def returncode(self) -> int | None:
        """CMD's exit code once it has exited (via the guard: 128 + N after signal N), else None."""
        return self._guard.poll()

    def wait(self, timeout_s: float) -> int | None:
        """Wait up to `timeout_s` for CMD (and its guard) to exit: its exit code, or None while it runs."""
        try:
            return self._guard.wait(timeout=max(0.0, timeout_s))
        except subprocess.TimeoutExpired:
            return None

    def log_tail(self, lines: int = 20) -> str:
        """The last `lines` lines of the command's output (stdout and stderr), "" when there is none."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - 64 * 1024))
                data = log.read()
        except OSError:
            return ""
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])

    def stop(self, grace_s: float = 5.0) -> None:
        """Signal CMD's group (`stop_signal`), wait up to `grace_s`, then SIGKILL the rest. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if self.pid > 1 and self._guard.poll() is None:
                signal_group(self.pid, self.stop_signal)
                try:
                    self._guard.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    signal_group(self.pid, signal.SIGKILL)
                    self._guard.kill()
                    self._guard.wait()
            elif self._guard.poll() is None:
                self._guard.terminate()  # the guard starts nothing more once told to stop
                try:
                    self._guard.wait(timeout=GUARD_GRACE_S + 1)
                except subprocess.TimeoutExpired:
                    self._guard.kill()
                    self._guard.wait()
            # The guard has reaped the group; anything still in it escaped the guard's grace: kill it.
            if self.pid > 1 and group_alive(self.pid):
                signal_group(self.pid, signal.SIGKILL)
        finally:
            with contextlib.suppress(OSError):
                os.close(self._lifeline_fd)
            if self._guard.stdout is not None:
                self._guard.stdout.close()


def spawn_guarded(
    command: list[str], *, log_path: Path, deadline: float, cpus: tuple[int, ...] | None = None,
    env: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None,
    stop_signal: int = signal.SIGTERM, remove_dirs: Sequence[Path | None] = (),
) -> GuardedProcess:
    """Start `command` under a new guard (own session, lifeline pipe, pinned to `cpus`), output to `log_path`.

    Returns once the guard has reported CMD's pid, or by `deadline` (time.monotonic()); a GuardedProcess
    whose pid is -1 means the command never started (read its log and returncode). The guard removes
    `remove_dirs` (None entries are skipped) should it have to stop CMD because loadbench went away.
    """
    read_fd, write_fd = os.pipe()
    try:
        with open(log_path, "ab") as log:
            argv = guard_argv(command, read_fd, cpus, stop_signal, *remove_dirs)
            guard = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, pass_fds=(read_fd,),
                start_new_session=True, cwd=cwd, env=None if env is None else dict(env),
            )
    except BaseException:
        os.close(write_fd)
        raise
    finally:
        os.close(read_fd)
    pid = read_pid(guard, deadline)
    return GuardedProcess(command=command, guard=guard, pid=pid if pid is not None else -1, log_path=log_path,
                          lifeline_fd=write_fd, stop_signal=stop_signal)  # fmt: skip
