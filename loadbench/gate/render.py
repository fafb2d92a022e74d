"""Turn gate outcomes into text for people: a plain terminal table, Markdown (PR comment, step summary)
and JUnit suites. Renderers compute nothing beyond formatting; they return strings or JUnit values."""

from __future__ import annotations

from collections.abc import Sequence

from loadbench.analysis.format import signed_pct
from loadbench.gate.check import CheckReport, ThresholdCase
from loadbench.gate.compare import Comparison, GroupComparison, Verdict
from loadbench.gate.junit import JUnitCase, JUnitProblem, JUnitSuite
from loadbench.gate.status import GateStatus
from loadbench.safe.escape import markdown, markdown_table_code

_CASE_WORD = {GateStatus.PASS: "ok", GateStatus.FAIL: "FAIL", GateStatus.INVALID: "INVALID"}
_MD_MARK = {
    GateStatus.PASS: "✅",
    GateStatus.FAIL: "❌",
    GateStatus.INVALID: "⛔",
    GateStatus.INCONCLUSIVE: "⚠️",
}
_VERDICT_MARK = {
    Verdict.IMPROVEMENT: "🚀",
    Verdict.NO_CHANGE: "✅",
    Verdict.INCONCLUSIVE: "⚠️",
    Verdict.TOO_FEW: "⛔",
    Verdict.REGRESSION: "❌",
}


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset()) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        parts = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in pairs]
        return "  " + "  ".join(parts).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])


_md_escape = markdown  # the one markdown escaper (loadbench.safe.escape)


# ---- thresholds --------------------------------------------------------------------------------------


def check_text(report: CheckReport) -> str:
    """A plain-text table of every threshold case, then warnings and the overall result."""
    rows = [
        [_CASE_WORD.get(c.status, c.status.value), c.threshold.text, c.selection, c.value_text, str(c.trials)]
        for c in report.cases
    ]
    failed = len(report.failed)
    lines = [
        f"Thresholds: {len({c.threshold for c in report.cases})} checked on {len(report.cases)} "
        f"selection{'s' if len(report.cases) != 1 else ''}; {failed} failed",
        _table(["", "threshold", "selection", "median", "trials"], rows, right=frozenset({3, 4})),
    ]
    for case in report.cases:
        if case.status is not GateStatus.PASS:
            lines.append(f"  {case.summary}")
    lines += [f"warning: {w}" for w in report.warnings]
    return "\n".join(lines)


def check_markdown(report: CheckReport) -> str:
    """Markdown for a PR comment or $GITHUB_STEP_SUMMARY."""
    status = report.status
    lines = [
        f"### {_MD_MARK[status]} loadbench check: {status.value}",
        "",
        "| | threshold | selection | median | trials |",
        "|---|---|---|---:|---:|",
    ]
    for c in report.cases:
        lines.append(
            f"| {_MD_MARK[c.status]} | {markdown_table_code(c.threshold.text)} | {_md_escape(c.selection)} | "
            f"{c.value_text} | {c.trials} |"
        )
    lines += _md_warnings(report.warnings)
    return "\n".join(lines) + "\n"


def check_junit(report: CheckReport) -> JUnitSuite:
    """One JUnit case per threshold × selection."""
    return JUnitSuite(name="loadbench check", cases=tuple(_threshold_case(c) for c in report.cases))


def _threshold_case(case: ThresholdCase) -> JUnitCase:
    details = "\n".join(case.excluded)
    failure = error = None
    if case.status is GateStatus.FAIL:
        failure = JUnitProblem(message=case.summary, type="ThresholdFailed", text=details)
    elif case.status is GateStatus.INVALID:
        error = JUnitProblem(message=case.summary, type="InvalidMeasurement", text=details)
    return JUnitCase(
        classname=f"loadbench.check.{case.threshold.metric}",
        name=f"{case.threshold.text} [{case.selection}]",
        time_s=case.duration_s,
        failure=failure,
        error=error,
        system_out=case.summary,
    )


# ---- comparisons -------------------------------------------------------------------------------------


def _change(g: GroupComparison) -> str:
    return signed_pct(g.change_pct()) if g.n else "n/a"


def _interval(g: GroupComparison) -> str:
    bounds = g.interval_pct()
    return "n/a" if bounds is None else f"[{signed_pct(bounds[0])}, {signed_pct(bounds[1])}]"


def _heading(c: Comparison) -> str:
    what = {"paired": "paired", "cross-run": "two runs", "calibration": "calibration"}[c.kind]
    return (
        f"{c.candidate} vs {c.baseline} on {c.metric} ({what}; tolerance ±{c.tolerance * 100:g}%; "
        f"95 % interval of the median change, order statistics)"
    )


def comparison_text(c: Comparison) -> str:
    """A plain-text table with one row per (model, workload, load point), then notes and warnings."""
    rows = [
        [g.label, str(g.n), _change(g), _interval(g), g.verdict.value.upper()]
        for g in c.groups
    ]
    lines = [_heading(c)]
    if rows:
        header = ["group", "pairs", "change", "95 % interval", "verdict"]
        lines.append(_table(header, rows, frozenset({1, 2})))
    for g in c.groups:
        if g.note:
            lines.append(f"  {g.label}: {g.note}")
        for item in g.excluded:
            lines.append(f"  {g.label}: left out {item}")
    lines += [f"warning: {w}" for w in c.warnings]
    lines.append(f"Overall: {c.verdict.value}")
    return "\n".join(lines)


def comparison_markdown(c: Comparison) -> str:
    """Markdown for a PR comment or $GITHUB_STEP_SUMMARY."""
    lines = [
        f"### {_VERDICT_MARK[c.verdict]} loadbench compare: {c.verdict.value}",
        "",
        _heading(c),
        "",
        "| | model · workload · load | pairs | change | 95 % interval | verdict |",
        "|---|---|---:|---:|---|---|",
    ]
    for g in c.groups:
        change = _change(g)
        verdict = g.verdict.value + (f" ({g.note})" if g.note else "")
        lines.append(
            f"| {_VERDICT_MARK[g.verdict]} | {_md_escape(g.label)} | {g.n} | {change} | {_interval(g)} | "
            f"{_md_escape(verdict)} |"
        )
    excluded = [f"{g.label}: left out {item}" for g in c.groups for item in g.excluded]
    lines += _md_warnings([*c.warnings, *excluded])
    return "\n".join(lines) + "\n"


def comparison_junit(c: Comparison, *, fail_on_inconclusive: bool = False) -> JUnitSuite:
    """One JUnit case per group verdict; inconclusive is skipped unless `fail_on_inconclusive`."""
    cases = []
    for g in c.groups:
        change = _change(g)
        message = f"{g.label}: {g.verdict.value}, {c.metric} {change} {_interval(g)}"
        if g.note:
            message += f"; {g.note}"
        details = "\n".join(g.excluded)
        failure = error = None
        skipped = None
        if g.verdict is Verdict.REGRESSION:
            failure = JUnitProblem(message=message, type="Regression", text=details)
        elif g.verdict is Verdict.TOO_FEW:
            error = JUnitProblem(message=message, type="InvalidMeasurement", text=details)
        elif g.verdict is Verdict.INCONCLUSIVE:
            if fail_on_inconclusive:
                failure = JUnitProblem(message=message, type="Inconclusive", text=details)
            else:
                skipped = message
        cases.append(
            JUnitCase(
                classname=f"loadbench.compare.{c.metric}",
                name=f"{g.label}: {c.candidate} vs {c.baseline}",
                failure=failure,
                error=error,
                skipped=skipped,
                system_out=message,
            )
        )
    return JUnitSuite(name=f"loadbench compare ({c.kind})", cases=tuple(cases))


def _md_warnings(warnings: Sequence[str]) -> list[str]:
    if not warnings:
        return []
    return ["", "<details><summary>Warnings</summary>", "", *(f"- {_md_escape(w)}" for w in warnings), "",
            "</details>"]
