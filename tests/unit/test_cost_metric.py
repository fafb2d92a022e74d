"""The server's CPU per request as a metric: threshold grammar, `check`, `compare`, the monitor's arithmetic,
and the hardware-counter probe (which this project's VM refuses: it must say so, not fail)."""

from __future__ import annotations

import math

import pytest
from gate_fakes import FakeTrial

from loadbench.gate.check import check, metric_value
from loadbench.gate.compare import DEFAULT_TOLERANCE, Verdict, higher_is_better
from loadbench.gate.paired import compare_in_run
from loadbench.gate.status import GateStatus
from loadbench.monitor.perf import probe, status
from loadbench.results.monitoring import MonitorSummary
from loadbench.results.records import TrialResult
from loadbench.scenario.thresholds import MetricKind, parse_threshold


@pytest.mark.parametrize(
    ("text", "limit_ms"),
    [
        pytest.param("cpu_per_request < 300us", 0.3, id="us"),
        pytest.param("cpu_per_request < 300µs", 0.3, id="micro-sign"),
        pytest.param("cpu_per_request{model=uvicorn} <= 1.5ms", 1.5, id="ms-with-filter"),
    ],
)
def test_threshold_grammar_takes_cpu_per_request_as_a_time(text: str, limit_ms: float) -> None:
    threshold = parse_threshold(text)
    assert threshold.metric == "cpu_per_request" and threshold.kind is MetricKind.TIME
    assert threshold.limit == pytest.approx(limit_ms)


def test_cpu_per_request_needs_a_time_unit() -> None:
    with pytest.raises(Exception, match="cpu_per_request is a time"):
        parse_threshold("cpu_per_request < 300")


def test_check_reads_server_cpu_us_per_request() -> None:
    trial = FakeTrial(server_cpu_us_per_request=250.0)
    assert metric_value(trial, "cpu_per_request") == pytest.approx(0.25)
    assert metric_value(FakeTrial(), "cpu_per_request") is None  # files from before the key: no figure
    report = check([trial], [parse_threshold("cpu_per_request < 300us")])
    assert [case.status for case in report.cases] == [GateStatus.PASS]
    report = check([trial], [parse_threshold("cpu_per_request < 200us")])
    assert [case.status for case in report.cases] == [GateStatus.FAIL]


def _paired(cost_factor: float, rps_factor: float, rounds: int = 8) -> list[TrialResult]:
    trials = []
    for r in range(1, rounds + 1):
        noise = 1 + 0.2 * math.sin(3 * r)  # a neighbour: throughput swings ±20 % from round to round
        for pos, (variant, cost, rps) in enumerate(
            (("baseline", 100.0, 1000.0), ("candidate", 100.0 * cost_factor, 1000.0 * rps_factor))
        ):
            trials.append(FakeTrial(variant=variant, round=r, repetition=r, index=2 * r + pos,
                                    rps=rps * noise * (1 + 0.01 * pos), server_cpu_us_per_request=cost))
    return trials


def test_compare_gates_on_cpu_per_request_lower_is_better() -> None:
    assert not higher_is_better("cpu_per_request") and DEFAULT_TOLERANCE["cpu_per_request"] == 0.025
    worse = compare_in_run(_paired(1.10, 0.91), baseline=None, candidate=None, metric="cpu_per_request")
    assert worse.verdict is Verdict.REGRESSION
    assert worse.groups[0].change_pct() == pytest.approx(10.0)
    better = compare_in_run(_paired(0.8, 1.25), baseline=None, candidate=None, metric="cpu_per_request")
    assert better.verdict is Verdict.IMPROVEMENT


def test_trials_without_the_figure_are_left_out_not_guessed() -> None:
    trials = [FakeTrial(variant=v, round=r, repetition=r, index=2 * r + i)
              for r in range(1, 9) for i, v in enumerate(("baseline", "candidate"))]  # fmt: skip
    comparison = compare_in_run(trials, baseline=None, candidate=None, metric="cpu_per_request")
    assert comparison.verdict is Verdict.TOO_FEW
    assert "no positive cpu_per_request" in comparison.groups[0].excluded[0]


def _summary(cpu_s: float | None) -> MonitorSummary:
    return MonitorSummary(samples=(), duration_s=2.0, cpu_pct_mean=None, cpu_pct_max=None, rss_mb_mean=None,
                          rss_mb_max=None, processes=1, client_cpu_pct_mean=None, other_cpu_pct_mean=None,
                          server_cpu_s=cpu_s)  # fmt: skip


@pytest.mark.parametrize(
    ("cpu_s", "responses", "expected"),
    [
        pytest.param(0.5, 10_000, 50.0, id="50us"),
        pytest.param(0.5, 0, None, id="no-responses"),
        pytest.param(None, 100, None, id="not-measured"),
    ],
)
def test_cpu_us_per_request(cpu_s: float | None, responses: int, expected: float | None) -> None:
    assert _summary(cpu_s).cpu_us_per_request(responses) == expected


def test_the_counter_probe_answers_with_a_reason_or_available() -> None:
    why_not = probe()
    assert why_not is None or why_not.startswith("instructions per request unavailable: perf_event_open")
    assert status() == (why_not or "available")
