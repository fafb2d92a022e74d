"""`loadbench compare`: baseline against candidate, pair by pair, with a verdict a CI job can act on."""

from __future__ import annotations

import click

EPILOG = """\b
Verdicts (per model, workload and load point; the overall verdict is the worst):
  regression    the whole 95 % interval of the median change is beyond the tolerance, the bad way
  improvement   the whole interval is beyond the tolerance, the good way
  no change     the whole interval is within ±tolerance
  inconclusive  neither; the output says about how many more pairs would decide
Default metric (auto): cpu_per_request when every trial measured it, else rps.
Default tolerance: rps 5%, p50 10%, p99 15%, cpu_per_request 2.5%.
cpu_per_request is the server's CPU time per response: time a neighbour steals is not in it.
Two files must hold runs of one scenario (name and sha256), one load kind and one results format
(exit 2 otherwise); runs of different loadbench versions get a caveat beside the verdict.

\b
Exit codes: 0 pass (no change, improvement; inconclusive unless --fail-on-inconclusive),
10 regression, 11 inconclusive with --fail-on-inconclusive, 12 too few valid pairs
(fewer than 6, saturated or failed trials left out), 2 usage, 1 other errors.

\b
Examples:
  loadbench compare reports/gate/results.jsonl              # variants "baseline" and "candidate"
  loadbench compare results.jsonl --baseline main --candidate pr --metric p99 --tolerance 10%
  loadbench compare results.jsonl --baseline waitress --candidate uvicorn   # two models of one run
  loadbench compare old/results.jsonl new/results.jsonl     # two runs (noisier)
  loadbench compare results.jsonl --metric cpu_per_request   # the server's cost, robust to neighbours
  loadbench compare results.jsonl --calibrate               # the baseline against itself: noise floor
  loadbench compare results.jsonl --junit junit.xml --markdown "$GITHUB_STEP_SUMMARY"
"""


@click.command(epilog=EPILOG)
@click.argument("results", type=click.Path(dir_okay=False))
@click.argument("candidate_results", required=False, type=click.Path(dir_okay=False))
@click.option("--baseline", metavar="NAME", help="The baseline variant (a model in a run without variants).")
@click.option("--candidate", metavar="NAME", help="The candidate variant (or model).")
@click.option(
    "--metric", type=click.Choice(["auto", "rps", "p50", "p99", "cpu_per_request"]), default="auto",
    show_default=True,
    help="What to compare: throughput, median latency, p99 latency or the server's CPU per request. auto: "
    "cpu_per_request when every trial measured it (loadbench started the servers), else rps.",
)
@click.option("--tolerance", metavar="PCT", help="Changes within ±PCT are 'no change' (default per metric).")
@click.option(
    "--calibrate", is_flag=True,
    help="Also compare the baseline's alternate rounds with each other and warn when that noise exceeds "
    "half the tolerance. Without --candidate, only calibrate.",
)
@click.option("--fail-on-inconclusive", is_flag=True, help="Exit 11 on an inconclusive verdict instead of 0.")
@click.option("--markdown", metavar="FILE", help="Also write a Markdown summary ('-' = stdout).")
@click.option("--junit", metavar="FILE", help="Also write JUnit XML: one test case per verdict.")
@click.option("--json", "json_out", metavar="FILE|-", help="Also write the verdicts as JSON ('-' = stdout; "
              "the text then goes to stderr).")  # fmt: skip
@click.pass_context
def command(
    ctx: click.Context,
    results: str,
    candidate_results: str | None,
    baseline: str | None,
    candidate: str | None,
    metric: str,
    tolerance: str | None,
    calibrate: bool,
    fail_on_inconclusive: bool,
    markdown: str | None,
    junit: str | None,
    json_out: str | None,
) -> None:
    """Compare a candidate with a baseline: per pair the ratio candidate/baseline, then the median ratio
    and its distribution-free 95 % interval decide. RESULTS is a paired run (variants alternated ABBA),
    or give two files, BASE and CAND, to compare two runs."""
    from loadbench.cli._gate_output import echo_warnings, finish, parse_percent, write_json, write_text
    from loadbench.errors import ExitCode, UsageError
    from loadbench.gate import paired
    from loadbench.gate.compare import Comparison
    from loadbench.gate.json_out import comparison_json
    from loadbench.gate.junit import render_junit
    from loadbench.gate.render import comparison_junit, comparison_markdown, comparison_text
    from loadbench.gate.runs import comparable_runs
    from loadbench.gate.status import GateStatus
    from loadbench.results.file import read_results
    from loadbench.results.records import refuse_duplicate_trials
    from loadbench.safe.escape import terminal

    tol = None if tolerance is None else parse_percent(tolerance, what="--tolerance")
    if candidate_results is not None and (baseline or candidate or calibrate):
        raise UsageError(
            "with two results files the first is the baseline and the second the candidate; "
            "--baseline, --candidate and --calibrate apply to a single (paired) results file"
        )
    base_data = read_results(results)
    refuse_duplicate_trials(base_data)
    echo_warnings(base_data.warnings)
    cand_data = None
    if candidate_results is not None:
        cand_data = read_results(candidate_results)
        refuse_duplicate_trials(cand_data)
        echo_warnings(cand_data.warnings)
    if metric == "auto":
        every = [*base_data.trials, *(cand_data.trials if cand_data is not None else ())]
        metric = paired.default_metric(every)  # the comparison's text names the metric it chose
    comparisons: list[Comparison] = []
    main: Comparison | None = None
    if candidate_results is not None and cand_data is not None:
        caveats = comparable_runs(base_data, cand_data, base_name=results, cand_name=candidate_results)
        main = paired.compare_runs(
            base_data.trials, cand_data.trials, base_name=results, cand_name=candidate_results,
            metric=metric, tolerance=tol, caveats=caveats,
        )
    else:
        if calibrate:
            noise = paired.calibrate(base_data.trials, baseline=baseline, metric=metric, tolerance=tol)
            comparisons.append(noise)
        if not calibrate or candidate is not None:
            main = paired.compare_in_run(
                base_data.trials, baseline=baseline, candidate=candidate, metric=metric, tolerance=tol
            )
    if main is not None:
        comparisons.append(main)

    to_stderr = json_out == "-"
    click.echo(terminal("\n\n".join(comparison_text(c) for c in comparisons), multiline=True), err=to_stderr)
    if markdown:
        write_text(markdown, "\n".join(comparison_markdown(c) for c in comparisons), what="--markdown")
    if junit:
        suites = [comparison_junit(c, fail_on_inconclusive=fail_on_inconclusive) for c in comparisons]
        write_text(junit, render_junit(suites), what="--junit")

    if main is None:  # calibration only: it fails only when it could not measure the noise at all
        status = GateStatus.INVALID if comparisons[0].status is GateStatus.INVALID else GateStatus.PASS
        code = status.exit_code()
        if json_out:
            verdicts = [comparison_json(c, exit_code=int(code)) for c in comparisons]
            write_json(json_out, {"comparisons": verdicts, "exit_code": int(code)})
        finish(ctx, code, "calibration: too few pairs" if status is GateStatus.INVALID else "calibrated",
               err=to_stderr)  # fmt: skip
        return
    code = main.status.exit_code(fail_on_inconclusive=fail_on_inconclusive)
    if main.status is GateStatus.INCONCLUSIVE and code is ExitCode.OK:
        echo_warnings(["the comparison is inconclusive; pass --fail-on-inconclusive to fail the job on it"])
    if json_out:
        write_json(json_out, {"comparisons": [comparison_json(c, exit_code=int(code)) for c in comparisons],
                              "exit_code": int(code)})  # fmt: skip
    finish(ctx, code, main.verdict.value, err=to_stderr)
