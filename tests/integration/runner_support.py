"""Helpers for the runner's integration tests: scenarios in tmp dirs, `loadbench run` as a subprocess,
the run's whole process tree sampled while it runs, and checks that every process and port is released.

Imported by the test modules of this directory (`from runner_support import ...`: pytest puts this
directory on sys.path) and by benchmarks/orphan_campaign.py.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
_LOG_PORT = re.compile(r"-(\d+)\.log$")


def write_scenario(directory: Path, name: str, body: str) -> Path:
    """Write `body` (TOML, `name = ...` added) to directory/name.toml and return its path."""
    path = directory / f"{name}.toml"
    path.write_text(f'name = "{name}"\n{body}', encoding="utf-8")
    return path


def small_scenario(
    directory: Path, name: str, *, servers: tuple[str, ...] = ("waitress", "uvicorn"),
    connections: tuple[int, ...] = (2,), repeat: int = 1, duration: str = "0.4s", warmup: str = "0.1s",
    app: str = "", path: str = "/plaintext",
) -> Path:
    """A short scenario (each trial ~0.5 s) over `servers`, written into `directory`."""
    parts = [app] if app else []
    parts += [f'[[servers]]\nmodel = "{model}"\n' for model in servers]
    parts.append(f'[[endpoints]]\npath = "{path}"\n')
    parts.append(
        f"[load]\nconnections = {list(connections)}\nduration = \"{duration}\"\nwarmup = \"{warmup}\"\n"
        f"repeat = {repeat}\ntimeout = \"2s\"\n"
    )
    return write_scenario(directory, name, "\n".join(parts))


def loadbench_argv(*args: str) -> list[str]:
    """`python -m loadbench ARGS` with this interpreter."""
    return [sys.executable, "-m", "loadbench", *args]


@dataclass(slots=True)
class TreeWatcher:
    """Samples a process's whole tree every `every_s` in a thread; remembers every process ever seen.

    `seen` maps pid -> create_time (so a reused pid is not mistaken for ours).
    """

    root: int
    every_s: float = 0.02
    seen: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> TreeWatcher:
        self._thread = threading.Thread(target=self._loop, name="tree-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def sample(self) -> None:
        try:
            children = psutil.Process(self.root).children(recursive=True)
        except psutil.Error:
            return
        for child in children:
            if child.pid not in self.seen:
                with contextlib.suppress(psutil.Error):
                    self.seen[child.pid] = child.create_time()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every_s)

    def alive(self) -> list[int]:
        """Pids seen that still run (the same process: same create time, not a zombie)."""
        return [pid for pid, created in self.seen.items() if _runs(pid, created)]

    def wait_gone(self, timeout_s: float = 5.0) -> list[int]:
        """Wait up to `timeout_s` for every seen process to end; return those still running."""
        deadline = time.monotonic() + timeout_s
        left = self.alive()
        while left and time.monotonic() < deadline:
            time.sleep(0.02)
            left = self.alive()
        return left

    def kill_leftovers(self) -> None:
        """SIGKILL whatever seen process still runs (cleanup after a failed assertion)."""
        for pid in self.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _runs(pid: int, created: float) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def server_ports(run_dir: Path) -> list[int]:
    """Ports the run's servers used, read from their log names (logs/NNN-name/MODEL-PORT.log)."""
    logs = (run_dir / "logs").glob("*/*.log")
    return sorted({int(m[1]) for log in logs if (m := _LOG_PORT.search(log.name))})


def port_busy(port: int, ours: set[int]) -> bool:
    """True when 127.0.0.1:`port` is held: bind fails and the listener is one of `ours` (or unknown)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT counts as free
        try:
            sock.bind(("127.0.0.1", port))
            return False
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    holders = {c.pid for c in psutil.net_connections("tcp")
               if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN}
    # Another user's fresh server may have taken the port since: that is not a leak of ours.
    return not holders or bool(holders & ours) or None in holders


def wait_ports_free(ports: list[int], ours: set[int], timeout_s: float = 5.0) -> list[int]:
    """Wait up to `timeout_s` for the ports to be free; return those still busy."""
    deadline = time.monotonic() + timeout_s
    busy = [p for p in ports if port_busy(p, ours)]
    while busy and time.monotonic() < deadline:
        time.sleep(0.05)
        busy = [p for p in busy if port_busy(p, ours)]
    return busy


def trial_lines(results: Path) -> int:
    """Complete trial lines in a results file so far (lines after the header ending in a newline)."""
    try:
        data = results.read_bytes()
    except FileNotFoundError:
        return 0
    return max(0, data.count(b"\n") - 1)


def wait_for_trials(
    results: Path, count: int, proc: subprocess.Popen[bytes], timeout_s: float = 60.0
) -> None:
    """Block until `results` holds `count` trial lines; AssertionError if the run ends or stalls first."""
    deadline = time.monotonic() + timeout_s
    while trial_lines(results) < count:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before {count} trial(s)")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {count} trial(s) in {results} after {timeout_s} s")
        time.sleep(0.01)


@dataclass(slots=True)
class WatchedRun:
    """A `loadbench run` subprocess with its tree watched; stdout and stderr go to files in its dir."""

    proc: subprocess.Popen[bytes]
    watcher: TreeWatcher
    out_dir: Path

    @property
    def results(self) -> Path:
        return self.out_dir / "results.jsonl"

    def output(self) -> str:
        return (self.out_dir.parent / f"{self.out_dir.name}.out").read_text("utf-8", "replace")


@contextlib.contextmanager
def watched_run(args: list[str], out_dir: Path, *, env: dict[str, str] | None = None,
                cwd: Path | None = None) -> Iterator[WatchedRun]:
    """Start `loadbench run ARGS --out out_dir`, sample its tree; on exit leave nothing running.

    The run's working directory defaults to out_dir's parent (not the checkout), as for a user.
    """
    log = out_dir.parent / f"{out_dir.name}.out"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(loadbench_argv("run", *args, "--out", str(out_dir)), stdin=subprocess.DEVNULL,
                                stdout=sink, stderr=subprocess.STDOUT, cwd=cwd or out_dir.parent, env=env)
    watcher = TreeWatcher(proc.pid).start()
    try:
        yield WatchedRun(proc=proc, watcher=watcher, out_dir=out_dir)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        watcher.stop()
        if watcher.wait_gone(5.0):
            watcher.kill_leftovers()


def marked_pids(marker: str) -> list[int]:
    """Pids of live processes whose environment has LOADBENCH_TEST_MARK=`marker` (a failed start's rest)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("LOADBENCH_TEST_MARK") == marker and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found
