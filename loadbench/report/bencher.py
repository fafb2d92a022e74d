"""Render a Summary as Bencher Metric Format JSON (https://bencher.dev/docs/reference/bencher-metric-format).

One benchmark per (model, workload, load point), named `model workload load` (`model/variant ...` in a
paired run is not split: the Summary already keeps models apart). Measures, each with the median as
`value` and its order-statistic interval as `lower_value`/`upper_value` when there is one:

    throughput        responses per second (Bencher's built-in measure, ops/s)
    latency           median latency in nanoseconds (Bencher's built-in measure, ns)
    latency-p99       p99 latency in nanoseconds
    cpu-per-request   the server's CPU time per response in nanoseconds (when the results carry it)

Bencher creates a measure named by slug the first time it sees one. Upload with
`bencher run --adapter json --file report.bencher`.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loadbench.analysis.summary import Estimate, Summary
    from loadbench.report.registry import Renderer


def _metric(estimate: Estimate, scale: float) -> dict[str, float] | None:
    if not math.isfinite(estimate.median):
        return None
    out = {"value": estimate.median * scale}
    if estimate.n >= 2 and math.isfinite(estimate.low) and math.isfinite(estimate.high):
        out["lower_value"] = estimate.low * scale
        out["upper_value"] = estimate.high * scale
    return out


def bencher_json(summary: Summary) -> dict[str, Any]:
    """The BMF object: benchmark name → measure slug → {value, lower_value, upper_value}."""
    out: dict[str, Any] = {}
    for w in summary.workloads:
        for p in w.points:
            measures = {
                "throughput": _metric(p.rps, 1.0),
                "latency": _metric(p.p50_ms, 1e6),
                "latency-p99": _metric(p.p99_ms, 1e6),
                "cpu-per-request": _metric(p.cpu_per_request_us, 1e3),
            }
            kept = {slug: m for slug, m in measures.items() if m is not None}
            if kept:
                out[f"{p.model} {p.workload} {p.load_label}"] = kept
    return out


class BencherRenderer:
    """The `bencher` report format (report.registry.Renderer)."""

    name = "bencher"
    suffix = ".bencher"
    suffixes = (".bencher",)

    def render(self, summary: Summary) -> str:
        return json.dumps(bencher_json(summary), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


BENCHER: Renderer = BencherRenderer()
