"""`report --format hgrm`: wrk2's percentile distribution, one block per trial, parsed back to the same
percentiles the results hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from synthetic import write_synthetic_results

from loadbench.cli import cli
from loadbench.report.hgrm import percentile_levels
from loadbench.results.file import read_results

_ROW = re.compile(r"^\s*([\d.]+)\s+([\d.]+)\s+(\d+)(?:\s+([\d.]+))?$")


def _parse(text: str) -> dict[str, list[tuple[float, float, int]]]:
    """trial id -> [(value ms, percentile 0..1, total count)], the way HdrHistogram's plotter reads it."""
    blocks: dict[str, list[tuple[float, float, int]]] = {}
    current: list[tuple[float, float, int]] = []
    for line in text.splitlines():
        if line.startswith("# trial "):
            current = blocks.setdefault(line.removeprefix("# trial "), [])
        elif (match := _ROW.match(line)) is not None:
            current.append((float(match[1]), float(match[2]), int(match[3])))
    return blocks


def test_levels_follow_hdrhistogram() -> None:
    levels = percentile_levels(1_000_000)
    assert levels[:6] == pytest.approx([0.0, 10.0, 20.0, 30.0, 40.0, 50.0])
    assert levels[6:11] == pytest.approx([55.0, 60.0, 65.0, 70.0, 75.0])
    assert levels[11] == pytest.approx(77.5) and levels[-1] == 100.0
    assert percentile_levels(1)[0] == 0.0 and percentile_levels(1)[-1] == 100.0


def test_hgrm_parses_back_to_the_stored_percentiles(tmp_path: Path) -> None:
    path = write_synthetic_results(tmp_path / "r.jsonl", models=("uvicorn", "waitress"),
                                   workloads=("/plaintext",), loads=(16,), repetitions=2)
    result = CliRunner().invoke(cli, ["report", str(path), "--format", "hgrm"])
    assert result.exit_code == 0, result.output
    blocks = _parse(result.output)
    trials = read_results(path).trials
    assert set(blocks) == {t.trial_id for t in trials}
    for trial in trials:
        histogram = trial.latency_histogram()
        assert histogram is not None
        rows = blocks[trial.trial_id]
        assert rows[-1][1] == 1.0 and rows[-1][2] == histogram.count
        assert [r[2] for r in rows] == sorted(r[2] for r in rows)  # cumulative counts never fall
        for value_ms, fraction, _ in rows:
            assert value_ms == pytest.approx(histogram.percentile(fraction * 100) / 1e6, abs=0.0005)
        by_level = {round(f, 6): v for v, f, _ in rows}
        assert by_level[0.5] == pytest.approx(trial.latency_ms["p50"], abs=0.0005)  # type: ignore[index]
        assert by_level[0.9] == pytest.approx(trial.latency_ms["p90"], abs=0.0005)  # type: ignore[index]
    assert "#[Mean    =" in result.output and "SubBuckets     =         2048]" in result.output


def test_hgrm_file_by_suffix(tmp_path: Path) -> None:
    path = write_synthetic_results(tmp_path / "r.jsonl", models=("uvicorn",), workloads=("/plaintext",),
                                   loads=(16,), repetitions=1)
    out = tmp_path / "latency.hgrm"
    result = CliRunner().invoke(cli, ["report", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("# trial uvicorn")
