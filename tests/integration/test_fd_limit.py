"""More connections than the file-descriptor limit allows (issue 7, item 3), against a real uvicorn on
127.0.0.1: with a hard limit too low, `loadbench bench` says what the limit is and how to raise it; with
only the soft limit too low, it raises the soft limit and runs. The limits are lowered in the child only
(preexec_fn), never in the test process."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from loadbench.errors import ExitCode
from loadbench.servers.base import AppSpec, ServerOptions
from loadbench.servers.registry import get_model

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    model = get_model("uvicorn")
    why_not = model.available()
    if why_not is not None:
        pytest.skip(why_not)
    with model.start(AppSpec(), ServerOptions()) as server:
        yield server.url


def _limit(soft: int, hard: int) -> Callable[[], None]:
    def lower() -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return lower


def _bench(args: list[str], soft: int, hard: int) -> subprocess.CompletedProcess[str]:
    _soft, current_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if current_hard != resource.RLIM_INFINITY and current_hard < hard:
        pytest.skip(f"the hard fd limit here is {current_hard}, below the {hard} this test needs")
    return subprocess.run(
        [sys.executable, "-m", "loadbench", "bench", *args], capture_output=True, text=True, timeout=60,
        preexec_fn=_limit(soft, hard),
    )


def test_hard_limit_too_low_names_the_limit_and_the_fix(server_url: str) -> None:
    done = _bench([f"{server_url}/plaintext", "-c", "1000", "-d", "1s"], soft=256, hard=256)
    assert "Traceback" not in done.stderr
    assert done.returncode in (ExitCode.ERROR, ExitCode.USAGE), done.stderr
    assert done.stderr.startswith("Error: "), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "1000 connections" in done.stderr
    assert "hard limit is 256" in done.stderr
    assert "ulimit -n" in done.stderr
    assert done.stdout == ""  # refused before the run: no summary


def test_soft_limit_below_need_is_raised_and_the_run_completes(server_url: str) -> None:
    """300 connections need ~364 descriptors: above the soft 256, within the hard 4096."""
    done = _bench([f"{server_url}/plaintext", "-c", "300", "-d", "1s", "--json", "-"], soft=256, hard=4096)
    assert done.returncode == ExitCode.OK, done.stderr
    record = json.loads(done.stdout)
    assert record["load"] == {"kind": "closed", "connections": 300}
    assert record["connections_opened"] >= 300
    assert record["requests"] > 0
    assert "Too many open files" not in json.dumps(record["error_messages"])
    assert sum(record["errors"].values()) == 0, record["errors"]


def test_several_engine_processes_under_a_low_soft_limit_run_and_print(server_url: str) -> None:
    # Soft limit 12: before, the second child's spawn pipe failed with EMFILE and a traceback; now the
    # parent lifts the soft limit before it starts its children, as one engine process does.
    done = _bench([f"{server_url}/plaintext", "--processes", "2", "-c", "4", "-d", "0.3s", "--json", "-"],
                  soft=12, hard=4096)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["requests"] > 0 and "Traceback" not in done.stderr


def _ready_then_fail(pipe: object, slow_s: float) -> None:
    """An engine child that says ready, then fails and exits at once (or, slow, stays to be told go)."""
    import time

    time.sleep(slow_s)
    pipe.send(("ready", None))  # type: ignore[attr-defined]
    if slow_s:
        pipe.recv()  # type: ignore[attr-defined]
        return
    pipe.send(("error", (False, "8 connections need about 72 file descriptors but the hard limit is 12")))  # type: ignore[attr-defined]
    pipe.close()  # type: ignore[attr-defined]


def test_an_engine_child_dead_after_ready_is_its_error_not_a_closed_stdout() -> None:
    # Real child processes: one says ready and dies with its error before the parent's "go"; the
    # parent's send then meets EPIPE, which click took for a closed stdout (exit 1, nothing printed).
    import multiprocessing

    from loadbench.engine.native import procs
    from loadbench.errors import EngineError
    from loadbench.shapes import Closed
    from loadbench.types import DriveOptions

    ctx = multiprocessing.get_context("spawn")
    children = []
    for slow_s in (0.0, 1.0):
        parent_end, child_end = ctx.Pipe()
        proc = ctx.Process(target=_ready_then_fail, args=(child_end, slow_s), daemon=True)
        proc.start()
        child_end.close()
        children.append((proc, parent_end))
    try:
        with pytest.raises(EngineError, match="the hard limit is 12"):
            procs._collect(children, Closed(connections=2), DriveOptions(duration_s=0.1), None)
    finally:
        for proc, pipe in children:
            pipe.close()
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
