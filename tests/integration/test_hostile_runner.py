"""A scenario whose own server misbehaves: the runner writes every trial with its errors counted and
goes on to the next (issue 7, item 2: "the run continues with the next trial")."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from servers_for_tests import SERVER

from loadbench.plan import build_plan
from loadbench.results.file import read_results
from loadbench.runner import run_plan
from loadbench.scenario import load_scenario

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

SCENARIO = """name = "hostile"

[app]
command = ["{python}", "{server}", "bypath", "--port", "{{port}}"]
ready_path = "/ok"

[[endpoints]]
path = "/bad-status"

[[endpoints]]
path = "/long-cl-hang"

[load]
connections = [2]
duration = "0.5s"
warmup = "0.1s"
timeout = "0.5s"
repeat = 1
preflight = false  # these answers are wrong on purpose: measure them, don't refuse them
"""


def test_hostile_workloads_are_written_with_their_errors_and_the_run_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "hostile.toml"
    path.write_text(SCENARIO.format(python=sys.executable, server=SERVER), encoding="utf-8")
    plan = build_plan(load_scenario(path))
    start = time.monotonic()
    outcome = run_plan(plan, run_dir=tmp_path / "run")
    elapsed = time.monotonic() - start
    assert (outcome.trials_planned, outcome.trials_written, outcome.trials_failed) == (2, 2, 0)
    trials = {t.workload: t for t in read_results(outcome.results_path).trials}
    assert set(trials) == {"/bad-status", "/long-cl-hang"}
    bad, hang = trials["/bad-status"], trials["/long-cl-hang"]
    assert bad.failure is None and hang.failure is None
    assert bad.errors["protocol"] > 0 and bad.error_count == bad.errors["protocol"]
    assert hang.errors["timeout"] > 0 and hang.error_count == hang.errors["timeout"]
    assert bad.requests == hang.requests == 0
    assert any("bad status line" in m for m in bad.error_messages)
    # Two trials of warm-up + window + timeout each, plus one server start: nothing waited longer.
    assert elapsed < 2 * (0.1 + 0.5 + 0.5) + 10
