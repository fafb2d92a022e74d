"""py-spy on a server's whole process tree: started under the guard, pinned to the client CPUs, stopped by us.

    recording = PySpyRecording.start(exe, pid, cpus=(1,), out_path=..., rate_hz=100)
    ...drive the load...
    capture = recording.finish()      # Capture: collapsed stacks, samples, py-spy's own CPU, or an error

The command is `py-spy record --format raw --subprocesses --nolineno --nonblocking --rate HZ --pid PID
-o FILE`:

- `--format raw` writes collapsed stacks ("frame;frame;… count"), the storage format of the profile record.
- `--subprocesses` follows every Python process under PID (gunicorn's arbiter and workers, uvicorn's
  workers), including workers forked after the start.
- `--nolineno` aggregates by function rather than by line: the flame graph and the top-functions table
  are about functions, and stacks that differ only by line would multiply the record's size.
- No `--idle`: py-spy then keeps only the samples of threads that are running (on CPU), so the profile
  says where the server's CPU time goes. With `--idle`, every waiting thread (a waitress pool thread
  parked on its queue, gunicorn's arbiter in select, the event loop in epoll) counts as much as a busy
  one, and on a server at its peak those waits would bury the work; the waits are already measured as
  latency and as server CPU below 100 %.
- `--nonblocking`: py-spy reads the server's memory without pausing it. Pausing every process 100 times a
  second cost uvicorn 27 % of its throughput on the shared 2-core machine (benchmarks/profile_cost.py;
  the pause waits for the scheduler to stop the target), non-blocking sampling cost nothing measurable
  there. The price: a sample can now and then catch a stack mid-change, and py-spy judges idle threads
  by its function-name heuristic instead of the OS thread state (benfred/py-spy#480).
- No `--native`: unwinding C frames (uvloop, httptools) costs far more per sample, and time spent in C
  is still attributed to the Python function that called it (uvicorn's time in uvloop shows as
  `run_until_complete`).

py-spy runs under the guard (loadbench.launch.spawn), so it never outlives loadbench, and it is pinned to
the client CPUs so its sampling competes with the load generator, not with the server. It is stopped with
SIGINT, on which it writes its output and exits; its own CPU time is read just before.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from loadbench.launch.spawn import GuardedProcess, spawn_guarded

__all__ = [
    "DEFAULT_RATE_HZ",
    "Capture",
    "PySpyRecording",
    "find_pyspy",
    "parse_raw",
    "pyspy_argv",
    "pyspy_version",
    "refusal",
]

DEFAULT_RATE_HZ = 100
_START_TIMEOUT_S = 5.0
_FINISH_TIMEOUT_S = 20.0
_PROCESS_FRAME = re.compile(r'^process \d+:".*"$')
_PROCESS_LABELS = ("[main process]", "[child process]", "[grandchild process]")
_REFUSALS = (
    "Operation not permitted", "Permission denied", "ptrace", "os error 1)", "os error 13)",
    "CAP_SYS_PTRACE",
)


def find_pyspy() -> str | None:
    """The py-spy executable: the one installed beside this Python (the [profile] extra), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("py-spy")


def pyspy_version(exe: str) -> str:
    """py-spy's version ("0.4.3"), "" when it cannot say."""
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip().removeprefix("py-spy").strip()


def pyspy_argv(exe: str, pid: int, out_path: Path, rate_hz: int = DEFAULT_RATE_HZ, *,
               nonblocking: bool = True) -> list[str]:  # fmt: skip
    """py-spy's command line (see the module docstring for each choice; `nonblocking=False` pauses the
    server at every sample, which benchmarks/profile_cost.py compares)."""
    argv = [exe, "record", "--format", "raw", "--subprocesses", "--nolineno", "--rate", str(rate_hz),
            "--pid", str(pid), "--output", str(out_path)]  # fmt: skip
    return [*argv, "--nonblocking"] if nonblocking else argv


def refusal(log_text: str) -> bool:
    """True when py-spy's output says the kernel refused to let it read the process (ptrace)."""
    return any(word in log_text for word in _REFUSALS)


def _process_label(depth: int) -> str:
    return _PROCESS_LABELS[depth] if depth < len(_PROCESS_LABELS) else f"[process depth {depth}]"


def parse_raw(text: str) -> dict[str, int]:
    """py-spy's raw output ("frame;…;frame count" lines) as collapsed stack -> samples.

    py-spy puts one `process PID:"command line"` frame per process level at the root of each stack
    (with --subprocesses); those become "[main process]", "[child process]", … so that the samples of
    every worker add up in one stack and no command line lands in the results file. A line that is not
    "stack count" is skipped.
    """
    counts: dict[str, int] = {}
    for line in text.splitlines():
        stack, _, number = line.rstrip().rpartition(" ")
        if not stack or not number.isdigit():
            continue
        frames: list[str] = []
        depth = 0
        for frame in stack.split(";"):
            if _PROCESS_FRAME.match(frame):
                frames.append(_process_label(depth))
                depth += 1
            elif frame:
                frames.append(frame)
        key = ";".join(frames)
        counts[key] = counts.get(key, 0) + int(number)
    return counts


@dataclass(frozen=True, slots=True, kw_only=True)
class Capture:
    """What one py-spy recording gave: `stacks` (collapsed stack -> samples) and `samples` in all, over
    `duration_s`; `cpu_s` is py-spy's own CPU (user + system seconds). `error` is set (and the stacks
    empty) when py-spy failed; `refused` when the kernel refused it ptrace."""

    stacks: dict[str, int] = field(default_factory=dict)
    samples: int = 0
    duration_s: float = 0.0
    cpu_s: float | None = None
    error: str = ""
    refused: bool = False


class PySpyRecording:
    """One running `py-spy record` on a server's process tree (see the module docstring)."""

    def __init__(self, process: GuardedProcess, out_path: Path, started: float) -> None:
        self._process = process
        self._out_path = out_path
        self._started = started

    @classmethod
    def start(cls, exe: str, pid: int, *, out_path: Path, cpus: tuple[int, ...] | None,
              rate_hz: int = DEFAULT_RATE_HZ, nonblocking: bool = True) -> PySpyRecording:  # fmt: skip
        """Start py-spy on `pid` and its descendants, pinned to `cpus`; its log is `out_path` + ".log"."""
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.unlink(missing_ok=True)
        log_path = out_path.with_suffix(".log")
        process = spawn_guarded(
            pyspy_argv(exe, pid, out_path, rate_hz, nonblocking=nonblocking), log_path=log_path,
            deadline=time.monotonic() + _START_TIMEOUT_S, cpus=cpus, stop_signal=signal.SIGINT,
        )
        return cls(process, out_path, time.monotonic())

    def _cpu_s(self) -> float | None:
        import psutil

        try:
            times = psutil.Process(self._process.pid).cpu_times()
        except (psutil.Error, ValueError):
            return None
        return float(times.user + times.system + times.children_user + times.children_system)

    def finish(self) -> Capture:
        """Stop py-spy (SIGINT: it writes its file and exits), read its file, and say what it cost."""
        duration = time.monotonic() - self._started
        early = self._process.returncode  # py-spy ended before we asked: it failed (or the server ended)
        cpu_s = self._cpu_s() if early is None else None
        try:
            self._process.stop(grace_s=_FINISH_TIMEOUT_S)
        finally:
            with contextlib.suppress(Exception):
                self._process.stop()
        log = self._process.log_tail(lines=8)
        try:
            text = self._out_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        stacks = parse_raw(text)
        if not stacks:
            lines = [line.strip() for line in log.splitlines() if line.strip()]
            first = next((line for line in lines if "rror" in line), lines[-1] if lines else "")
            why = first or f"py-spy wrote no samples (exit code {self._process.returncode})"
            return Capture(duration_s=duration, cpu_s=cpu_s, error=why, refused=refusal(log))
        return Capture(stacks=stacks, samples=sum(stacks.values()), duration_s=duration, cpu_s=cpu_s)
