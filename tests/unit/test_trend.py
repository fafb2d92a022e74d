"""`loadbench trend` and the change-point test under it: a planted step is found, flat noise has none."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from loadbench.analysis.changepoint import find_steps
from loadbench.cli import main
from loadbench.results.build import TrialIdentity, measured_trial
from loadbench.results.file import ResultsWriter
from loadbench.results.records import make_header
from loadbench.types import Closed

START = datetime(2026, 11, 1, tzinfo=UTC)


def _series(n: int, *, step_at: int | None = None, factor: float = 1.0, noise: float = 0.03,
            seed: int = 1) -> list[float]:  # fmt: skip
    rng = random.Random(seed)
    return [1000 * (1 + rng.gauss(0, noise)) * (factor if step_at is not None and i >= step_at else 1.0)
            for i in range(n)]  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
def test_a_planted_step_is_found_where_it_was_planted(seed: int) -> None:
    steps = find_steps(_series(12, step_at=7, factor=0.8, seed=seed), min_change=0.05)
    assert [s.index for s in steps] == [7]
    assert steps[0].ratio == pytest.approx(0.8, abs=0.05) and steps[0].confidence >= 0.95


@pytest.mark.parametrize("seed", range(5))
def test_flat_noise_has_no_step(seed: int) -> None:
    assert find_steps(_series(12, seed=seed), min_change=0.05) == []


def test_two_steps_and_the_minimum_segment() -> None:
    values = [100.0] * 5 + [130.0] * 5 + [100.0] * 5
    assert [(s.index, round(s.ratio, 2)) for s in find_steps(values)] == [(5, 1.3), (10, 0.77)]
    # a single wild newest value is an outlier, not a step (each side needs 2 results)
    assert find_steps([100.0, 101.0, 99.0, 100.5, 99.5, 100.0, 150.0]) == []


def test_values_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        find_steps([1.0, 0.0, 2.0])


def _history(directory: Path, values: list[float], *, metric_key: str = "rps") -> list[Path]:
    """One results file per value, an hour apart, each one uvicorn trial whose `metric_key` is the value."""
    paths = []
    for i, value in enumerate(values):
        header = make_header(scenario_name="history", created=START + timedelta(hours=i),
                             git_commit=f"{i:02d}" + "a" * 38)  # fmt: skip
        identity = TrialIdentity(trial_id="t", index=0, model="uvicorn", workload="/plaintext",
                                 load=Closed(connections=16), started=START)  # fmt: skip
        record = {"duration_s": 5.0, "requests": int(value * 5), "ok": int(value * 5), "rps": value,
                  "server_cpu_us_per_request": 1e6 / value}  # fmt: skip
        path = directory / f"r{i:02d}.jsonl"
        with ResultsWriter(path, header) as writer:
            writer.append(measured_trial(identity, record))
        paths.append(path)
    return paths


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    out, err = capsys.readouterr()
    return int(stopped.value.code or 0), out + err


def test_trend_cli_finds_the_planted_regression_and_writes_a_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _history(tmp_path, _series(12, step_at=8, factor=0.8))
    shuffled = list(reversed(paths))  # ordered by header time, not by the order given
    html = tmp_path / "trend.html"
    code, out = _run(["trend", *map(str, shuffled), "-o", str(html)], capsys)
    assert code == 10, out
    assert "REGRESSION" in out and "at #9" in out and "Result: regression (exit 10)" in out
    page = html.read_text()
    assert "<svg" in page and "Taylor" in page and "08aaaaaaaaaa" in page
    # cpu_per_request went up by the same step: a regression too
    code, out = _run(["trend", *map(str, paths), "--metric", "cpu_per_request"], capsys)
    assert code == 10 and "+2" in out, out


def test_trend_cli_passes_flat_noise_and_improvements(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flat = _history(tmp_path / "flat", _series(12, seed=3))
    code, out = _run(["trend", *map(str, flat), "--metric", "rps"], capsys)
    assert code == 0, out
    assert "no step of 5% or more" in out
    faster = _history(tmp_path / "faster", _series(12, step_at=6, factor=1.25, seed=4))
    code, out = _run(["trend", *map(str, faster), "--metric", "rps"], capsys)
    assert code == 0 and "improvement" in out, out


def test_trend_follows_cost_per_request_by_default_where_every_trial_measured_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flat = _history(tmp_path / "flat", _series(12, seed=3))
    code, out = _run(["trend", *map(str, flat)], capsys)
    assert code == 0 and "(cpu_per_request)" in out and "no step of 2.5% or more" in out, out


def test_trend_needs_two_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (one,) = _history(tmp_path, [1000.0])
    code, out = _run(["trend", str(one)], capsys)
    assert code == 2 and "at least 2 results files" in out
