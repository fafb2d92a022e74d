"""Render one metric of a Summary as github-action-benchmark's custom JSON
(https://github.com/benchmark-action/github-action-benchmark, tools `customBiggerIsBetter` and
`customSmallerIsBetter`).

The action wants one direction per file, so a file holds one metric (`loadbench report --format
github-benchmark --metric M`): `rps` goes with `tool: customBiggerIsBetter`; `p50`, `p99` and
`cpu_per_request` with `tool: customSmallerIsBetter`. Each (model, workload, load point) is one entry:
`{"name", "unit", "value", "range", "extra"}`, where `range` is "± half the 95 % interval" when the
repetitions give one and `extra` says which tool setting the file needs and how many repetitions.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loadbench.errors import UsageError

if TYPE_CHECKING:
    from loadbench.analysis.summary import Estimate, Point, Summary
    from loadbench.report.registry import Renderer

#: metric → (unit, bigger is better)
METRICS: dict[str, tuple[str, bool]] = {
    "rps": ("req/s", True), "p50": ("ms", False), "p99": ("ms", False), "cpu_per_request": ("us", False),
}  # fmt: skip


def _estimate(point: Point, metric: str) -> Estimate:
    return {"rps": point.rps, "p50": point.p50_ms, "p99": point.p99_ms,
            "cpu_per_request": point.cpu_per_request_us}[metric]  # fmt: skip


def github_benchmark_json(summary: Summary, metric: str) -> list[dict[str, Any]]:
    """The entries of one metric, in report order; points without the figure are left out."""
    unit, bigger = METRICS[metric]
    tool = "customBiggerIsBetter" if bigger else "customSmallerIsBetter"
    entries = []
    for w in summary.workloads:
        for p in w.points:
            est = _estimate(p, metric)
            if not math.isfinite(est.median):
                continue
            entry: dict[str, Any] = {"name": f"{p.model} {p.workload} {p.load_label} {metric}", "unit": unit,
                                     "value": round(est.median, 6)}  # fmt: skip
            if est.n >= 2 and math.isfinite(est.low) and math.isfinite(est.high):
                entry["range"] = f"± {(est.high - est.low) / 2:.4g}"
            entry["extra"] = f"tool: {tool}; median of {est.n} repetition(s)"
            entries.append(entry)
    return entries


@dataclass(frozen=True, slots=True)
class GithubBenchmarkRenderer:
    """The `github-benchmark` report format (report.registry.Renderer); `with_metric` picks the metric."""

    metric: str = "rps"
    name: str = "github-benchmark"
    suffix: str = ".github-benchmark"
    suffixes: tuple[str, ...] = (".github-benchmark",)

    def with_metric(self, metric: str) -> GithubBenchmarkRenderer:
        if metric not in METRICS:
            choices = ", ".join(METRICS)
            raise UsageError(f"--metric {metric!r} has no github-benchmark form; use one of {choices}")
        return GithubBenchmarkRenderer(metric)

    def render(self, summary: Summary) -> str:
        entries = github_benchmark_json(summary, self.metric)
        return json.dumps(entries, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


GITHUB_BENCHMARK: Renderer = GithubBenchmarkRenderer()
