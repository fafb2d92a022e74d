"""One metric across many results files (one per commit): series, steps, and the verdict on the newest step.

Files are ordered by their header's `created` time (ties keep the order given). Trials are grouped into
series by (model, variant, workload, load point); a file contributes to a series the median of the
metric over that series' usable trials (failed servers and saturated generators left out, as in
`check`). Steps are found per series by loadbench.analysis.changepoint (CUSUM with a permutation test,
Taylor 2000); the trend *regresses* when, in any series, the newest step goes the bad way (throughput
down; latency or CPU per request up), which `loadbench trend` turns into exit code 10.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from loadbench.analysis.changepoint import Step, find_steps
from loadbench.errors import UsageError
from loadbench.gate import trials as tr
from loadbench.gate.check import metric_value
from loadbench.gate.compare import DEFAULT_TOLERANCE, higher_is_better
from loadbench.scenario.thresholds import METRICS, MetricKind, format_value

if TYPE_CHECKING:
    from loadbench.results.records import Results

__all__ = ["TREND_METRICS", "Trend", "TrendPoint", "TrendSeries", "build_trend"]

#: Metrics a trend can follow: positive figures only (the change-point test works on logarithms).
TREND_METRICS = ("rps", "mean", "p50", "p90", "p95", "p99", "p99.9", "max", "cpu_per_request", "server_cpu",
                 "server_rss")  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendPoint:
    """One results file's figure in a series: where it came from, when, which commit, the median value
    (the metric's base unit; None when the file had no usable trial of the series) and over how many."""

    path: str
    created: str
    commit: str | None
    value: float | None
    trials: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendSeries:
    """One (model, variant, workload, load point) across the files; `steps` index into `points`."""

    label: str
    points: tuple[TrendPoint, ...]
    steps: tuple[Step, ...]

    def step_at(self, index: int) -> Step | None:
        return next((s for s in self.steps if s.index == index), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Trend:
    """The whole trend: the metric, its kind (for units), the series and the verdict."""

    metric: str
    kind: MetricKind
    min_change: float
    series: tuple[TrendSeries, ...]
    warnings: tuple[str, ...]

    def is_bad(self, step: Step) -> bool:
        """Whether a step goes the bad way for this metric."""
        return step.ratio < 1 if higher_is_better(self.metric) else step.ratio > 1

    @property
    def regressions(self) -> list[tuple[TrendSeries, Step]]:
        """Series whose newest step is a regression, with that step."""
        return [(s, s.steps[-1]) for s in self.series if s.steps and self.is_bad(s.steps[-1])]

    def format(self, value: float | None) -> str:
        return "–" if value is None else format_value(self.kind, value)


def _created(results: Results) -> datetime:
    try:
        return datetime.fromisoformat(results.header.created)
    except ValueError:
        return datetime.min


def _series_key(trial: object) -> tuple[str, str, str, str]:
    t = trial
    return (str(getattr(t, "model", "")), str(getattr(t, "variant", "") or ""),
            str(getattr(t, "workload", "")), str(getattr(t, "load_label", "")))  # fmt: skip


def _label(key: tuple[str, str, str, str]) -> str:
    model, variant, workload, load = key
    return f"{model}/{variant} {workload} {load}" if variant else f"{model} {workload} {load}"


def build_trend(
    files: Sequence[Results], *, metric: str = "rps", min_change: float | None = None,
    confidence: float = 0.95,
) -> Trend:  # fmt: skip
    """Line `metric` up across `files` and find its steps (see the module docstring).

    `min_change` (a fraction) is the smallest step reported; default: `compare`'s tolerance for the
    metric (5 % for rps and cpu_per_request), else 5 %. Raises UsageError for a metric a trend cannot
    follow or fewer than two files.
    """
    if metric not in TREND_METRICS:
        raise UsageError(f"--metric {metric!r} cannot be trended; use one of {', '.join(TREND_METRICS)}")
    if len(files) < 2:
        raise UsageError(f"a trend needs at least 2 results files, got {len(files)}")
    threshold = DEFAULT_TOLERANCE.get(metric, 0.05) if min_change is None else min_change
    ordered = sorted(files, key=_created)  # stable: ties keep the order given
    keys: dict[tuple[str, str, str, str], None] = {}
    for results in ordered:
        for trial in results.trials:
            keys.setdefault(_series_key(trial), None)
    warnings: list[str] = []
    series = []
    for key in keys:
        points = []
        for results in ordered:
            values = []
            for trial in results.trials:
                if _series_key(trial) != key or tr.exclusion_reason(trial):
                    continue
                value = metric_value(trial, metric)
                if value is not None and value > 0:
                    values.append(value)
            points.append(TrendPoint(
                path=str(results.path or ""), created=results.header.created,
                commit=results.header.git_commit,
                value=statistics.median(values) if values else None, trials=len(values),
            ))  # fmt: skip
        known = [(i, p.value) for i, p in enumerate(points) if p.value is not None]
        if len(known) < len(points):
            warnings.append(f"{_label(key)}: {len(points) - len(known)} file(s) without a usable {metric}")
        steps: list[Step] = []
        if len(known) >= 4:
            found = find_steps([v for _, v in known], confidence=confidence, min_change=threshold)
            # back to positions among all points (files without a figure are skipped by the test)
            steps = [Step(index=known[s.index][0], before=s.before, after=s.after, confidence=s.confidence)
                     for s in found]  # fmt: skip
        else:
            warnings.append(f"{_label(key)}: only {len(known)} figure(s); steps need at least 4")
        series.append(TrendSeries(label=_label(key), points=tuple(points), steps=tuple(steps)))
    return Trend(metric=metric, kind=METRICS[metric], min_change=threshold, series=tuple(series),
                 warnings=tuple(warnings))  # fmt: skip


def format_table(trend: Trend) -> str:
    """The trend as plain text: one table per series, a step marked on the first point of its new level."""
    lines: list[str] = []
    for s in trend.series:
        lines.append(f"{s.label} ({trend.metric})")
        lines.append(f"  {'#':>3}  {'created':<25} {'commit':<10} {trend.metric:>12}  step")
        for i, p in enumerate(s.points):
            step = s.step_at(i)
            mark = ""
            if step is not None:
                word = "REGRESSION" if trend.is_bad(step) else "improvement"
                mark = (f"{'▼' if step.ratio < 1 else '▲'} {step.change_pct:+.1f}% {word} "
                        f"({trend.format(step.before)} → {trend.format(step.after)}, "
                        f"confidence {step.confidence:.1%})")  # fmt: skip
            commit = (p.commit or "–")[:10]
            lines.append(f"  {i + 1:>3}  {p.created:<25} {commit:<10} {trend.format(p.value):>12}  {mark}")
        if not s.steps:
            lines.append(f"  no step of {trend.min_change * 100:g}% or more at 95 % confidence")
        lines.append("")
    bad = trend.regressions
    if bad:
        for s, step in bad:
            where = f"{step.change_pct:+.1f}% at #{step.index + 1}"
            lines.append(f"regression: {s.label}: the newest step is {where}")
    else:
        lines.append("no regression: no series' newest step goes the bad way")
    lines.append("Steps: CUSUM with a 999-permutation test at 95 % (Taylor 2000), binary segmentation, "
                 f"at least 2 results each side, at least {trend.min_change * 100:g}%.")
    return "\n".join(lines)
