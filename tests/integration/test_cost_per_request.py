"""The server's CPU per request (`server_cpu_us_per_request`, metric `cpu_per_request`) against real servers.

Two claims, each side by side in one run so the machine's state cancels out:

* it measures the cost: the bundled app with a busy delay of 2000 µs of CPU per request costs 2000 µs more
  per request than the same app without (± 30 %: the monitor window and the app's own cost wobble);
* it ignores what a neighbour steals: a CPU hog pinned to the server's core cuts the throughput, yet moves
  the cost per request relatively less (the ordering of the two changes is asserted, not a timing).

Absolute figures belong in benchmarks/gate_false_alarms.py; these only check the metric works.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from runner_support import watched_run

from loadbench.cli import main
from loadbench.engine import drive
from loadbench.monitor import ProcessMonitor
from loadbench.results.file import read_results
from loadbench.servers.base import AppSpec, ServerOptions
from loadbench.servers.registry import get_model
from loadbench.types import Closed, DriveOptions, RequestSpec, Target

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SERVER_CPU, CLIENT_CPU = 0, 1
DELAY_US = 2000

PAIRED = f"""\
name = "cost-smoke"
[app]
env = {{ LOADBENCH_APP_DELAY_US = "0" }}
[[servers]]
model = "uvicorn"
[[endpoints]]
path = "/plaintext"
[load]
connections = [2]
duration = "0.5s"
warmup = "0.2s"
timeout = "2s"
[[variants]]
name = "baseline"
[[variants]]
name = "candidate"
env = {{ LOADBENCH_APP_DELAY_US = "{DELAY_US}" }}
[paired]
rounds = 6
order = "ABBA"
"""

HOG = "while True: pass\n"


def _main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    out, err = capsys.readouterr()
    return int(stopped.value.code or 0), out + err


def _two_cpus() -> bool:
    return hasattr(os, "sched_getaffinity") and {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0)


needs_two_cpus = pytest.mark.skipif(not _two_cpus(), reason="needs CPUs 0 and 1")


@needs_two_cpus
def test_busy_delay_shows_in_cpu_per_request_and_compare_and_check_gate_on_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "cost-smoke.toml"
    scenario.write_text(PAIRED)
    with watched_run([str(scenario), "--no-report"], tmp_path / "run") as run:
        code = run.proc.wait(150)
    assert code == 0, run.output()
    trials = read_results(run.results).trials
    cost = {
        side: statistics.median(
            t.server_cpu_us_per_request for t in trials
            if t.variant == side and t.server_cpu_us_per_request is not None
        )
        for side in ("baseline", "candidate")
    }  # fmt: skip
    added = cost["candidate"] - cost["baseline"]
    assert added == pytest.approx(DELAY_US, rel=0.30), cost

    code, out = _main(["compare", str(run.results), "--metric", "cpu_per_request"], capsys)
    assert code == 10, out
    assert "regression" in out
    code, out = _main(["check", str(run.results), "-t", "cpu_per_request{variant=baseline} < 2000us",
                       "-t", "cpu_per_request{variant=candidate} > 1500us"], capsys)  # fmt: skip
    assert code == 0, out
    code, out = _main(["check", str(run.results), "-t", "cpu_per_request < 1500us"], capsys)
    assert code == 10, out
    assert "cpu_per_request" in out and "FAILED" in out


@pytest.fixture
def hog() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start CPU hogs pinned to the server's core on demand; each is killed (by its pid) at teardown."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()


def _start_hog() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", HOG], preexec_fn=lambda: os.sched_setaffinity(0, {SERVER_CPU}),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


@needs_two_cpus
def test_a_hog_on_the_server_core_cuts_rps_more_than_it_moves_cpu_per_request(
    hog: list[subprocess.Popen[bytes]],
) -> None:
    # A CPU-bound server (500 µs of CPU per request), kept up across alternating windows with and without a
    # hog on its core: ABAB ABAB, medians of 3 windows each.
    app = AppSpec(env=(("LOADBENCH_APP_DELAY_US", "500"),))
    figures: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    with get_model("uvicorn").start(app, ServerOptions(cpus=(SERVER_CPU,))) as server:
        target = Target(host="127.0.0.1", port=server.port)
        options = DriveOptions(duration_s=0.8, warmup_s=0.0, timeout_s=5.0, cpus=(CLIENT_CPU,))
        requests = [RequestSpec(path="/plaintext")]
        drive(target, requests, Closed(connections=2), options)  # warm-up, not measured
        for hogged in (False, True) * 3:
            proc = _start_hog() if hogged else None
            if proc is not None:
                hog.append(proc)
            with ProcessMonitor(server.pids) as monitor:
                recording = drive(target, requests, Closed(connections=2), options)
            if proc is not None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            summary = monitor.summary
            assert summary is not None
            cost = summary.cpu_us_per_request(recording.requests)
            assert cost is not None
            figures[hogged].append((recording.to_record()["rps"], cost))
    rps = {k: statistics.median(r for r, _ in v) for k, v in figures.items()}
    cost = {k: statistics.median(c for _, c in v) for k, v in figures.items()}
    rps_change = abs(rps[True] / rps[False] - 1)
    cost_change = abs(cost[True] / cost[False] - 1)
    assert rps[True] < rps[False], figures
    assert cost_change < rps_change, (figures, f"rps {rps_change:.1%} cost {cost_change:.1%}")
