"""Threshold expressions: parser table tests (valid and invalid, with the exact caret message) and
their evaluation on stand-in trials (median over repetitions, filters, left-out trials)."""

from __future__ import annotations

from typing import Any

import pytest
from gate_fakes import FakeTrial

from loadbench.errors import ExitCode, UsageError
from loadbench.gate.check import check, evaluate, metric_value
from loadbench.gate.status import GateStatus
from loadbench.results.records import TrialResult
from loadbench.scenario.thresholds import MetricKind, Op, format_value, parse_threshold


@pytest.mark.parametrize(
    ("text", "metric", "filters", "op", "limit"),
    [
        pytest.param("p99 < 50ms", "p99", (), Op.LT, 50.0, id="ms"),
        pytest.param("p99<50ms", "p99", (), Op.LT, 50.0, id="no-spaces"),
        pytest.param("  p50 <= 500us ", "p50", (), Op.LE, 0.5, id="us"),
        pytest.param("max < 1.5s", "max", (), Op.LT, 1500.0, id="seconds"),
        pytest.param("p99.9 < 2 s", "p99.9", (), Op.LT, 2000.0, id="p99.9-space-before-unit"),
        pytest.param("p99_9 < 2s", "p99.9", (), Op.LT, 2000.0, id="p99_9-alias"),
        pytest.param("mean >= .5ms", "mean", (), Op.GE, 0.5, id="leading-dot"),
        pytest.param("rps > 1000/s", "rps", (), Op.GT, 1000.0, id="rate"),
        pytest.param("rps >= 2.5k/s", "rps", (), Op.GE, 2500.0, id="k-rate"),
        pytest.param("error_rate < 1%", "error_rate", (), Op.LT, 0.01, id="percent-of-requests"),
        pytest.param("errors == 0", "errors", (), Op.EQ, 0.0, id="count"),
        pytest.param("errors < 10", "errors", (), Op.LT, 10.0, id="count-10"),
        pytest.param("server_cpu < 95%", "server_cpu", (), Op.LT, 95.0, id="cpu-percent"),
        pytest.param("server_rss < 200MB", "server_rss", (), Op.LT, 200.0, id="rss"),
        pytest.param(
            "p99{model=uvicorn,workload=/json} < 20ms", "p99",
            (("model", "uvicorn"), ("workload", "/json")), Op.LT, 20.0, id="filters",
        ),
        pytest.param(
            "p99 { load = 64c , variant=candidate } < 20ms", "p99",
            (("load", "64c"), ("variant", "candidate")), Op.LT, 20.0, id="filters-spaced",
        ),
        pytest.param("rps{workload=/io?ms=20} > 100/s", "rps", (("workload", "/io?ms=20"),), Op.GT, 100.0,
                     id="workload-with-query"),
    ],
)
def test_parse_valid(
    text: str, metric: str, filters: tuple[tuple[str, str], ...], op: Op, limit: float
) -> None:
    threshold = parse_threshold(text)
    assert threshold.metric == metric
    assert threshold.filters == filters
    assert threshold.op is op
    assert threshold.limit == pytest.approx(limit)
    assert threshold.text == text.strip()


def _message(problem: str, text: str, column: int) -> str:
    return f"bad threshold (--threshold): {problem}\n  {text}\n  {' ' * column}^"


METRIC_LIST = (
    "rps, mean, p50, p90, p95, p99, p99.9, max, error_rate, errors, server_cpu, server_rss, cpu_per_request"
)


@pytest.mark.parametrize(
    ("text", "problem", "column"),
    [
        pytest.param("", "empty expression; write one like 'p99 < 50ms'", 0, id="empty"),
        pytest.param("p99x < 50ms",
                     f"unknown metric 'p99x'; use one of {METRIC_LIST} (did you mean 'p99'?)", 0,
                     id="unknown-metric"),
        pytest.param("< 50ms", f"expected a metric name ({METRIC_LIST})", 0, id="no-metric"),
        pytest.param("p99 < 50", "missing unit: p99 is a time; write one of us, ms or s after the number "
                     "(e.g. 50ms)", 8, id="missing-time-unit"),
        pytest.param("error_rate < 1", "missing unit: error_rate is a percentage of requests; write one of % "
                     "after the number (e.g. 1%)", 14, id="missing-percent"),
        pytest.param("rps > 1000", "missing unit: rps is a rate; write one of /s or k/s after the number "
                     "(e.g. 1000/s)", 10, id="missing-rate-unit"),
        pytest.param("p99 < 50MB", "unit 'MB' does not fit p99 (a time); use us, ms or s", 8,
                     id="wrong-unit"),
        pytest.param("server_rss < 2GB", "unit 'GB' does not fit server_rss (a memory size); use MB", 14,
                     id="wrong-size-unit"),
        pytest.param("errors < 10ms", "errors is a count and takes no unit; remove 'ms'", 11,
                     id="count-unit"),
        pytest.param("p99 = 5ms", "unknown operator '='; use <, <=, >, >= or ==", 4, id="single-equals"),
        pytest.param("p99 != 5ms", "unknown operator '!='; use <, <=, >, >= or ==", 4, id="not-equals"),
        pytest.param("p99 => 5ms", "unknown operator '=>'; use <, <=, >, >= or ==", 4, id="reversed-ge"),
        pytest.param("p99 5ms", "expected an operator (<, <=, >, >=, ==) after 'p99'", 4, id="no-operator"),
        pytest.param("p99 < ms", "expected a number after the operator (e.g. 50ms)", 6, id="no-number"),
        pytest.param("p99 < -5ms", "expected a number after the operator (e.g. 50ms)", 6, id="negative"),
        pytest.param("p99 < 5ms extra", "unexpected text 'extra' after 'ms'", 10, id="trailing"),
        pytest.param("p99{model=a < 5ms", "unclosed '{': close the filters with '}'", 3, id="unclosed"),
        pytest.param("p99{host=a} < 5ms",
                     "unknown filter key 'host'; use one of model, workload, load, variant", 4,
                     id="unknown-key"),
        pytest.param("p99{model} < 5ms", "expected '=' after filter key 'model'", 9, id="no-equals"),
        pytest.param("p99{model=} < 5ms", "empty value for filter 'model'", 10, id="empty-value"),
        pytest.param("p99{model=a,model=b} < 5ms", "filter key 'model' given twice", 12, id="duplicate-key"),
        pytest.param("p99{=a} < 5ms", "expected a filter key (model, workload, load, variant)", 4,
                     id="no-key"),
    ],
)
def test_parse_invalid_points_at_the_offending_column(text: str, problem: str, column: int) -> None:
    with pytest.raises(UsageError) as info:
        parse_threshold(text)
    assert str(info.value) == _message(problem, text, column)
    assert info.value.exit_code is ExitCode.USAGE


def test_source_names_the_scenario_entry() -> None:
    with pytest.raises(UsageError, match=r"^bad threshold \(scenario \[thresholds\] checks\[2\]\)"):
        parse_threshold("p99 < 5", source="scenario [thresholds] checks[2]")


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [
        (MetricKind.TIME, 23.4, "23.4ms"),
        (MetricKind.TIME, 0.25, "250us"),
        (MetricKind.RATE, 12345.6, "12,346/s"),
        (MetricKind.FRACTION, 0.005, "0.5%"),
        (MetricKind.PERCENT, 97.0, "97%"),
        (MetricKind.SIZE, 41.0, "41MB"),
        (MetricKind.COUNT, 3.0, "3"),
    ],
)
def test_format_value(kind: MetricKind, value: float, text: str) -> None:
    assert format_value(kind, value) == text


# ---- evaluation ----------------------------------------------------------------------------------------


def _reps(values: list[float], **kwargs: Any) -> list[TrialResult]:
    return [
        FakeTrial(repetition=i, round=i, index=i, latency_ms={"p99": v}, **kwargs)
        for i, v in enumerate(values, start=1)
    ]


def test_holds_on_the_median_over_repetitions() -> None:
    trials = _reps([10.0, 30.0, 12.0])  # one bad repetition; the median is 12 ms
    (case,) = evaluate(parse_threshold("p99 < 20ms"), trials)
    assert case.status is GateStatus.PASS
    assert case.value == 12.0
    assert case.trials == 3
    (case,) = evaluate(parse_threshold("p99 < 11ms"), trials)
    assert case.status is GateStatus.FAIL
    assert case.summary == "p99 = 12ms (< 11ms) FAILED on uvicorn /json 64c"


def test_one_case_per_selected_group_and_filters_narrow_it() -> None:
    trials = [
        *_reps([10.0, 11.0], model="uvicorn"),
        *_reps([25.0, 26.0], model="waitress"),
        *_reps([5.0, 5.0], model="waitress", workload="/plaintext"),
    ]
    cases = evaluate(parse_threshold("p99 < 20ms"), trials)
    assert [(c.model, c.workload, c.status) for c in cases] == [
        ("uvicorn", "/json", GateStatus.PASS),
        ("waitress", "/json", GateStatus.FAIL),
        ("waitress", "/plaintext", GateStatus.PASS),
    ]
    (only,) = evaluate(parse_threshold("p99{model=waitress,workload=/json} < 20ms"), trials)
    assert only.value == 25.5
    assert check(trials, [parse_threshold("p99{workload=/plaintext} < 20ms")]).status is GateStatus.PASS


def test_selecting_nothing_is_a_usage_error_naming_what_exists() -> None:
    trials = _reps([10.0], model="uvicorn")
    with pytest.raises(UsageError) as info:
        check(trials, [parse_threshold("p99{model=uvicron} < 20ms")])
    assert str(info.value) == (
        "threshold (--threshold) selects no trial: model 'uvicron' is not in the results; they have model: "
        "uvicorn\n  p99{model=uvicron} < 20ms\n     ^"
    )


def test_no_thresholds_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no thresholds to check"):
        check(_reps([1.0]), [])


def test_saturated_and_failed_trials_are_left_out_and_named() -> None:
    trials = [
        *_reps([10.0, 11.0]),
        FakeTrial(repetition=3, round=3, latency_ms={"p99": 99.0}, saturated=True,
                  saturation_reasons=("client CPU 97%",)),
    ]
    report = check(trials, [parse_threshold("p99 < 20ms")])
    assert report.status is GateStatus.PASS
    assert report.cases[0].value == 10.5
    assert report.warnings == ("left out uvicorn /json 64c rep 3 round 3: saturated (client CPU 97%)",)


def test_a_group_with_no_usable_trial_is_invalid_not_passed() -> None:
    trials = [FakeTrial(status_ok=False, failure={"reason": "bind failed"})]
    report = check(trials, [parse_threshold("p99 < 20ms")])
    assert report.status is GateStatus.INVALID
    assert report.status.exit_code() is ExitCode.INVALID_MEASUREMENT
    assert "no usable trial (uvicorn /json 64c rep 1 round 1: server failed (bind failed))" in (
        report.cases[0].summary
    )


def test_a_real_failure_outranks_invalid_data_elsewhere() -> None:
    trials = [*_reps([50.0], model="a"), FakeTrial(model="b", saturated=True)]
    report = check(trials, [parse_threshold("p99 < 20ms")])
    assert report.status is GateStatus.FAIL
    assert report.status.exit_code() is ExitCode.GATE_FAILED


@pytest.mark.parametrize(
    ("metric", "value"),
    [
        ("rps", 1000.0),
        ("p99", 10.0),
        ("p99.9", 20.0),
        ("error_rate", 0.0),
        ("server_cpu", 90.0),
        ("server_rss", 40.0),
    ],
)
def test_metric_values(metric: str, value: float) -> None:
    assert metric_value(FakeTrial(), metric) == value


def test_errors_counts_transport_errors_and_non_2xx() -> None:
    trial = FakeTrial(errors={"timeout": 2, "reset": 1}, requests=100, ok=96)
    assert metric_value(trial, "errors") == 7.0
    (case,) = evaluate(parse_threshold("errors < 5"), [trial])
    assert case.status is GateStatus.FAIL


def test_missing_figure_makes_the_group_invalid() -> None:
    (case,) = evaluate(parse_threshold("server_cpu < 50%"), [FakeTrial(server=None)])
    assert case.status is GateStatus.INVALID
    assert case.value_text == "no data"


def test_equality_and_percent_conversion() -> None:
    trial = FakeTrial(error_rate=0.004)
    assert evaluate(parse_threshold("error_rate < 0.5%"), [trial])[0].status is GateStatus.PASS
    assert evaluate(parse_threshold("error_rate < 0.3%"), [trial])[0].status is GateStatus.FAIL
    assert evaluate(parse_threshold("error_rate == 0.4%"), [trial])[0].status is GateStatus.PASS
