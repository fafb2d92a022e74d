"""Read the figures the gate needs from trial records, whatever their concrete class.

The gate works on loadbench.results.records.TrialResult, whose attributes are the JSON keys of
docs/results-format.md; nested records (`latency_ms`, `server`, `errors`) may be mappings or objects.
Keeping the access here lets the gate's tests use small stand-in records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class TrialLike(Protocol):
    """The attributes of a trial record the gate reads (see docs/results-format.md)."""

    model: str
    variant: str | None
    workload: str
    load_label: str
    repetition: int
    round: int
    rps: float
    error_rate: float
    saturated: bool
    status_ok: bool


def get(record: Any, key: str, default: Any = None) -> Any:
    """Return `record[key]` for a mapping or `record.key` for an object, else `default`."""
    if record is None:
        return default
    if isinstance(record, Mapping):
        return record.get(key, default)
    return getattr(record, key, default)


def index_of(trial: Any) -> int:
    """Return the trial's position in the run (its `index`), 0 when absent."""
    value = get(trial, "index", 0)
    return int(value) if value is not None else 0


def round_of(trial: Any) -> int:
    """Return the trial's paired round, falling back to its repetition when the run had no rounds."""
    value = get(trial, "round")
    if value is None:
        value = get(trial, "repetition", 1)
    return int(value)


def exclusion_reason(trial: Any) -> str | None:
    """Return why a trial cannot be used by the gate (server failed, generator saturated), else None."""
    if not get(trial, "status_ok", True):
        failure = get(trial, "failure")
        reason = get(failure, "reason") if failure is not None else None
        return f"server failed ({reason})" if reason else "server failed"
    if get(trial, "saturated", False):
        reasons = get(trial, "saturation_reasons") or []
        return f"saturated ({'; '.join(str(r) for r in reasons)})" if reasons else "saturated"
    return None


def describe(trial: Any) -> str:
    """Return a short name of a trial for messages: model[/variant] workload load rep N round M."""
    variant = get(trial, "variant")
    who = f"{get(trial, 'model')}/{variant}" if variant else str(get(trial, "model"))
    return (
        f"{who} {get(trial, 'workload')} {get(trial, 'load_label')} "
        f"rep {get(trial, 'repetition')} round {round_of(trial)}"
    )
