"""Print a run's summary in the terminal with rich: one table per workload, then its verdict.

The tables are laid out to fit an 80-column terminal: no vertical rules, short headers, errors as a count
(with the rate only when there are any), and a flags column only when some row has a flag.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from loadbench.analysis import format as fmt
from loadbench.safe.escape import terminal

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from loadbench.analysis.summary import Point, Summary, WorkloadSummary
    from loadbench.results.records import Results


def _errors(p: Point) -> str:
    """"0", "3", or "219 (0.09%)": the count summed over repetitions, then the median rate when it is not
    zero (one significant digit below 1 %, so the cell stays narrow)."""
    rate = p.error_rate.median
    if not p.error_total or not rate > 0:
        return fmt.num(p.error_total)
    return f"{fmt.num(p.error_total)} ({fmt.short_pct(rate)})"


_STYLES = {"saturated": "yellow", "busy": "magenta", "failed": "red"}
TOP_IN_TERMINAL = 5


def _print_profiles(w: WorkloadSummary, console: Console) -> None:
    """Per profiled model the top functions by own time (total beside); one line per model not profiled."""
    from rich.text import Text

    for v in w.profiles:
        head = f"profile of {v.model} at {v.record.load_label}"
        if not v.profiled:
            console.print(Text(terminal(f"{head}: not profiled: {v.record.reason}"), style="dim"))
            continue
        intro = f"{head} ({v.caption()}); top functions, own / total time:"
        console.print(Text(terminal(intro), style="dim"))
        for f in v.top_own[:TOP_IN_TERMINAL]:
            mark = "" if f.category == "app" else f" [{f.category}]"
            line = f"  {fmt.pct(f.own_share):>6} {fmt.pct(f.total_share):>6}  {f.function} ({f.path}){mark}"
            console.print(Text(terminal(line)), soft_wrap=False, overflow="ellipsis", no_wrap=True)


def _styled(flag: str) -> str:
    style = next((s for word, s in _STYLES.items() if word in flag), "")
    return f"[{style}]{flag}[/]" if style else flag


def render_terminal_summary(results: Results | Summary, console: Console) -> None:
    """Per workload: model × load point → req/s, p50, p99, errors, server CPU, RSS; then the winner.

    Accepts the Results of a run (summarized here) or an already built Summary. A busy machine is
    announced before any table, since it casts doubt on all of them.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from loadbench.analysis.summary import Summary, summarize

    summary = results if isinstance(results, Summary) else summarize(results)
    if summary.busy_note:
        console.print(Text("Busy machine. ", style="bold magenta") + Text(terminal(summary.busy_note)))
        console.print()
    if not summary.workloads:
        console.print("No trials were recorded.")
    for w in summary.workloads:
        flags = {id(p): fmt.flags(p) for p in w.points}
        title = Text(terminal(w.key))
        table = Table(title=title, title_justify="left", title_style="bold", header_style="bold",
                      box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
        table.add_column("model", overflow="fold", min_width=8)
        table.add_column("load", justify="right", no_wrap=True)
        cost = any(math.isfinite(p.cpu_per_request_us.median) for p in w.points)  # older files lack it
        for name in ("req/s", "p50 ms", "p99 ms", "errors", "CPU %", *(["CPU µs/req"] * cost), "RSS MB"):
            table.add_column(name, justify="right", no_wrap=True)
        if any(flags.values()):
            table.add_column("flags", min_width=12)
        previous: str | None = None
        for p in w.points:
            winner = w.verdict is not None and p.model == w.verdict.winner
            shown = terminal(p.model) if p.model != previous else ""
            label = Text(shown, style="bold green" if winner else "")
            previous = p.model
            cells: list[RenderableType] = [
                label, Text(terminal(p.load_label)), fmt.num(p.rps.median), fmt.ms(p.p50_ms.median),
                fmt.ms(p.p99_ms.median), _errors(p), fmt.num(p.server_cpu_pct.median, 1),
                *([fmt.num(p.cpu_per_request_us.median, 1)] * cost), fmt.num(p.rss_mb.median, 1),
            ]
            if any(flags.values()):
                cells.append(" ".join(_styled(f) for f in flags[id(p)]))
            table.add_row(*cells)
        console.print(table)
        if w.verdict is not None:
            console.print(Text(terminal(w.verdict.sentence)), soft_wrap=False)
        elif w.profile_note:
            console.print(Text(terminal(w.profile_note)), soft_wrap=False)
        for sentence in w.claims:  # an adaptive run: each load point's claim, with its 95 % interval
            console.print(Text("  • ") + Text(terminal(sentence)), soft_wrap=False)
        _print_profiles(w, console)
        console.print()
    for note in summary.families:
        console.print(Text(terminal(note)), soft_wrap=False)
    cost_note = "; CPU µs/req: their CPU time per response" if any(
        math.isfinite(p.cpu_per_request_us.median) for w in summary.workloads for p in w.points) else ""
    console.print(Text(f"CPU % and RSS MB: the server's processes (100 % = one core){cost_note}.",
                       style="dim"))
    if summary.saturated:
        console.print(
            f"[bold yellow]Warning:[/] the load generator could not keep up in {len(summary.saturated)} "
            "trial(s); those figures measure the generator, not the server."
        )
    if summary.failed:
        console.print(f"[bold red]{len(summary.failed)} trial(s) failed[/] and are left out of the medians.")
    for note in summary.notes:
        console.print(Text(terminal(note), style="dim"))
