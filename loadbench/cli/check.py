"""`loadbench check`: hold a results file to thresholds (from the command line and the scenario)."""

from __future__ import annotations

import click

EPILOG = """\b
Exit codes: 0 every threshold holds, 10 a threshold failed, 12 a selection had no usable
trial (server failed or generator saturated), 2 a bad expression, 1 any other error.

\b
Threshold grammar (units are mandatory, except for counts):
  METRIC[{model=NAME,workload=PATH,load=LABEL,variant=NAME}] OP NUMBER[UNIT]
  metrics: rps (/s, k/s), mean min max and any percentile pNN, pNN.N (us, ms, s),
           error_rate (%), errors (a count), server_cpu (%), server_rss (MB),
           cpu_per_request (us, ms: the server's CPU time per response)
  k6 spellings: p(95) avg med min max rate; only p(N) and rate take a bare number:
           p(95)<200 is 200 ms, rate<0.01 is an error fraction of 1 %
  OP: <  <=  >  >=  ==

\b
Examples:
  loadbench check reports/run/results.jsonl --threshold 'p99 < 50ms' --threshold 'error_rate < 1%'
  loadbench check results.jsonl -t 'p99{model=uvicorn,workload=/json} < 20ms' -t 'errors == 0'
  loadbench check results.jsonl -t 'cpu_per_request < 300us'
  loadbench check results.jsonl --junit junit.xml --markdown "$GITHUB_STEP_SUMMARY"
  loadbench check results.jsonl -t 'p(95)<200' -t 'rate<0.01' --json - | jq .status   # k6 spellings
"""


@click.command(epilog=EPILOG)
@click.argument("results", type=click.Path(dir_okay=False))
@click.option(
    "-t", "--threshold", "thresholds", multiple=True, metavar="EXPR",
    help="A threshold such as 'p99 < 50ms' (repeatable); checked with the scenario's [thresholds].",
)
@click.option(
    "--no-scenario-thresholds", is_flag=True,
    help="Ignore the [thresholds] stored with the results; check only --threshold.",
)
@click.option("--markdown", metavar="FILE", help="Also write a Markdown summary ('-' = stdout).")
@click.option("--junit", metavar="FILE", help="Also write JUnit XML, a test case per threshold × selection.")
@click.option("--json", "json_out", metavar="FILE|-", help="Also write the verdicts as JSON ('-' = stdout; "
              "the text then goes to stderr).")  # fmt: skip
@click.pass_context
def command(
    ctx: click.Context,
    results: str,
    thresholds: tuple[str, ...],
    no_scenario_thresholds: bool,
    markdown: str | None,
    junit: str | None,
    json_out: str | None,
) -> None:
    """Check RESULTS against thresholds; each must hold on the median over repetitions of every
    (model, workload, load point) it selects. A threshold that selects nothing is an error."""
    from loadbench.cli._gate_output import echo_warnings, finish, write_json, write_text
    from loadbench.gate.check import check
    from loadbench.gate.json_out import check_json
    from loadbench.gate.junit import render_junit
    from loadbench.gate.render import check_junit, check_markdown, check_text
    from loadbench.results.file import read_results
    from loadbench.results.records import latest_attempts, refuse_duplicate_trials
    from loadbench.safe.escape import terminal
    from loadbench.scenario.thresholds import parse_thresholds

    parsed = parse_thresholds(thresholds, source="--threshold")
    data = read_results(results)
    refuse_duplicate_trials(data)
    echo_warnings(data.warnings)
    if not no_scenario_thresholds:
        stored = data.header.scenario.get("thresholds") or ()
        parsed += parse_thresholds(tuple(str(t) for t in stored), source="scenario [thresholds] checks")
    report = check(latest_attempts(data.trials), parsed)
    to_stderr = json_out == "-"
    click.echo(terminal(check_text(report), multiline=True), err=to_stderr)
    if markdown:
        write_text(markdown, check_markdown(report), what="--markdown")
    if junit:
        write_text(junit, render_junit([check_junit(report)]), what="--junit")
    if json_out:
        write_json(json_out, check_json(report))
    status = report.status
    outcome = {"pass": "PASSED", "fail": "FAILED"}.get(status.value, status.value.upper())
    finish(ctx, status.exit_code(), outcome, err=to_stderr)
