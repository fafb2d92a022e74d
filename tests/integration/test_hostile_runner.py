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


DIES = """name = "dies"

[app]
command = ["{python}", "{server}", "bypath", "--delay-ms", "{die_ms}", "--port", "{{port}}"]
ready_path = "/ok"

[[endpoints]]
path = "/die"

[load]
connections = [2]
duration = "1s"
warmup = "0.2s"
timeout = "0.5s"
repeat = 1
preflight = false
"""


@pytest.mark.parametrize(("die_ms", "answered"), [(600, True), (50, False)])  # mid-window; in the warm-up
def test_a_server_dying_mid_trial_is_a_failed_trial_that_keeps_what_was_measured(
    tmp_path: Path, die_ms: int, answered: bool
) -> None:
    path = tmp_path / "dies.toml"
    path.write_text(DIES.format(python=sys.executable, server=SERVER, die_ms=die_ms), encoding="utf-8")
    outcome = run_plan(build_plan(load_scenario(path)), run_dir=tmp_path / "run")
    assert (outcome.trials_written, outcome.trials_failed) == (1, 1)
    (trial,) = read_results(outcome.results_path).trials
    assert not trial.status_ok and trial.failure is not None
    assert trial.failure["reason"] == "during the trial, command exited with code 3", trial.failure
    assert "dying now" in trial.failure["log_tail"]
    assert trial.errors["connect_refused"] > 0  # the refused connections after the death are counted
    assert (trial.requests > 0) is answered  # and the answers before it are kept, not zeroed
