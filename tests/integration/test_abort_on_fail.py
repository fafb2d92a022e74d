"""--abort-on-fail: the thresholds checked every second on the figures so far end a failing trial early."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from servers_for_tests import test_server

from loadbench.cli import main

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@click.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def cli(argv: tuple[str, ...]) -> None:
    """The `loadbench` console script (exit codes included) as a click command, for CliRunner."""
    main(list(argv))


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_failing_threshold_ends_the_trial_early_aborted_exit_10(tmp_path: Path, processes: str) -> None:
    out = tmp_path / "r.json"
    with test_server("slow", delay_ms=20, slots=1) as srv:  # ≥ 20 ms per request: p(99)<5ms fails
        t0 = time.monotonic()
        result = CliRunner().invoke(cli, [
            "bench", f"{srv.url}/", "-c", "2", "-d", "30s", "--processes", processes,
            "--threshold", "p(99)<5ms", "--abort-on-fail", "--abort-delay", "1s", "--json", str(out),
        ])  # fmt: skip
        took = time.monotonic() - t0
    assert result.exit_code == 10, result.output
    assert took < 15  # not the 30 s asked for
    assert "aborted: p(99)<5ms failed after" in result.stderr
    record = json.loads(out.read_text())
    assert record["aborted"] is True and record["duration_s"] < 10 and record["requests"] > 0


def test_a_passing_threshold_runs_to_the_end_unaborted(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    with test_server("ok") as srv:
        result = CliRunner().invoke(cli, [
            "bench", f"{srv.url}/", "-c", "2", "-d", "2s", "--threshold", "error_rate<50%",
            "--abort-on-fail", "--abort-delay", "0s", "--json", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["aborted"] is False and record["duration_s"] >= 1.9


def test_abort_on_fail_needs_a_threshold() -> None:
    result = CliRunner().invoke(cli, ["bench", "http://127.0.0.1:1/", "--abort-on-fail"])
    assert result.exit_code == 2
    assert result.stderr == ("Error: --abort-on-fail needs at least one --threshold to check, e.g. "
                             "--threshold 'p(99)<50ms'\n")  # fmt: skip


SCENARIO = """\
name = "abort"
[[servers]]
model = "uvicorn"
[[endpoints]]
path = "/plaintext"
[load]
connections = [2]
duration = "30s"
warmup = "0s"
repeat = 1
[thresholds]
checks = ["p99 < 1us"]
"""


def test_run_abort_on_fail_ends_the_trial_and_exits_10(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    scenario = tmp_path / "abort.toml"
    scenario.write_text(SCENARIO)
    t0 = time.monotonic()
    result = CliRunner().invoke(cli, ["run", str(scenario), "--out", str(tmp_path / "out"), "--no-report",
                                      "--quiet", "--abort-on-fail", "--abort-delay", "1s"])  # fmt: skip
    took = time.monotonic() - t0
    assert result.exit_code == 10, result.output
    assert "aborted: 1 trial(s) ended early by a failing threshold (--abort-on-fail)" in result.stderr
    assert took < 25
    from loadbench.results.file import read_results

    (trial,) = read_results(tmp_path / "out" / "results.jsonl").trials
    assert trial.aborted and trial.duration_s < 10


def test_run_abort_on_fail_needs_thresholds(tmp_path: Path) -> None:
    scenario = tmp_path / "none.toml"
    scenario.write_text(SCENARIO.replace('[thresholds]\nchecks = ["p99 < 1us"]\n', ""))
    result = CliRunner().invoke(cli, ["run", str(scenario), "--abort-on-fail"])
    assert result.exit_code == 2
    assert f"--abort-on-fail: {scenario} has no [thresholds] checks to hold" in result.stderr
