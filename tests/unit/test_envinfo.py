"""envinfo.collect_env: the documented keys, JSON-ready, no imports of what it reports, never raises."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
from pathlib import Path

import pytest

from loadbench import __version__
from loadbench.results import env as envinfo

KEYS = {
    "hostname", "os", "kernel", "cpu_model", "cpu_count", "affinity", "cpu_governor", "mem_total_mb",
    "python", "implementation", "python_executable", "loadbench_version", "packages", "event_loop",
    "server_cpus", "client_cpus", "loadavg",
}  # fmt: skip


def test_collect_env_has_the_documented_keys_and_is_json_ready() -> None:
    env = envinfo.collect_env(server_cpus=(0,), client_cpus=[1])
    assert set(env) == KEYS
    assert json.loads(json.dumps(env, allow_nan=False)) == env
    assert env["python"] == platform.python_version() and env["implementation"] == "CPython"
    assert env["server_cpus"] == [0] and env["client_cpus"] == [1]
    assert env["cpu_count"] == os.cpu_count() and env["affinity"] == sorted(os.sched_getaffinity(0))
    assert env["loadbench_version"] == __version__ == env["packages"]["loadbench"]
    assert set(env["packages"]) == set(envinfo.PACKAGES)
    assert env["packages"]["psutil"] == importlib.metadata.version("psutil")
    assert env["event_loop"] == ("uvloop" if importlib.util.find_spec("uvloop") else "asyncio")
    assert env["os"].startswith(platform.system()) and env["kernel"] == platform.release()
    assert isinstance(env["loadavg"], list) and len(env["loadavg"]) == 3


def test_pinning_defaults_to_none() -> None:
    env = envinfo.collect_env()
    assert env["server_cpus"] is None and env["client_cpus"] is None


def test_missing_packages_are_none_and_nothing_is_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envinfo, "PACKAGES", ("no-such-package-loadbench-test", "locust", "gevent"))
    before = set(sys.modules)
    env = envinfo.collect_env()
    assert env["packages"]["no-such-package-loadbench-test"] is None
    assert not {"locust", "gevent", "uvloop"} & (set(sys.modules) - before)


def test_unreadable_system_files_give_none_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    def no_affinity(pid: int) -> set[int]:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(Path, "read_text", refuse)
    monkeypatch.setattr(os, "sched_getaffinity", no_affinity)
    env = envinfo.collect_env(server_cpus=[0], client_cpus=["x"])  # type: ignore[list-item]
    assert env["cpu_model"] is None and env["mem_total_mb"] is None and env["cpu_governor"] is None
    assert env["affinity"] is None and env["client_cpus"] is None and env["server_cpus"] == [0]
    assert env["os"] == f"{platform.system()} {platform.release()}"


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="needs Linux /proc")
def test_cpu_model_and_memory_come_from_proc() -> None:
    env = envinfo.collect_env()
    assert env["cpu_model"] and isinstance(env["mem_total_mb"], float) and env["mem_total_mb"] > 100
