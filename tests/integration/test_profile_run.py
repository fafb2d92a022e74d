"""`loadbench run --profile` with real py-spy: a profile line with the app's hot function, a report rebuilt
from the file alone, and no py-spy process left after the run or after loadbench is killed mid-profile."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest
from runner_support import small_scenario, watched_run

from loadbench.analysis.profiles import view_profile
from loadbench.profile.pyspy import find_pyspy
from loadbench.report import write_report
from loadbench.results.file import read_results

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_pyspy() is None, reason="py-spy is missing: pip install 'loadbench[profile]'"),
]

HOT = "/cpu?n=20000"  # the bundled app's cpu_work holds the CPU for a few ms a request


def _pyspy_in(pids: list[int]) -> list[int]:
    found = []
    for pid in pids:
        try:
            if psutil.Process(pid).name() == "py-spy":
                found.append(pid)
        except psutil.Error:
            pass
    return found


def test_profiled_run_finds_the_hot_function_and_the_report_rebuilds(tmp_path: Path) -> None:
    scenario = small_scenario(tmp_path, "hot", servers=("uvicorn", "nginx"), connections=(1, 4),
                              duration="1s", warmup="0.3s", path=HOT)
    out = tmp_path / "run"
    with watched_run([str(scenario), "--quick", "--profile"], out) as run:
        assert run.proc.wait(timeout=90) == 0, (tmp_path / "run.out").read_text()
        assert run.watcher.wait_gone(5.0) == [], "a process of the run outlived it"
    printed = (tmp_path / "run.out").read_text()
    results = read_results(out / "results.jsonl")
    assert not results.warnings, results.warnings
    assert all(not t.trial_id.endswith("|profile") for t in results.trials)  # never a measurement
    by_model = {p.model: p for p in results.profiles}
    uvicorn = by_model["uvicorn"]
    assert uvicorn.profiled and uvicorn.load_label == "4c" and uvicorn.samples > 20
    assert uvicorn.sampler["rate_hz"] == 100 and uvicorn.sampler["idle"] is False
    assert uvicorn.sampler_cpu_pct is not None and uvicorn.sampler_cpu_pct < 50
    top = view_profile(uvicorn).top_own[0]
    assert (top.function, top.path) == ("cpu_work", "loadbench/app/endpoints.py")
    if "nginx" in by_model:  # installed here: said plainly, not profiled
        assert not by_model["nginx"].profiled and "written in C" in by_model["nginx"].reason
    assert "profile of uvicorn at 4c" in printed and "cpu_work" in printed

    # The report is rebuilt from the results file alone.
    (out / "profiles").rename(tmp_path / "raw-profiles")
    html = write_report(out / "results.jsonl").read_text()
    assert "Inside the servers" in html and 'class="flame"' in html and "cpu_work" in html
    assert "<script" not in html


def test_no_pyspy_outlives_a_killed_run(tmp_path: Path) -> None:
    scenario = small_scenario(tmp_path, "kill", servers=("uvicorn",), connections=(2,), duration="3s",
                              warmup="0.2s", path=HOT)
    out = tmp_path / "run"
    with watched_run([str(scenario), "--profile"], out) as run:
        deadline = time.monotonic() + 30
        spies: list[int] = []
        while not spies and time.monotonic() < deadline and run.proc.poll() is None:
            time.sleep(0.05)
            spies = _pyspy_in(run.watcher.alive())
        assert spies, "py-spy never started"
        os.kill(run.proc.pid, signal.SIGKILL)
        run.proc.wait()
        assert run.watcher.wait_gone(10.0) == [], "a process of the killed run outlived it"
