"""Small helpers over trial records (loadbench.results.records.TrialResult) that the gate shares.

The gate reads TrialResult attributes directly; their names and units are the JSON keys of
docs/results-format.md. These helpers name a trial in messages (`describe`), say why a trial cannot be
used (`exclusion_reason`), give its place in the run (`round_of`, `index_of`) and read one figure of its
latency summary by name (`latency_figure`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from loadbench.results.records import TrialResult

LatencyKey = Literal["min", "mean", "p50", "p90", "p95", "p99", "p99_9", "max"]
_LATENCY_KEYS: dict[str, LatencyKey] = {
    "min": "min", "mean": "mean", "p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99", "p99_9": "p99_9",
    "max": "max",
}


def index_of(trial: TrialResult) -> int:
    """Return the trial's position in the run (its `index`)."""
    return trial.index


def round_of(trial: TrialResult) -> int:
    """Return the trial's paired round (1 in a run without rounds)."""
    return trial.round


def latency_figure(trial: TrialResult, key: str) -> float | None:
    """Return the figure `key` (`p50`, `p99_9`, ...; see LatencySummary) of the trial's `latency_ms`, in ms.

    None when the trial has no latency summary, lacks that figure, or `key` names no figure.
    """
    name = _LATENCY_KEYS.get(key)
    return None if name is None else (trial.latency_ms or {}).get(name)


def exclusion_reason(trial: TrialResult) -> str | None:
    """Return why a trial cannot be used by the gate (server failed, generator saturated), else None."""
    if not trial.status_ok:
        reason = (trial.failure or {}).get("reason")
        return f"server failed ({reason})" if reason else "server failed"
    if trial.saturated:
        reasons = trial.saturation_reasons
        return f"saturated ({'; '.join(str(r) for r in reasons)})" if reasons else "saturated"
    return None


def describe(trial: TrialResult) -> str:
    """Return a short name of a trial for messages: model[/variant] workload load rep N round M."""
    who = f"{trial.model}/{trial.variant}" if trial.variant else trial.model
    return f"{who} {trial.workload} {trial.load_label} rep {trial.repetition} round {round_of(trial)}"
