"""The timing breakdown: per model and load point, time to connect, TLS handshake and time to first byte
beside the total latency, each the median over the repetitions that measured it.

A row exists for every (workload, model, load point) with at least one measured trial that carries a
breakdown figure (`connect_ms`, `tls_ms` or `ttfb_ms`: the native engine's; other backends and older
files have none, and then the report has no breakdown table). The connect and TLS figures are per new
connection (warm-up included, since with keep-alive most connections open then); TTFB and the total
are per response. A figure no repetition measured is None ("–" in reports).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loadbench.analysis.trialtable import series_name

if TYPE_CHECKING:
    from loadbench.results.records import LatencySummary, TrialResult

__all__ = ["BreakdownRow", "breakdown_rows"]

#: The parts of the breakdown, as the results keys name them (`{part}_ms`), in the order reports show them.
PARTS = ("connect", "tls", "ttfb")


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakdownRow:
    """One model at one load point of one workload; milliseconds, medians over repetitions (None: not
    measured). `tls_*` only on https; `total_*` is the trial's latency (`latency_ms`)."""

    workload: str
    model: str
    load_label: str
    repetitions: int
    connections: int | None  # new connections measured, summed over the repetitions that say
    connect_p50_ms: float | None
    connect_p99_ms: float | None
    tls_p50_ms: float | None
    tls_p99_ms: float | None
    ttfb_p50_ms: float | None
    ttfb_p99_ms: float | None
    total_p50_ms: float | None
    total_p99_ms: float | None


def _figure(summary: LatencySummary | None, key: str) -> float | None:
    value = (summary or {}).get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _median(values: Sequence[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return statistics.median(got) if got else None


def _has_breakdown(trial: TrialResult) -> bool:
    return any(getattr(trial, f"{part}_ms") is not None for part in PARTS)


def _connections(trials: Sequence[TrialResult]) -> int | None:
    counts = []
    for t in trials:
        extras: Mapping[str, Any] = t.backend_extras or {}
        measured = extras.get("connections_measured")
        if isinstance(measured, int) and not isinstance(measured, bool):
            counts.append(measured)
    return sum(counts) if counts else None


def breakdown_rows(trials: Sequence[TrialResult]) -> list[BreakdownRow]:
    """The breakdown's rows in the order the trials first appear (failed trials left out)."""
    groups: dict[tuple[str, str, str], list[TrialResult]] = {}
    for t in trials:
        if t.status_ok and _has_breakdown(t):
            groups.setdefault((t.workload, series_name(t), t.load_label), []).append(t)
    rows: list[BreakdownRow] = []
    for (workload, model, load_label), group in groups.items():

        def median_of(name: str, key: str, group: list[TrialResult] = group) -> float | None:
            return _median([_figure(getattr(t, name), key) for t in group])

        rows.append(BreakdownRow(
            workload=workload, model=model, load_label=load_label, repetitions=len(group),
            connections=_connections(group),
            connect_p50_ms=median_of("connect_ms", "p50"), connect_p99_ms=median_of("connect_ms", "p99"),
            tls_p50_ms=median_of("tls_ms", "p50"), tls_p99_ms=median_of("tls_ms", "p99"),
            ttfb_p50_ms=median_of("ttfb_ms", "p50"), ttfb_p99_ms=median_of("ttfb_ms", "p99"),
            total_p50_ms=median_of("latency_ms", "p50"), total_p99_ms=median_of("latency_ms", "p99"),
        ))  # fmt: skip
    return rows
