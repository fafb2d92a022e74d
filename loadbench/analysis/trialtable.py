"""The per-trial flat table: one row of plain values per TrialResult, the columns of the CSV export.

Also the small per-trial facts the aggregation in analysis.summary groups and sums by: the load's kind
and plotted value, the name a model is shown under, and the error counts. Plain dicts, no pandas
(analysis.trials_frame turns the rows into a DataFrame).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loadbench.analysis.caveats import is_busy
from loadbench.shapes import LoadShape, shape_from_json
from loadbench.types import ErrorClass

if TYPE_CHECKING:
    from loadbench.results.records import TrialResult

ERROR_CLASSES = tuple(cls.value for cls in ErrorClass)


def _shape(load: Mapping[str, Any]) -> LoadShape | None:
    """The load shape of a results-format `load` object (a missing kind is closed); None if malformed."""
    try:
        return shape_from_json({"kind": "closed", **load})
    except (KeyError, TypeError, ValueError):
        return None


def load_value(load: Mapping[str, Any]) -> float:
    """The number a load point is ordered and plotted by (LoadShape.plot_value); 0 when malformed."""
    shape = _shape(load)
    return shape.plot_value if shape is not None else 0.0


def load_kind(load: Mapping[str, Any]) -> str:
    """"closed" or "open": how the load is driven (LoadShape.loop); the raw kind when malformed."""
    shape = _shape(load)
    return shape.loop if shape is not None else str(load.get("kind", "closed"))


def series_name(trial: TrialResult) -> str:
    """The name a trial's model is shown under: the model, with its variant in parentheses if any."""
    return f"{trial.model} ({trial.variant})" if trial.variant else trial.model


def error_counts(trial: TrialResult) -> dict[str, int]:
    """Every transport error class (zeros included), then "HTTP <code>" for each non-2xx status seen."""
    counts = {name: int(trial.errors.get(name) or 0) for name in ERROR_CLASSES}
    for code, count in sorted(trial.status.items()):
        if not str(code).startswith("2") and count:
            counts[f"HTTP {code}"] = counts.get(f"HTTP {code}", 0) + int(count)
    return counts


def trial_row(t: TrialResult) -> dict[str, Any]:
    """The trial as one flat row of plain values in base units; the keys are the CSV columns, in order."""
    latency, server, counts = t.latency_ms or {}, t.server or {}, error_counts(t)
    row: dict[str, Any] = {
        "trial_id": t.trial_id, "index": t.index, "workload": t.workload, "model": series_name(t),
        "server_model": t.server_model, "family": t.family, "load_kind": load_kind(t.load),
        "load_label": t.load_label, "load_value": load_value(t.load), "repetition": t.repetition,
        "status_ok": t.status_ok, "duration_s": t.duration_s, "requests": t.requests, "ok": t.ok,
        "rps": t.rps, "target_rps": t.target_rps, "dropped": t.dropped,
    }  # fmt: skip
    for key in ("mean", "p50", "p90", "p99", "p99_9", "max"):
        row[f"latency_{key}_ms"] = latency.get(key)
    # The timing breakdown (native engine; None elsewhere): per new connection, then per response.
    for part, summary in (("connect", t.connect_ms), ("tls", t.tls_ms), ("ttfb", t.ttfb_ms)):
        for key in ("p50", "p99"):
            row[f"{part}_{key}_ms"] = (summary or {}).get(key)
    row["error_rate"] = t.error_rate
    row.update({f"errors_{name}": counts[name] for name in ERROR_CLASSES})
    row["pipeline"] = t.pipeline
    row["pipeline_downgrades"] = t.pipeline_downgrades
    row["aborted"] = t.aborted
    row["non_2xx"] = sum(v for k, v in counts.items() if k.startswith("HTTP "))
    row["server_cpu_pct"] = server.get("cpu_pct_mean")
    row["server_rss_mb"] = server.get("rss_mb_max")
    crowd = t.crowd or {}
    row["crowd_clients"] = int(crowd.get("idle", 0)) + int(crowd.get("slow_readers", 0))
    held = int(crowd.get("idle_held_end", 0)) + int(crowd.get("slow_held_end", 0))
    row["crowd_held"] = held if crowd else None
    row["server_fds"] = server.get("fds_mean")
    row["cpu_per_request_us"] = t.server_cpu_us_per_request
    row["client_cpu_pct"] = t.client_cpu_pct
    row["other_cpu_pct"] = t.other_cpu_pct
    row["busy"] = is_busy(t.other_cpu_pct)
    row["saturated"] = t.saturated
    row["saturation_reasons"] = "; ".join(t.saturation_reasons)
    row["failure"] = str((t.failure or {}).get("reason") or "")
    row["engine"] = t.engine
    row["backend"] = t.backend
    return row
