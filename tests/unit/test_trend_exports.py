"""`report --format bencher` and `--format github-benchmark --metric M` on synthetic results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from synthetic import write_synthetic_results

from loadbench.cli import main


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    out, err = capsys.readouterr()
    return int(stopped.value.code or 0), out + err


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return write_synthetic_results(tmp_path / "r.jsonl", models=("uvicorn",), workloads=("/plaintext",),
                                   loads=(16,), repetitions=3)  # fmt: skip


def test_bencher_metric_format(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(["report", str(results), "--format", "bencher"], capsys)
    assert code == 0, out
    data = json.loads(out)
    (name,) = data
    assert name == "uvicorn /plaintext 16c"
    throughput = data[name]["throughput"]
    assert throughput["lower_value"] <= throughput["value"] <= throughput["upper_value"]
    assert data[name]["latency"]["value"] > 1000  # nanoseconds, Bencher's unit for latency


def test_github_benchmark_one_metric_one_direction(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(["report", str(results), "--format", "github-benchmark"], capsys)
    assert code == 0, out
    (entry,) = json.loads(out)
    assert entry["name"] == "uvicorn /plaintext 16c rps" and entry["unit"] == "req/s"
    assert "customBiggerIsBetter" in entry["extra"] and entry["range"].startswith("± ")
    code, out = _run(["report", str(results), "--format", "github-benchmark", "--metric", "p99"], capsys)
    (entry,) = json.loads(out)
    assert entry["unit"] == "ms" and "customSmallerIsBetter" in entry["extra"]


def test_metric_is_refused_for_formats_of_many_metrics(
    results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(["report", str(results), "--format", "md", "--metric", "p99"], capsys)
    assert code == 2 and "--metric applies to formats of one metric" in out
