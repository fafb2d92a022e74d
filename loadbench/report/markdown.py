"""Render a Summary as GitHub-flavoured markdown: short enough for $GITHUB_STEP_SUMMARY or a PR comment."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from loadbench.analysis import format as fmt
from loadbench.analysis.caveats import BUSY_OTHER_CPU_PCT
from loadbench.safe.escape import markdown, markdown_code

if TYPE_CHECKING:
    from loadbench.analysis.summary import Summary
    from loadbench.report.registry import Renderer

# The one markdown escaper (loadbench.safe.escape), under the name the renderers here use.
md_escape = markdown
_code = markdown_code


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def render_markdown(summary: Summary) -> str:
    """The summary as markdown text, ending with a newline."""
    out: list[str] = [f"## loadbench: {md_escape(summary.scenario_name)}", ""]
    trials, workloads, reps = len(summary.table), len(summary.workloads), summary.max_repetitions
    out.append(
        f"{_count(trials, 'trial')}, {_count(workloads, 'workload')}, up to {_count(reps, 'repetition')} "
        "per point" + (f", run {md_escape(summary.created)}" if summary.created else "") + "."
    )
    out.append("")
    if summary.busy_note:
        out.append(f"> [!WARNING]\n> **Busy machine.** {md_escape(summary.busy_note)}")
        out.append("")
    if summary.workloads:
        out.append("**Verdict**")
        out.append("")
        for w in summary.workloads:
            if w.verdict is not None:
                out.append(f"- {md_escape(w.verdict.sentence)}")
            else:
                only = md_escape(", ".join(w.models))
                out.append(f"- {_code(w.workload)}: only {only} produced data, nothing to compare.")
            out.extend(f"  - {md_escape(sentence)}" for sentence in w.claims)  # an adaptive run's claims
        out.append("")
    if summary.families:
        out.append("**How each family serves**")
        out.append("")
        out.extend(f"- {md_escape(note)}" for note in summary.families)
        out.append("")
    if summary.saturated:
        out.append(
            f"> [!WARNING]\n> The load generator could not keep up in {len(summary.saturated)} trial(s): "
            "their figures measure the generator, not the server."
        )
        out.append("")
    if summary.failed:
        listing = ", ".join(_code(t.trial_id) for t in summary.failed)
        out.append(f"> [!CAUTION]\n> {len(summary.failed)} trial(s) failed and are left out: {listing}")
        out.append("")
    for w in summary.workloads:
        out.append(f"### {_code(w.workload)} ({w.load_kind} loop)")
        out.append("")
        flagged = any(fmt.flags(p) for p in w.points)
        cost = any(math.isfinite(p.cpu_per_request_us.median) for p in w.points)  # older files lack it
        out.append("| model | load | req/s | interval | p50 ms | p99 ms | errors | server CPU % |"
                   + (" CPU µs/req |" if cost else "") + " RSS MB |"
                   + (" flags |" if flagged else ""))
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if cost else "")
                   + ("---|" if flagged else ""))
        for p in w.points:
            name = md_escape(p.model)
            if w.verdict and p.model == w.verdict.winner:
                name = f"**{name}**"
            cells = [
                name, md_escape(p.load_label), fmt.num(p.rps.median), fmt.interval(p.rps) or fmt.MISSING,
                fmt.ms(p.p50_ms.median), fmt.ms(p.p99_ms.median), fmt.num(p.error_total),
                fmt.num(p.server_cpu_pct.median, 1),
                *([fmt.num(p.cpu_per_request_us.median, 1)] * cost), fmt.num(p.rss_mb.median, 1),
            ]
            if flagged:
                cells.append(", ".join(fmt.flags(p)))
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    out.extend(_crowd_section(summary))
    out.extend(_breakdown_section(summary))
    for note in summary.notes:
        out.append(f"_{md_escape(note)}_")
        out.append("")
    out.append(
        f"<sub>{md_escape(summary.ci_method)} Server CPU % of one core (100 = a full core). Flags count "
        "trials: saturated (the generator could not keep up), busy (other processes used more than "
        f"{BUSY_OTHER_CPU_PCT:.0f} % of a core), failed.</sub>"
    )
    return "\n".join(out) + "\n"


def _crowd_section(summary: Summary) -> list[str]:
    """Idle and slow clients against the load: held, lost, active req/s and p99, server memory."""
    if not summary.crowd:
        return []
    out = ["### Idle and slow clients beside the load", "",
           "| workload | model | load | held | waiting | lost | req/s | p99 ms | errors | RSS MB | before MB "
           "| fds | KiB per held |",
           "|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for row in summary.crowd:
        lost = ", ".join(f"{name} {n:,}" for name, n in row.lost if n) or "none"
        cells = [
            _code(row.workload), md_escape(row.model), md_escape(row.load_label),
            fmt.num(row.held), fmt.num(row.waiting), md_escape(lost), fmt.num(row.rps), fmt.ms(row.p99_ms),
            fmt.num(row.errors), fmt.num(row.rss_mb, 1), fmt.num(row.rss_before_mb, 1), fmt.num(row.fds),
            fmt.num(row.kib_per_held, 1),
        ]  # fmt: skip
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append(
        "<sub>held: idle + slow clients still open at the window's end; waiting: keep-alive clients whose"
        " one request was never answered; KiB per held: (RSS over the window − the same model's RSS "
        "without idle clients, else before they opened) / held, summed over the server's processes (pre-"
        'fork shared pages count once per process).</sub>'
    )
    out.append("")
    out.extend(f"- {md_escape(note)}" for note in summary.crowd_notes)
    out.append("")
    return out


def _breakdown_section(summary: Summary) -> list[str]:
    """Connect, TLS handshake and TTFB beside total latency, per model and load point (ms, medians)."""
    if not summary.breakdown:
        return []
    tls = summary.breakdown_tls
    out = ["### Timing breakdown", "",
           "| workload | model | load | connect p50 | connect p99 |" + (" TLS p50 | TLS p99 |" if tls else "")
           + " TTFB p50 | TTFB p99 | total p50 | total p99 | connections |",
           "|---|---|---|---:|---:|" + ("---:|---:|" if tls else "")
           + "---:|---:|---:|---:|---:|"]  # fmt: skip
    for row in summary.breakdown:
        cells = [
            _code(row.workload), md_escape(row.model), md_escape(row.load_label),
            fmt.ms(row.connect_p50_ms), fmt.ms(row.connect_p99_ms),
            *([fmt.ms(row.tls_p50_ms), fmt.ms(row.tls_p99_ms)] if tls else []),
            fmt.ms(row.ttfb_p50_ms), fmt.ms(row.ttfb_p99_ms),
            fmt.ms(row.total_p50_ms), fmt.ms(row.total_p99_ms),
            fmt.num(row.connections),
        ]  # fmt: skip
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append(
        "<sub>Milliseconds, medians over repetitions. Connect" + (" and TLS are" if tls else " is")
        + " per new connection (warm-up included); TTFB (from the send) and total latency per response. "
        "On loopback the kernel completes the TCP handshake before accept(), so a slow accept shows in "
        "TTFB.</sub>"
    )
    out.append("")
    return out


class MarkdownRenderer:
    """The markdown report format (report.registry.Renderer)."""

    name = "md"
    suffix = ".md"
    suffixes = (".md",)

    def render(self, summary: Summary) -> str:
        return render_markdown(summary)


MARKDOWN: Renderer = MarkdownRenderer()
