"""Capture the machine and software a run measured on (host, CPU, pinning, versions), once per run.

In the manner of pyperf's _collect_metadata: every probe is cheap (no subprocess, no import of the
packages it reports on) and a probe that fails yields None instead of an error, because a missing
detail must never cost a run its measurements. The dict goes into the results header as `env`.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import platform
import socket
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["PACKAGES", "collect_env"]

# Reported with their versions; None when not installed. Never imported (locust monkey-patches on import).
PACKAGES = (
    "loadbench", "uvicorn", "gunicorn", "waitress", "uvloop", "httptools", "gevent", "psutil", "numpy",
    "pandas", "matplotlib", "httpx", "locust",
)

_T = TypeVar("_T")


def _probe(fn: Callable[[], _T]) -> _T | None:
    """Run one probe; any failure means 'unknown' (None), never an error (see the module docstring)."""
    try:
        return fn()
    except Exception:
        return None


def _read(path: str) -> str:
    return Path(path).read_text(encoding="utf-8", errors="replace")


def _cpu_model() -> str | None:
    for line in _read("/proc/cpuinfo").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "Processor", "cpu model"):
            return value.strip()
    return None


def _os_name() -> str:
    name = f"{platform.system()} {platform.release()}"
    pretty = _probe(_os_release)
    return f"{name} ({pretty})" if pretty else name


def _os_release() -> str | None:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip().strip('"')
    return None


def _governor() -> str | None:
    return _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").strip() or None


def _mem_total_mb() -> float | None:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _loadbench_version() -> str:
    from loadbench import __version__

    return __version__


def _event_loop() -> str:
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def collect_env(
    server_cpus: Iterable[int] | None = None, client_cpus: Iterable[int] | None = None
) -> dict[str, Any]:
    """The `env` dict of the results header; every value is JSON-ready, unknown ones are None.

    Keys: hostname, os, kernel, cpu_model, cpu_count, affinity, cpu_governor, mem_total_mb, python,
    implementation, python_executable, loadbench_version, packages {name: version | None}, event_loop,
    server_cpus, client_cpus, loadavg [1, 5, 15 min]. Takes a few milliseconds; never raises.
    """
    affinity = _probe(lambda: sorted(os.sched_getaffinity(0)))
    loadavg = _probe(lambda: [round(x, 2) for x in os.getloadavg()])
    return {
        "hostname": _probe(socket.gethostname),
        "os": _probe(_os_name),
        "kernel": _probe(platform.release),
        "cpu_model": _probe(_cpu_model),
        "cpu_count": _probe(os.cpu_count),
        "affinity": affinity,
        "cpu_governor": _probe(_governor),
        "mem_total_mb": _probe(_mem_total_mb),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "python_executable": sys.executable,
        "loadbench_version": _probe(_loadbench_version),
        "packages": {name: _probe(functools.partial(_version, name)) for name in PACKAGES},
        "event_loop": _probe(_event_loop),
        "server_cpus": None if server_cpus is None else _probe(lambda: sorted(int(c) for c in server_cpus)),
        "client_cpus": None if client_cpus is None else _probe(lambda: sorted(int(c) for c in client_cpus)),
        "loadavg": loadavg,
    }


def measure_python_startup_ms(runs: int = 5) -> dict[str, float] | None:
    """Median wall time (ms) of `python -c pass` and of `python -c "import loadbench.app.wsgi"`, this
    interpreter, `runs` times each: what a process-per-request (CGI) server pays before the app runs.

    Unlike the probes above this starts 2 × `runs` processes (about a second in all), so the runner asks
    for it only when a run has a process-per-request model. None when a start fails.
    """
    import statistics
    import subprocess
    import time

    def one(code: str) -> float:
        start = time.perf_counter_ns()
        subprocess.run([sys.executable, "-c", code], check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        return (time.perf_counter_ns() - start) / 1e6

    def both() -> dict[str, float]:
        bare = statistics.median(one("pass") for _ in range(runs))
        app = statistics.median(one("import loadbench.app.wsgi") for _ in range(runs))
        return {"bare": round(bare, 2), "with_app_import": round(app, 2)}

    return _probe(both)


def git_commit(directory: str | os.PathLike[str] | None = None) -> str | None:
    """The full commit hash checked out at `directory` (default: the working directory), or None outside
    a git checkout, without git, or if git takes over 2 s. Uncommitted changes are not marked."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "-C", os.fspath(directory or "."), "rev-parse", "--verify", "HEAD"],
            capture_output=True, text=True, timeout=2, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) in (40, 64) else None
