"""Turn a results file's trials into a Summary: medians over repetitions with confidence intervals.

This is the only module that imports pandas. Every figure a report shows is computed here or, for the
per-trial rows of the raw table and the CSV, in analysis.trialtable; the renderers in loadbench.report
only format and draw what a Summary holds.

Statistics: for each (workload, model, load point) the median over the repetitions that ran, and a
distribution-free confidence interval of the median from order statistics: the interval
[x_(j), x_(n+1-j)] covers the population median with probability 1 - 2·P(Bin(n, ½) ≤ j-1), whatever the
distribution (Conover, *Practical Nonparametric Statistics*, 3rd ed., 1999, §3.2; Hahn & Meeker,
*Statistical Intervals*, 1991, §5.2). The narrowest such interval reaching the wanted confidence is taken;
with fewer than 6 repetitions 95 % is out of reach, so the min–max range is used and its true coverage
(50 % for 2, 75 % for 3, 87.5 % for 4) is stated next to it. Failed trials (the server did not start or
died) are left out of the medians and counted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from loadbench.analysis.breakdown import BreakdownRow, breakdown_rows
from loadbench.analysis.caveats import busy_note, is_busy, precision_note, repetition_note
from loadbench.analysis.claims import claim_sentence, claims_note
from loadbench.analysis.crowd import CrowdRow, crowd_rows, family_notes
from loadbench.analysis.explain import WorkloadVerdict, choose_verdict, serving_notes, workload_kind
from loadbench.analysis.profiles import ProfileView, profile_finding, view_profile
from loadbench.analysis.stats import ci_coverage, median, median_ci_rank
from loadbench.analysis.trialtable import (
    ERROR_CLASSES,
    error_counts,
    load_kind,
    load_value,
    series_name,
    trial_row,
)

if TYPE_CHECKING:
    import pandas as pd

    from loadbench.results.claims import ClaimRecord
    from loadbench.results.records import Results, TrialResult

# The spectrum chart's x axis runs 0 → 99.99 % on a log(1/(1-p)) scale; p100 (the max) cannot sit on it.
SPECTRUM_MAX_PCT = 99.99 + 1e-9
CI_METHOD = (
    "Medians over repetitions; the interval is the distribution-free order-statistic confidence interval "
    "of the median (Conover 1999, §3.2): the narrowest [x(j), x(n+1−j)] covering the median with at least "
    "{confidence:.0%} probability, or the min–max range with its smaller, stated coverage when there are "
    "too few repetitions for {confidence:.0%}."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """A median over repetitions with its confidence interval [low, high] of stated `coverage` (0–1).

    n: how many values it rests on; coverage is 0 when n < 2 (no interval can be given).
    """

    median: float
    low: float
    high: float
    n: int
    coverage: float


def median_ci(values: Iterable[float | None], confidence: float = 0.95) -> Estimate:
    """Return the median of the finite `values` and its order-statistic CI (see the module docstring)."""
    xs = sorted(float(v) for v in values if v is not None and math.isfinite(float(v)))
    n = len(xs)
    if n == 0:
        return Estimate(median=math.nan, low=math.nan, high=math.nan, n=0, coverage=0.0)
    if n == 1:
        return Estimate(median=xs[0], low=xs[0], high=xs[0], n=1, coverage=0.0)
    rank = median_ci_rank(n, confidence) or 1  # too few values for `confidence`: min–max, coverage stated
    low, high = xs[rank - 1], xs[n - rank]
    return Estimate(median=median(xs), low=low, high=high, n=n, coverage=ci_coverage(n, rank))


#: No value at all (a figure older results files do not carry).
NO_ESTIMATE = Estimate(median=math.nan, low=math.nan, high=math.nan, n=0, coverage=0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    """One model at one load point of one workload, aggregated over its repetitions.

    errors: counts summed over repetitions, transport classes first, then "HTTP <code>" for non-2xx.
    busy: repetitions measured while other processes used more than a tenth of a core (caveats.py);
    other_cpu_pct_max: the most those others used in any repetition (NaN when not measured);
    cpu_per_request_us: the server's CPU microseconds per response (`server_cpu_us_per_request`).
    """

    workload: str
    model: str
    family: str
    load_label: str
    load_kind: str
    load_value: float
    repetitions: int
    failed: int
    saturated: int
    rps: Estimate
    p50_ms: Estimate
    p99_ms: Estimate
    error_rate: Estimate
    server_cpu_pct: Estimate
    rss_mb: Estimate
    client_cpu_pct: Estimate
    errors: tuple[tuple[str, int], ...]
    busy: int = 0
    other_cpu_pct_max: float = math.nan
    cpu_per_request_us: Estimate = NO_ESTIMATE

    @property
    def error_total(self) -> int:
        return sum(count for _, count in self.errors)


@dataclass(frozen=True, slots=True, kw_only=True)
class HeavyDetail:
    """One model at its workload's heaviest load point: the median-rps repetition's time series and the
    latency spectrum of all its repetitions merged. Times in seconds, latencies in ms, RSS in MB;
    window_s: the length of that repetition's measured window (the monitor runs on while responses drain)."""

    model: str
    load_label: str
    repetition: int
    window_s: float
    timeline_s: tuple[float, ...]
    timeline_rps: tuple[float, ...]
    timeline_p50_ms: tuple[float, ...]
    timeline_p99_ms: tuple[float, ...]
    monitor_s: tuple[float, ...]
    monitor_cpu_pct: tuple[float, ...]
    monitor_rss_mb: tuple[float, ...]
    spectrum_pct: tuple[float, ...]
    spectrum_ms: tuple[float, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadSummary:
    """Everything shown for one workload under one kind of load (closed or open loop)."""

    workload: str
    kind: str
    load_kind: str
    load_axis: str
    models: tuple[str, ...]
    points: tuple[Point, ...]
    details: tuple[HeavyDetail, ...]
    verdict: WorkloadVerdict | None
    profiles: tuple[ProfileView, ...] = ()  # one per model and profiled load point, in model order
    profile_note: str = ""  # what the profiles explain, in words ("" when nothing stands out)
    claims: tuple[str, ...] = ()  # an adaptive run: each load point's claim in words, in load order

    @property
    def key(self) -> str:
        return f"{self.workload} ({self.load_kind} loop)"


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialNote:
    """A trial the report must point at: one that failed (reason, log tail), saturated or ran on a busy
    machine (reasons)."""

    trial_id: str
    model: str
    workload: str
    load_label: str
    repetition: int
    reasons: tuple[str, ...]
    log_tail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """A whole results file, summarized: what every renderer receives.

    env: the environment as display pairs; env_record: as recorded. table: one row per trial (the raw
    table and the CSV). notes: reading warnings and statistical caveats. busy: the trials measured while
    other processes were busy, and busy_note the one warning every report puts first ("" when none).
    """

    scenario_name: str
    scenario_path: str
    scenario_text: str
    thresholds: tuple[str, ...]
    created: str
    loadbench_version: str
    env: tuple[tuple[str, str], ...]
    env_record: Mapping[str, Any]
    confidence: float
    ci_method: str
    max_repetitions: int
    workloads: tuple[WorkloadSummary, ...]
    failed: tuple[TrialNote, ...]
    saturated: tuple[TrialNote, ...]
    busy: tuple[TrialNote, ...]
    busy_note: str
    notes: tuple[str, ...]
    table: pd.DataFrame
    crowd: tuple[CrowdRow, ...] = ()  # idle/slow clients against the load (analysis/crowd.py)
    crowd_notes: tuple[str, ...] = ()  # what each family present does with a waiting connection
    breakdown: tuple[BreakdownRow, ...] = ()  # connect, TLS, TTFB beside latency (analysis/breakdown.py)
    breakdown_tls: bool = False  # some breakdown row has a TLS handshake figure (https)
    trials: tuple[TrialResult, ...] = ()  # the trials summarized (latest attempts), for per-trial exports
    #: A sentence or two per server family with its measured figure (explain.serving_notes); empty unless
    #: the run has a family of the history models.
    families: tuple[str, ...] = ()


def trials_frame(trials: Sequence[TrialResult]) -> pd.DataFrame:
    """One row per trial (trialtable.trial_row), ordered by index: the raw table and the CSV export."""
    import pandas as pd

    frame = pd.DataFrame.from_records([trial_row(t) for t in trials])
    if frame.empty:
        return frame
    return frame.sort_values("index", kind="stable").reset_index(drop=True)


def _point(rows: pd.DataFrame, trials: Sequence[TrialResult], confidence: float) -> Point:
    good = rows[rows["status_ok"]]
    first = rows.iloc[0]
    errors: dict[str, int] = {}
    for trial in trials:
        if trial.status_ok:
            for name, count in error_counts(trial).items():
                errors[name] = errors.get(name, 0) + count

    def est(column: str) -> Estimate:
        return median_ci(good[column].tolist(), confidence)

    others = [float(v) for v in good["other_cpu_pct"].tolist() if v is not None and math.isfinite(v)]

    return Point(
        workload=str(first["workload"]),
        model=str(first["model"]),
        family=str(first["family"] or ""),
        load_label=str(first["load_label"]),
        load_kind=str(first["load_kind"]),
        load_value=float(first["load_value"]),
        repetitions=len(good),
        failed=int((~rows["status_ok"]).sum()),
        saturated=int(good["saturated"].sum()),
        rps=est("rps"),
        p50_ms=est("latency_p50_ms"),
        p99_ms=est("latency_p99_ms"),
        error_rate=est("error_rate"),
        server_cpu_pct=est("server_cpu_pct"),
        cpu_per_request_us=est("cpu_per_request_us"),
        rss_mb=est("server_rss_mb"),
        client_cpu_pct=est("client_cpu_pct"),
        errors=tuple((k, v) for k, v in errors.items() if v or k in ERROR_CLASSES),
        busy=int(good["busy"].sum()),
        other_cpu_pct_max=max(others, default=math.nan),
    )


def _spectrum(trials: Sequence[TrialResult]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Percentile → latency (ms) of all `trials` merged, 0 % to 99.99 %, as far as the count resolves."""
    histograms = [h for h in (t.latency_histogram() for t in trials) if h is not None and h.count]
    if not histograms:
        return (), ()
    merged = histograms[0]
    for other in histograms[1:]:
        merged = merged.merge(other)
    points = [(pct, ns / 1e6) for pct, ns in merged.spectrum(ticks_per_decade=20) if pct <= SPECTRUM_MAX_PCT]
    return tuple(p for p, _ in points), tuple(v for _, v in points)


def _heavy_detail(model: str, trials: Sequence[TrialResult]) -> HeavyDetail | None:
    good = [t for t in trials if t.status_ok]
    if not good:
        return None
    middle = sorted(good, key=lambda t: (t.rps, t.repetition))[(len(good) - 1) // 2]
    timeline = [r for r in middle.timeline if len(r) >= 5]
    monitor = [r for r in middle.monitor if len(r) >= 3]
    pct, ms = _spectrum(good)
    return HeavyDetail(
        model=model,
        load_label=middle.load_label,
        repetition=middle.repetition,
        window_s=float(middle.duration_s),
        timeline_s=tuple(_nan(r[0]) for r in timeline),
        timeline_rps=tuple(_nan(r[1]) for r in timeline),
        timeline_p50_ms=tuple(_nan(r[3]) for r in timeline),
        timeline_p99_ms=tuple(_nan(r[4]) for r in timeline),
        monitor_s=tuple(float(r[0]) for r in monitor),
        monitor_cpu_pct=tuple(_nan(r[1]) for r in monitor),
        monitor_rss_mb=tuple(_nan(r[2]) for r in monitor),
        spectrum_pct=pct,
        spectrum_ms=ms,
    )


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def _workload_profiles(
    views: Sequence[ProfileView], workload: str, loop: str, models: Sequence[str]
) -> tuple[tuple[ProfileView, ...], str]:
    """This workload's profiles (model order, then load) and the finding at each model's heaviest one."""
    mine = [v for v in views if v.record.workload == workload and load_kind(v.record.load) == loop]
    order = {m: i for i, m in enumerate(models)}
    mine.sort(key=lambda v: (order.get(v.model, len(order)), v.model, load_value(v.record.load)))
    heaviest = {v.model: v for v in mine}  # the last one of each model is its heaviest
    return tuple(mine), profile_finding(heaviest.values()) or ""


def _workload(
    frame: pd.DataFrame, trials_by_index: Mapping[int, TrialResult], confidence: float,
    views: Sequence[ProfileView] = (), all_claims: Sequence[ClaimRecord] = (),
) -> WorkloadSummary:
    models = tuple(dict.fromkeys(frame["model"]))
    crowd_axis = bool(frame["crowd_clients"].max() > 0)
    if crowd_axis:  # idle/slow clients swept beside a fixed load: they are the x axis
        frame = frame.assign(load_value=frame["crowd_clients"].astype(float))
    points: list[Point] = []
    for (_, _value, _label), rows in frame.groupby(["model", "load_value", "load_label"], sort=False):
        points.append(_point(rows, [trials_by_index[i] for i in rows["index"]], confidence))
    points.sort(key=lambda p: (models.index(p.model), p.load_value))
    heaviest = frame["load_value"].max()
    details = []
    for model in models:
        rows = frame[(frame["model"] == model) & (frame["load_value"] == heaviest)]
        detail = _heavy_detail(model, [trials_by_index[i] for i in rows["index"]])
        if detail is not None:
            details.append(detail)
    first = frame.iloc[0]
    trial = trials_by_index[int(first["index"])]
    kind = workload_kind(trial.workload, trial.requests_spec)
    loop = str(first["load_kind"])
    profiles, note = _workload_profiles(views, str(first["workload"]), loop, models)
    claims = sorted((c for c in all_claims if c.workload == first["workload"] and c.load.get("kind") == loop),
                    key=lambda c: load_value(c.load))  # fmt: skip
    verdict = choose_verdict(str(first["workload"]), kind, loop, points, claims)
    if verdict is not None and note:
        verdict = replace(verdict, sentence=f"{verdict.sentence} {note}")
    return WorkloadSummary(
        workload=str(first["workload"]),
        kind=kind,
        load_kind=loop,
        load_axis="idle + slow clients beside the load" if crowd_axis else (
            "concurrency (connections)" if loop == "closed" else "offered rate (requests/s)"),
        models=models,
        points=tuple(points),
        details=tuple(details),
        verdict=verdict,
        profiles=profiles,
        profile_note=note,
        claims=tuple(claim_sentence(c) for c in claims),
    )


def _env_items(env: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The environment as (key, text) pairs for display; missing values read "unknown"."""
    items: list[tuple[str, str]] = []
    for key, value in (env or {}).items():
        if isinstance(value, Mapping):
            text = ", ".join(f"{k} {'not installed' if v is None else v}" for k, v in sorted(value.items()))
        elif isinstance(value, list | tuple):
            text = ",".join(str(v) for v in value) or "none"
        else:
            text = "unknown" if value is None else str(value)
        items.append((str(key), text))
    return tuple(items)


def _note(t: TrialResult, reasons: tuple[str, ...], log_tail: str = "") -> TrialNote:
    return TrialNote(trial_id=t.trial_id, model=series_name(t), workload=t.workload, load_label=t.load_label,
                     repetition=t.repetition, reasons=reasons, log_tail=log_tail)


def summarize(results: Results, *, confidence: float = 0.95) -> Summary:
    """Aggregate every trial of `results` into a Summary (medians, CIs, verdicts, notes)."""
    from loadbench.results.records import latest_attempts

    header, trials = results.header, latest_attempts(results.trials)
    frame = trials_frame(trials)
    by_index = {t.index: t for t in trials}
    workloads: list[WorkloadSummary] = []
    views = [view_profile(p) for p in results.profiles]
    if not frame.empty:
        for _, rows in frame.groupby(["workload", "load_kind"], sort=False):
            workloads.append(_workload(rows, by_index, confidence, views, results.claims))
    failed = tuple(
        _note(t, (str(failure.get("reason") or "failed"),), str(failure.get("log_tail") or ""))
        for t in trials if not t.status_ok for failure in [t.failure or {}]
    )
    saturated = tuple(
        _note(t, t.saturation_reasons or ("saturated",)) for t in trials if t.status_ok and t.saturated
    )
    measured = [t for t in trials if t.status_ok]
    busy = tuple(
        _note(t, (f"other processes used {t.other_cpu_pct or 0.0:,.0f} % of a core",))
        for t in measured if is_busy(t.other_cpu_pct)
    )
    max_reps = max((p.repetitions for w in workloads for p in w.points), default=0)
    notes = list(results.warnings)
    if not trials:
        notes.append("The results file holds no trials yet: nothing was measured (or the run stopped early).")
    elif results.claims:  # an adaptive run repeated each point until decided: the claims say what holds
        notes.append(claims_note(results.claims, len({(t.workload, t.load_label) for t in trials})))
    elif (note := repetition_note(max_reps, confidence)) is not None:
        notes.append(note)
    precisions = [(t.backend, str(t.backend_extras["latency_precision"])) for t in measured
                  if t.backend_extras.get("latency_precision")]  # fmt: skip
    if (note := precision_note(precisions)) is not None:
        notes.append(note)
    crowd = crowd_rows(trials)
    breakdown = breakdown_rows(trials)
    scenario = header.scenario
    return Summary(
        scenario_name=str(scenario.get("name") or "unnamed"),
        scenario_path=str(scenario.get("path") or ""),
        scenario_text=str(scenario.get("text") or ""),
        thresholds=tuple(str(t) for t in scenario.get("thresholds") or ()),
        created=header.created,
        loadbench_version=header.loadbench_version,
        env=_env_items(header.env),
        env_record=dict(header.env),
        confidence=confidence,
        ci_method=CI_METHOD.format(confidence=confidence),
        max_repetitions=max_reps,
        workloads=tuple(workloads),
        failed=failed,
        saturated=saturated,
        busy=busy,
        busy_note=busy_note([t.other_cpu_pct or 0.0 for t in measured if is_busy(t.other_cpu_pct)],
                            len(measured)),
        notes=tuple(notes),
        table=frame,
        crowd=tuple(crowd),
        crowd_notes=tuple(family_notes(crowd)),
        breakdown=tuple(breakdown),
        breakdown_tls=any(row.tls_p50_ms is not None for row in breakdown),
        trials=tuple(trials),
        families=serving_notes(
            [p for w in workloads for p in w.points], {w.workload: w.kind for w in workloads},
            _startup_ms(header.env),
        ),
    )


def _startup_ms(env: Mapping[str, Any]) -> dict[str, float] | None:
    """The run's measured Python start-up times (results/env.py), when it has them."""
    value = (env or {}).get("python_startup_ms")
    if not isinstance(value, Mapping):
        return None
    return {str(k): float(v) for k, v in value.items() if isinstance(v, int | float)}
