"""Print a run's summary in the terminal with rich: one table per workload, then its verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loadbench.report import format as fmt

if TYPE_CHECKING:
    from rich.console import Console

    from loadbench.analysis import Summary
    from loadbench.results import Results


def render_terminal_summary(results: Results | Summary, console: Console) -> None:
    """Per workload: model × load point → req/s, p50, p99, errors, server CPU, RSS; then the winner.

    Accepts the Results of a run (summarized here) or an already built Summary.
    """
    from rich.table import Table
    from rich.text import Text

    from loadbench.analysis import Summary, summarize

    summary = results if isinstance(results, Summary) else summarize(results)
    if not summary.workloads:
        console.print("No trials were recorded.")
    for w in summary.workloads:
        table = Table(title=Text(w.key), title_justify="left", title_style="bold", header_style="bold")
        table.add_column("model")
        table.add_column("load", justify="right")
        for name in ("req/s", "p50 ms", "p99 ms", "errors", "server CPU %", "RSS MB"):
            table.add_column(name, justify="right")
        table.add_column("")
        previous: str | None = None
        for p in w.points:
            flags = []
            if p.saturated:
                flags.append("[yellow]saturated[/]")
            if p.failed:
                flags.append(f"[red]{p.failed} failed[/]")
            winner = w.verdict is not None and p.model == w.verdict.winner
            label = Text(p.model if p.model != previous else "", style="bold green" if winner else "")
            previous = p.model
            errors = f"{fmt.num(p.error_total)} ({fmt.pct(p.error_rate.median)})"
            table.add_row(
                label, p.load_label, fmt.num(p.rps.median), fmt.ms(p.p50_ms.median), fmt.ms(p.p99_ms.median),
                errors, fmt.num(p.server_cpu_pct.median, 1), fmt.num(p.rss_mb.median, 1), " ".join(flags),
            )
        console.print(table)
        if w.verdict is not None:
            console.print(Text(w.verdict.sentence), soft_wrap=False)
        console.print()
    if summary.saturated:
        console.print(
            f"[bold yellow]Warning:[/] the load generator could not keep up in {len(summary.saturated)} "
            "trial(s); those figures measure the generator, not the server."
        )
    if summary.failed:
        console.print(f"[bold red]{len(summary.failed)} trial(s) failed[/] and are left out of the medians.")
    for note in summary.notes:
        console.print(Text(note, style="dim"))
