"""Render a Summary as JSON: the aggregated points, verdicts and notes, plus one record per trial."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loadbench.analysis.summary import Summary
    from loadbench.report.registry import Renderer

SUMMARY_FORMAT = "loadbench-summary"
# Version history: 1 (loadbench 0.1.0).
SUMMARY_VERSION = 1


def _clean(value: Any) -> Any:
    """NaN and infinities become null (JSON has neither); tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars from pandas
        return _clean(value.item())
    return value


def summary_to_json(summary: Summary) -> Any:
    """The JSON object of a Summary (spectra and time series stay in the results file)."""
    workloads = []
    for w in summary.workloads:
        workloads.append({
            "workload": w.workload, "kind": w.kind, "load_kind": w.load_kind, "models": list(w.models),
            "verdict": dataclasses.asdict(w.verdict) if w.verdict else None,
            "points": [dataclasses.asdict(p) | {"errors": dict(p.errors)} for p in w.points],
        })
    table = summary.table
    return _clean({
        "format": SUMMARY_FORMAT, "version": SUMMARY_VERSION,
        "scenario": {"name": summary.scenario_name, "path": summary.scenario_path,
                     "thresholds": list(summary.thresholds)},
        "created": summary.created, "loadbench_version": summary.loadbench_version,
        "env": dict(summary.env_record), "confidence": summary.confidence, "ci_method": summary.ci_method,
        "max_repetitions": summary.max_repetitions, "notes": list(summary.notes),
        "workloads": workloads,
        "failed": [dataclasses.asdict(t) for t in summary.failed],
        "saturated": [dataclasses.asdict(t) for t in summary.saturated],
        "busy_note": summary.busy_note, "busy": [dataclasses.asdict(t) for t in summary.busy],
        "timing_breakdown": [dataclasses.asdict(r) for r in summary.breakdown],
        "trials": [] if table.empty else table.to_dict("records"),
    })  # fmt: skip


def render_json(summary: Summary) -> str:
    """The summary as indented JSON text, ending with a newline."""
    return json.dumps(summary_to_json(summary), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


class JsonRenderer:
    """The JSON report format (report.registry.Renderer)."""

    name = "json"
    suffix = ".json"
    suffixes = (".json",)

    def render(self, summary: Summary) -> str:
        return render_json(summary)


JSON: Renderer = JsonRenderer()
