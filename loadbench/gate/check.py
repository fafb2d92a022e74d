"""Evaluate thresholds against trial records: one case per threshold × (model, variant, workload, load).

A threshold holds when it holds for every group of trials it selects, on the median over that group's
repetitions. Trials whose server failed or whose load generator saturated are left out (and named); a
group left with no usable trial is an invalid measurement, not a pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from loadbench.analysis.stats import median
from loadbench.errors import UsageError
from loadbench.gate import trials as tr
from loadbench.gate.status import GateStatus, worst
from loadbench.scenario.thresholds import (
    BREAKDOWN_PARTS,
    Threshold,
    caret_message,
    format_value,
    metric_kind,
    percentile_of,
)

if TYPE_CHECKING:
    from loadbench.results.records import TrialResult

_LATENCY_KEYS = {
    "min": "min", "mean": "mean", "p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99", "p99.9": "p99_9",
    "max": "max",
}


BREAKDOWN_PREFIXES = tuple(f"{part}_" for part in BREAKDOWN_PARTS)


def _filter_value(trial: TrialResult, key: str) -> str:
    """Return the trial's value for a threshold filter key (`load` selects the load point's label)."""
    values = {
        "model": trial.model, "workload": trial.workload, "load": trial.load_label, "variant": trial.variant
    }
    return str(values[key])


def metric_value(trial: TrialResult, metric: str) -> float | None:
    """Return a trial's figure for a threshold metric in its base unit (see thresholds.py), or None."""
    value: float | None
    if metric == "rps":
        value = trial.rps
    elif metric in _LATENCY_KEYS:
        value = tr.latency_figure(trial, _LATENCY_KEYS[metric])
    elif (quantile := percentile_of(metric)) is not None:
        value = _histogram_percentile_ms(trial, quantile)
    elif metric == "error_rate":
        value = trial.error_rate
    elif metric == "errors":
        # transport errors plus non-2xx responses: the numerator of error_rate
        value = sum(int(c) for c in trial.errors.values()) + (trial.requests - trial.ok)
    elif metric == "check_failed":
        value = trial.errors.get("check_failed", 0)
    elif metric.startswith(BREAKDOWN_PREFIXES):
        part, _, key = metric.partition("_")
        summary = {"connect": trial.connect_ms, "tls": trial.tls_ms, "ttfb": trial.ttfb_ms}[part]
        figure = None if summary is None else cast(Mapping[str, Any], summary).get(_LATENCY_KEYS[key])
        value = None if figure is None else float(figure)
    elif metric == "server_cpu":
        value = (trial.server or {}).get("cpu_pct_mean")
    elif metric == "server_rss":
        value = (trial.server or {}).get("rss_mb_max")
    elif metric == "cpu_per_request":
        us = trial.server_cpu_us_per_request
        value = None if us is None else us / 1000  # a time: base unit ms
    else:
        raise KeyError(metric)
    return None if value is None else float(value)


def _histogram_percentile_ms(trial: TrialResult, quantile: float) -> float | None:
    """Any percentile of the trial's latency in ms, from its stored histogram (None without one)."""
    histogram = trial.latency_histogram()
    if histogram is None or not histogram.count:
        return None
    return histogram.percentile(quantile) / 1e6


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdCase:
    """The outcome of one threshold on one group of trials.

    `value` is the median over the group's usable trials (base unit), None when there was none;
    `trials` counts the usable trials; `excluded` names the trials left out and why; `duration_s` sums the
    measured windows of the usable trials (the JUnit time).
    """

    threshold: Threshold
    model: str
    variant: str | None
    workload: str
    load: str
    value: float | None
    trials: int
    excluded: tuple[str, ...]
    status: GateStatus
    duration_s: float

    @property
    def selection(self) -> str:
        """The group's name: `model[/variant] workload load`."""
        who = f"{self.model}/{self.variant}" if self.variant else self.model
        return f"{who} {self.workload} {self.load}"

    @property
    def value_text(self) -> str:
        """The median formatted with its unit, or "no data"."""
        return "no data" if self.value is None else format_value(self.threshold.kind, self.value)

    @property
    def summary(self) -> str:
        """One line for people: `p99 = 23.4ms (< 20ms) FAILED on uvicorn /json 64c`."""
        t = self.threshold
        verdict = {GateStatus.PASS: "ok", GateStatus.FAIL: "FAILED", GateStatus.INVALID: "INVALID"}.get(
            self.status, self.status.value
        )
        text = f"{t.metric} = {self.value_text} ({t.op.value} {t.limit_text}) {verdict} on {self.selection}"
        if self.status is GateStatus.INVALID and self.excluded:
            text += f": no usable trial ({'; '.join(self.excluded)})"
        return text


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReport:
    """Every threshold case, the overall status and warnings (e.g. trials left out)."""

    cases: tuple[ThresholdCase, ...]
    warnings: tuple[str, ...]

    @property
    def status(self) -> GateStatus:
        return worst(case.status for case in self.cases)

    @property
    def failed(self) -> tuple[ThresholdCase, ...]:
        return tuple(c for c in self.cases if c.status is GateStatus.FAIL)


def _selects(threshold: Threshold, trial: TrialResult) -> bool:
    return all(_filter_value(trial, key) == value for key, value in threshold.filters)


def selects(threshold: Threshold, trial: TrialResult) -> bool:
    """Whether the threshold's filters ({model=...}, {workload=...}) select this trial."""
    return _selects(threshold, trial)


def _group_key(trial: TrialResult) -> tuple[str, str | None, str, str]:
    return (trial.model, trial.variant, trial.workload, trial.load_label)


def _no_selection_error(threshold: Threshold, trials: Sequence[TrialResult]) -> UsageError:
    present = []
    for key, value in threshold.filters:
        names = sorted({_filter_value(t, key) for t in trials})
        if value not in names:
            present.append(f"{key} '{value}' is not in the results; they have {key}: {', '.join(names)}")
    why = "; ".join(present) or "no trial matches all filters together"
    column = max(threshold.text.find("{"), 0)
    return UsageError(
        caret_message(f"threshold ({threshold.source}) selects no trial: {why}", threshold.text, column)
    )


def evaluate(threshold: Threshold, trials: Sequence[TrialResult]) -> list[ThresholdCase]:
    """Return one case per group the threshold selects; raise UsageError when it selects nothing."""
    if metric_kind(threshold.metric) is None:
        raise KeyError(threshold.metric)
    groups: dict[tuple[str, str | None, str, str], list[TrialResult]] = {}
    for trial in trials:
        if _selects(threshold, trial):
            groups.setdefault(_group_key(trial), []).append(trial)
    if not groups:
        raise _no_selection_error(threshold, trials)
    cases = []
    for (model, variant, workload, load), members in groups.items():
        excluded: list[str] = []
        values: list[float] = []
        duration_s = 0.0
        for trial in members:
            reason = tr.exclusion_reason(trial)
            value = None if reason else metric_value(trial, threshold.metric)
            if reason is None and value is None:
                reason = f"no {threshold.metric} figure"
            if reason is not None or value is None:
                excluded.append(f"{tr.describe(trial)}: {reason}")
                continue
            values.append(value)
            duration_s += float(trial.duration_s)
        median_value = median(values) if values else None
        if median_value is None:
            status = GateStatus.INVALID
        elif threshold.op.holds(median_value, threshold.limit):
            status = GateStatus.PASS
        else:
            status = GateStatus.FAIL
        cases.append(
            ThresholdCase(
                threshold=threshold,
                model=model,
                variant=variant,
                workload=workload,
                load=load,
                value=median_value,
                trials=len(values),
                excluded=tuple(excluded),
                status=status,
                duration_s=duration_s,
            )
        )
    return cases


def check(trials: Sequence[TrialResult], thresholds: Iterable[Threshold]) -> CheckReport:
    """Evaluate every threshold; UsageError when there is none or one selects no trial."""
    thresholds = tuple(thresholds)
    if not thresholds:
        raise UsageError(
            "no thresholds to check: pass --threshold 'p99 < 50ms' (repeatable) or list them in the "
            "scenario's [thresholds] checks"
        )
    if not trials:
        raise UsageError("the results file holds no trials to check")
    cases = [case for t in thresholds for case in evaluate(t, trials)]
    warnings: list[str] = []
    seen: set[str] = set()
    for case in cases:
        if case.status is not GateStatus.INVALID:
            for item in case.excluded:
                if item not in seen:
                    seen.add(item)
                    warnings.append(f"left out {item}")
    return CheckReport(cases=tuple(cases), warnings=tuple(warnings))
