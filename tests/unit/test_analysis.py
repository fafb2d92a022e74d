"""Medians, order-statistic intervals and summaries on hand-made data and seeded synthetic results."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from synthetic import write_synthetic_results

from loadbench.analysis.stats import ci_coverage
from loadbench.analysis.summary import Estimate, median_ci, summarize
from loadbench.results.file import read_results


@pytest.mark.parametrize(
    ("values", "median", "low", "high", "coverage"),
    [
        pytest.param([], math.nan, math.nan, math.nan, 0.0, id="empty"),
        pytest.param([7.0], 7.0, 7.0, 7.0, 0.0, id="one value: no interval"),
        pytest.param([4.0, 2.0], 3.0, 2.0, 4.0, 0.5, id="two: min-max covers 50%"),
        pytest.param([3.0, 1.0, 2.0], 2.0, 1.0, 3.0, 0.75, id="three: min-max covers 75%"),
        pytest.param([5, 1, 4, 2, 3], 3.0, 1.0, 5.0, 0.9375, id="five: min-max covers 93.75%"),
        pytest.param([6, 1, 5, 2, 4, 3], 3.5, 1.0, 6.0, 0.96875, id="six: first to reach 95%"),
        # n=10: [x(2), x(9)] covers 97.85 %, [x(3), x(8)] only 89.06 %, so the 2nd and 9th values.
        pytest.param(list(range(10, 0, -1)), 5.5, 2.0, 9.0, 1 - 2 * 11 / 1024, id="ten: x(2)..x(9)"),
        pytest.param([1.0, None, math.nan, 3.0, math.inf], 2.0, 1.0, 3.0, 0.5, id="missing values dropped"),
    ],
)
def test_median_ci_hand_made(
    values: list[float], median: float, low: float, high: float, coverage: float
) -> None:
    est = median_ci(values)
    for got, want in ((est.median, median), (est.low, low), (est.high, high)):
        assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want)
    assert est.coverage == pytest.approx(coverage)


def test_median_ci_narrows_with_more_repetitions_and_keeps_coverage() -> None:
    values = [float(v) for v in range(1, 41)]
    est = median_ci(values, confidence=0.95)
    assert est.coverage >= 0.95
    assert 1.0 < est.low < est.median < est.high < 40.0
    # One step narrower would fall below 95 %: the chosen interval is the narrowest that qualifies.
    j = values.index(est.low) + 1
    assert ci_coverage(40, j + 1) < 0.95 <= ci_coverage(40, j)


def test_lower_confidence_gives_a_narrower_interval() -> None:
    values = list(range(20))
    wide, narrow = median_ci(values, 0.99), median_ci(values, 0.80)
    assert narrow.high - narrow.low < wide.high - wide.low
    assert narrow.coverage >= 0.80


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> object:
    path = write_synthetic_results(
        tmp_path_factory.mktemp("analysis") / "results.jsonl", seed=3,
        models=("waitress", "gunicorn", "uvicorn"), workloads=("/plaintext", "/io?ms=20"),
        loads=(1, 16, 64), repetitions=3, failed=(0,), saturated_every=7,
    )
    return summarize(read_results(path))


def test_points_cover_every_model_and_load(summary) -> None:  # type: ignore[no-untyped-def]
    assert [w.workload for w in summary.workloads] == ["/plaintext", "/io?ms=20"]
    for w in summary.workloads:
        assert w.models == ("waitress", "gunicorn", "uvicorn")
        assert [(p.model, p.load_label) for p in w.points][:3] == [
            ("waitress", "1c"), ("waitress", "16c"), ("waitress", "64c")
        ]
        assert len(w.points) == 9


def test_failed_trial_is_counted_and_left_out_of_the_median(summary) -> None:  # type: ignore[no-untyped-def]
    point = summary.workloads[0].points[0]  # waitress /plaintext 1c: trial 0 failed
    assert (point.failed, point.repetitions, point.rps.n) == (1, 2, 2)
    assert [t.trial_id for t in summary.failed] == ["waitress|/plaintext|1c|1"]
    assert "did not answer" in summary.failed[0].reasons[0]
    assert "OSError" in summary.failed[0].log_tail


def test_median_matches_the_raw_table(summary) -> None:  # type: ignore[no-untyped-def]
    table = summary.table
    rows = table[(table.model == "uvicorn") & (table.workload == "/io?ms=20") & (table.load_label == "64c")]
    point = next(p for p in summary.workloads[1].points if p.model == "uvicorn" and p.load_label == "64c")
    assert point.rps.median == pytest.approx(sorted(rows.rps)[1])
    assert (point.rps.low, point.rps.high) == (min(rows.rps), max(rows.rps))
    assert point.rps.coverage == pytest.approx(0.75)


def test_saturated_trials_are_listed(summary) -> None:  # type: ignore[no-untyped-def]
    indices = set(summary.table[summary.table.saturated]["index"])
    assert indices == {i for i in range(0, 54, 7)} - {0}  # trial 0 failed before it could saturate
    assert len(summary.saturated) == len(indices)


def test_verdict_for_io_names_the_event_loop_and_pre_fork_blocking(summary) -> None:  # type: ignore[no-untyped-def]
    verdict = summary.workloads[1].verdict
    assert (verdict.winner, verdict.worst, verdict.metric) == ("uvicorn", "gunicorn", "rps")
    assert verdict.ratio_worst > 10
    assert "block" in verdict.reason and "event loop" in verdict.reason
    assert verdict.significant is True
    assert verdict.sentence.startswith("On /io?ms=20, uvicorn (event-loop) wins")


def test_three_repetitions_note_states_the_real_coverage(summary) -> None:  # type: ignore[no-untyped-def]
    assert any("75.0%" in note for note in summary.notes)
    assert "order-statistic" in summary.ci_method


def test_one_repetition_says_the_run_proves_little(tmp_path: Path) -> None:
    path = write_synthetic_results(tmp_path / "r.jsonl", repetitions=1, workloads=("/plaintext",))
    summary = summarize(read_results(path))
    assert any("proves little" in note for note in summary.notes)
    point = summary.workloads[0].points[0]
    assert point.rps == Estimate(median=point.rps.median, low=point.rps.median, high=point.rps.median,
                                 n=1, coverage=0.0)
    assert summary.workloads[0].verdict is not None
    assert summary.workloads[0].verdict.significant is None
    assert "untested" in summary.workloads[0].verdict.sentence


def test_heaviest_point_detail_has_spectrum_timeline_and_monitor(summary) -> None:  # type: ignore[no-untyped-def]
    details = {d.model: d for d in summary.workloads[0].details}
    assert set(details) == {"waitress", "gunicorn", "uvicorn"}
    d = details["uvicorn"]
    assert d.load_label == "64c"
    assert d.spectrum_pct[0] == 0.0 and 99.0 < d.spectrum_pct[-1] <= 99.99 + 1e-6
    assert list(d.spectrum_ms) == sorted(d.spectrum_ms)  # percentiles never decrease
    assert len(d.timeline_s) == 5 and len(d.monitor_s) == 20


def test_open_loop_verdict_ranks_by_p99(tmp_path: Path) -> None:
    from loadbench.types import Open

    path = write_synthetic_results(tmp_path / "open.jsonl", workloads=("/io?ms=20",),
                                   loads=(Open(rate_per_s=50.0), Open(rate_per_s=150.0)))
    w = summarize(read_results(path)).workloads[0]
    assert (w.load_kind, w.load_axis) == ("open", "offered rate (requests/s)")
    assert w.verdict is not None and w.verdict.metric == "p99_ms"
    p99 = {p.model: p.p99_ms.median for p in w.points if p.load_value == 150.0}
    assert w.verdict.winner == min(p99, key=p99.__getitem__)
    assert "lower than" in w.verdict.sentence


def _with_other_cpu(path: Path, other_cpu_pct: dict[int, float | None]) -> Path:
    """Rewrite the `other_cpu_pct` of the trials at the given indices (line 1 is the header)."""
    import json

    lines = path.read_text(encoding="utf-8").splitlines()
    for index, value in other_cpu_pct.items():
        record = json.loads(lines[index + 1])
        record["other_cpu_pct"] = value
        lines[index + 1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_busy_trials_are_counted_per_point_and_announced(tmp_path: Path) -> None:
    path = write_synthetic_results(tmp_path / "r.jsonl", models=("waitress", "uvicorn"),
                                   workloads=("/plaintext",), loads=(1, 16), repetitions=3)
    # Trials 1 and 5: waitress 16c, repetitions 1 and 2; trial 2: uvicorn 1c (10.0 is not above the limit).
    summary = summarize(read_results(_with_other_cpu(path, {1: 35.5, 5: 12.0, 2: 10.0, 3: None})))
    points = {(p.model, p.load_label): p for p in summary.workloads[0].points}
    assert (points["waitress", "16c"].busy, points["waitress", "16c"].other_cpu_pct_max) == (2, 35.5)
    assert points["uvicorn", "1c"].busy == 0 and points["uvicorn", "1c"].other_cpu_pct_max == 10.0
    assert sum(p.busy for p in points.values()) == 2
    assert [t.trial_id for t in summary.busy] == ["waitress|/plaintext|16c|1", "waitress|/plaintext|16c|2"]
    assert summary.busy_note.startswith("Other processes used up to 36 % of a core during 2 of 12 trials")
    assert "rerun on a quiet machine" in summary.busy_note
    assert list(summary.table["busy"]).count(True) == 2 and summary.table["other_cpu_pct"][1] == 35.5


def test_a_quiet_run_has_no_busy_note(summary) -> None:  # type: ignore[no-untyped-def]
    assert summary.busy == () and summary.busy_note == ""
    assert all(p.busy == 0 and p.other_cpu_pct_max < 10 for w in summary.workloads for p in w.points)
