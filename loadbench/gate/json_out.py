"""`check --json` and `compare --json`: the gate's verdicts as JSON objects a script can read.

Values are in base units (ms for times, requests/s, a 0..1 fraction for error_rate, percent for CPU), as
in threshold limits; `exit_code` is the code the command exits with. Keys are documented in docs/ci.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loadbench.gate.check import CheckReport
    from loadbench.gate.compare import Comparison

JSON_FORMAT_VERSION = 1  # 1: first version (loadbench 0.1.0)


def check_json(report: CheckReport) -> dict[str, Any]:
    """The threshold report: overall status and one case per threshold × selection."""
    cases = [
        {
            "threshold": case.threshold.text, "source": case.threshold.source,
            "metric": case.threshold.metric, "op": case.threshold.op.value, "limit": case.threshold.limit,
            "model": case.model,
            "variant": case.variant, "workload": case.workload, "load": case.load, "value": case.value,
            "trials": case.trials, "excluded": list(case.excluded), "status": case.status.value,
        }
        for case in report.cases
    ]  # fmt: skip
    return {"kind": "check", "version": JSON_FORMAT_VERSION, "status": report.status.value,
            "exit_code": int(report.status.exit_code()), "cases": cases,
            "warnings": list(report.warnings)}  # fmt: skip


def comparison_json(comparison: Comparison, *, exit_code: int | None = None) -> dict[str, Any]:
    """One comparison: the two sides, the verdict and per group the median change with its interval (%)."""
    groups = []
    for group in comparison.groups:
        interval = group.interval_pct()
        groups.append({
            "label": group.label, "verdict": group.verdict.value, "pairs": group.n,
            "change_pct": group.change_pct() if group.n else None,
            "interval_pct": list(interval) if interval is not None else None,
            "more_pairs": group.more_pairs, "excluded": list(group.excluded), "note": group.note,
        })  # fmt: skip
    return {"kind": comparison.kind, "version": JSON_FORMAT_VERSION, "baseline": comparison.baseline,
            "candidate": comparison.candidate, "metric": comparison.metric,
            "tolerance": comparison.tolerance, "verdict": comparison.verdict.value,
            "status": comparison.status.value, "exit_code": exit_code, "groups": groups,
            "warnings": list(comparison.warnings)}  # fmt: skip
