"""`loadbench trend`: one metric across many results files (one per commit), with its steps."""

from __future__ import annotations

import click

TREND_METRIC_CHOICES = ["rps", "mean", "p50", "p90", "p95", "p99", "p99.9", "max", "cpu_per_request",
                        "server_cpu", "server_rss"]  # fmt: skip

EPILOG = """\b
Files are ordered by the time in their header (ties: the order given); a file's figure for a series
(model, variant, workload, load point) is the median over its usable trials. Steps are found by
CUSUM with a permutation test (Taylor 2000) at 95 % confidence, at least 2 results on each side of a
step, and at least --min-change (default: compare's tolerance: 5 % for rps, 2.5 % for cpu_per_request).
The default metric (auto) is cpu_per_request when every file's usable trials measured it (loadbench
started the servers), else rps: on a shared runner throughput drifts with the neighbours (docs/ci.md).

\b
Exit codes: 0 no regression, 10 the newest step of some series is a regression (throughput down,
latency or CPU per request up), 2 usage, 1 other errors.

\b
Examples:
  loadbench trend history/*/results.jsonl
  loadbench trend history/*/results.jsonl -o trend.html
  loadbench trend history/*/results.jsonl --metric rps
  loadbench trend a.jsonl b.jsonl c.jsonl d.jsonl --metric p99 --min-change 10%
"""


@click.command(epilog=EPILOG)
@click.argument("results", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--metric", type=click.Choice(["auto", *TREND_METRIC_CHOICES]), default="auto",
              show_default=True, help="The figure to follow (auto: cpu_per_request where measured, else rps).")
@click.option("--min-change", metavar="PCT", help="The smallest step reported (default per metric).")
@click.option("-o", "--output", metavar="FILE", help="Also write an HTML page with a chart per series.")
@click.pass_context
def command(ctx: click.Context, results: tuple[str, ...], metric: str, min_change: str | None,
            output: str | None) -> None:  # fmt: skip
    """Line METRIC up across RESULTS files (one per commit, say), find its steps, and fail when the
    newest step is a regression."""
    from loadbench.cli._gate_output import echo_warnings, finish, parse_percent, write_text
    from loadbench.errors import ExitCode
    from loadbench.gate.paired import default_metric
    from loadbench.gate.trend import build_trend, format_table
    from loadbench.gate.trend_html import render_trend_html
    from loadbench.results.file import read_results
    from loadbench.safe.escape import terminal

    threshold = None if min_change is None else parse_percent(min_change, what="--min-change")
    files = []
    for path in results:
        data = read_results(path)
        echo_warnings(data.warnings)
        files.append(data)
    if metric == "auto":
        metric = default_metric([trial for data in files for trial in data.trials])
    trend = build_trend(files, metric=metric, min_change=threshold)
    click.echo(terminal(format_table(trend), multiline=True))
    echo_warnings(trend.warnings)
    if output:
        write_text(output, render_trend_html(trend), what="-o")
    bad = trend.regressions
    finish(ctx, ExitCode.GATE_FAILED if bad else ExitCode.OK, "regression" if bad else "no regression")
