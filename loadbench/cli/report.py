"""`loadbench report`: rebuild a report (HTML, markdown, CSV or JSON) from a results file alone."""

from __future__ import annotations

import click

from loadbench.report.registry import format_names

EPILOG = """\b
Without -o, HTML goes to report.html next to RESULTS and the other formats go to stdout.
Without --format, the format follows the -o file's suffix (.html, .md, .csv, .json), else html.
bencher is Bencher Metric Format JSON; github-benchmark is github-action-benchmark's custom JSON
(tool customBiggerIsBetter for rps, customSmallerIsBetter for the others).
No server is started: everything comes from the results file.

\b
Examples:
  loadbench report reports/quickstart-20261124-060000/results.jsonl
  loadbench report results.jsonl -o /tmp/report.html
  loadbench report results.jsonl --format md >> "$GITHUB_STEP_SUMMARY"
  loadbench report results.jsonl --format csv -o trials.csv
  loadbench report results.jsonl --format bencher -o bench.json    # Bencher Metric Format
  loadbench report results.jsonl --format github-benchmark --metric cpu_per_request -o cost.json
  loadbench report results.jsonl --format hgrm -o latency.hgrm   # wrk2 / HdrHistogram plotter
"""


@click.command(epilog=EPILOG)
@click.argument("results", type=click.Path(dir_okay=False))
@click.option(
    "-o", "--output", metavar="FILE|-", default=None,
    help="Where to write the report; '-' is stdout. Default: see below.",
)
@click.option("--format", "fmt", type=click.Choice(format_names()), default=None, help="Report format.")
@click.option(
    "--metric", type=click.Choice(["rps", "p50", "p99", "cpu_per_request"]), default=None,
    help="For github-benchmark (one metric, one direction per file): the metric. Default: rps.",
)
def command(results: str, output: str | None, fmt: str | None, metric: str | None) -> None:
    """Build a report from RESULTS (a results.jsonl written by `loadbench run` or `bench --json`)."""
    from loadbench.analysis.summary import summarize
    from loadbench.report import default_report_path, format_for_path, render_report, write_report
    from loadbench.results.file import read_results
    from loadbench.safe.escape import terminal

    chosen = fmt or (format_for_path(output) if output and output != "-" else "html")
    if output is None and chosen != "html":
        output = "-"
    if output == "-":
        data = read_results(results)
        for warning in data.warnings:
            click.echo(f"Warning: {terminal(warning)}", err=True)
        click.echo(render_report(summarize(data), chosen, metric=metric), nl=False)
        return
    target = write_report(results, output or default_report_path(results, chosen), fmt=chosen, metric=metric)
    click.echo(f"Report written to {terminal(str(target))}")
