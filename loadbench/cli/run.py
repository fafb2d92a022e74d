"""`loadbench run`: the main job, a scenario's comparison of server models, with a live progress bar."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from loadbench.cli._signals import raise_if_interrupted
from loadbench.errors import ExitCode
from loadbench.safe.escape import rich_markup, terminal

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from loadbench.plan import Plan, Trial
    from loadbench.results.metrics import TickInfo
    from loadbench.results.records import TrialResult

EXAMPLES = """\b
Examples:
  loadbench run                          # the quickstart: waitress, gunicorn, uvicorn (about a minute)
  loadbench run server-models            # a shipped scenario, by name
  loadbench run my-scenario.toml --out reports/today
  loadbench run io-bound --dry-run       # print the plan and the estimated time, run nothing
  loadbench run ci-smoke --quick --strict
  loadbench run quickstart --set load.duration=1m30s --set load.connections=[16,64] --dry-run
"""


@click.command(epilog=EXAMPLES)
@click.argument("scenario", default="quickstart", metavar="[SCENARIO | NAME]")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for results.jsonl and the report (default: reports/<scenario>-<time>/).")
@click.option("--quick", is_flag=True, help="Shorten every duration and warm-up (a smoke run).")
@click.option("--dry-run", is_flag=True, help="Print the plan and its estimated time; start nothing.")
@click.option("--strict", is_flag=True, help="Fail when a server model cannot run here (default: skip it).")
@click.option("--no-report", is_flag=True, help="Write results.jsonl only, no HTML report.")
@click.option("--no-preflight", is_flag=True, help="Skip the check of every endpoint's answer (framing; the "
              "bundled app's status and body) that runs before each server block is loaded.")  # fmt: skip
@click.option("--set", "sets", multiple=True, metavar="TABLE.KEY=VALUE", help="Override a scenario value "
              "(repeatable): load.duration=1m30s, load.connections=[16,64], servers.0.workers=4. Shown in "
              "the dry run and kept in the results header.")  # fmt: skip
@click.option("--quiet", is_flag=True, help="No progress bar and no summary table; errors, warnings and "
              "the results path only.")  # fmt: skip
@click.option("-v", "--verbose", is_flag=True, help="Also print every trial as it finishes.")
def command(
    scenario: str, out_dir: Path | None, quick: bool, dry_run: bool, strict: bool, no_report: bool,
    no_preflight: bool, sets: tuple[str, ...], quiet: bool, verbose: bool,
) -> None:
    """Run a scenario: each server model in turn, each workload at each load point; write the results.

    SCENARIO is a TOML file or the name of a shipped scenario (see docs/scenarios.md); the default is the
    quickstart. Servers run pinned to the scenario's server CPUs and the load generator to its client
    CPUs. Results are appended to results.jsonl after every trial, so Ctrl-C keeps what was measured
    (exit code 130).
    """
    from loadbench.errors import UsageError
    from loadbench.plan import build_plan, describe_plan, estimate_seconds
    from loadbench.results.file import default_run_dir
    from loadbench.scenario import apply_quick, find_scenario, load_scenario
    from loadbench.scenario.overrides import parse_overrides

    if quiet and verbose:
        raise UsageError("--quiet and -v exclude each other: choose one")
    loaded = load_scenario(find_scenario(scenario), overrides=parse_overrides(sets))
    if quick:
        loaded = apply_quick(loaded)
    if no_preflight:
        import dataclasses

        loaded = dataclasses.replace(loaded, load=dataclasses.replace(loaded.load, preflight=False))
    plan = build_plan(loaded)
    if dry_run:
        for line in describe_plan(plan):
            click.echo(terminal(line))
        click.echo(f"estimated time: {estimate_seconds(plan):.0f} s")
        return
    run_dir = out_dir or default_run_dir(loaded.name)
    outcome = _run_with_progress(plan, run_dir, strict, quiet=quiet, verbose=verbose)
    console = _console()
    if outcome.trials_written and not quiet:
        from loadbench.report.terminal import render_terminal_summary
        from loadbench.results.file import read_results

        render_terminal_summary(read_results(outcome.results_path), console)
    if not no_report and outcome.trials_written:
        from loadbench.report import write_report

        report = write_report(outcome.results_path)
        if not quiet:
            console.print(f"report:  {rich_markup(str(report))}", soft_wrap=True)
    console.print(f"results: {rich_markup(str(outcome.results_path))}", soft_wrap=True)
    if outcome.trials_failed:
        console.print(f"[yellow]{outcome.trials_failed} trial(s) failed; see the report for their logs[/]")
    if outcome.interrupted:
        kept = f"{outcome.trials_written} of {outcome.trials_planned}"
        console.print(f"[yellow]Interrupted: {kept} trials kept.[/]")
        sys.exit(int(ExitCode.INTERRUPTED))


def _console() -> Console:
    from rich.console import Console

    return Console(stderr=False, highlight=False, emoji=False)


def _run_with_progress(plan: Plan, run_dir: Path, strict: bool, *, quiet: bool = False,
                       verbose: bool = False) -> RunOutcome:  # fmt: skip
    """Run the plan under a rich progress bar (none when quiet); SIGTERM and SIGHUP end the run like Ctrl-C.
    Verbose prints a line per finished trial."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from loadbench.cli._signals import interrupt_on_signals
    from loadbench.runner import run_plan

    console = _console()
    scenario = plan.scenario
    if quiet:
        with interrupt_on_signals():
            return run_plan(plan, run_dir=run_dir, strict=strict, events=_QuietEvents(console))
    console.print(f"[bold]{rich_markup(scenario.name)}[/]: {len(plan.trials)} trials; "
                  f"{rich_markup(scenario.cpus.describe())}")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
               TextColumn("{task.fields[rps]}"))
    with interrupt_on_signals(), Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("starting", total=len(plan.trials), rps="")
        events = _ProgressEvents(progress, task, console, verbose=verbose)
        return run_plan(plan, run_dir=run_dir, strict=strict, events=events)


if TYPE_CHECKING:
    from loadbench.runner import RunOutcome


class _ProgressEvents:
    """RunEvents that drive a rich progress bar: trial i of N, ETA, current requests per second."""

    def __init__(self, progress: Progress, task: TaskID, console: Console, *, verbose: bool = False) -> None:
        self._progress = progress
        self._task = task
        self._console = console
        self._verbose = verbose

    def started(self, plan: Plan, results_path: Path, skipped: list[str]) -> None:
        self._progress.update(self._task, total=sum(
            1 for t in plan.trials if t.server.name not in skipped))

    def trial_started(self, trial: Trial) -> None:
        raise_if_interrupted()
        label = f"{trial.server.name} {trial.workload.name} {trial.load.label}"
        if trial.variant:
            label = f"{trial.server.name}[{trial.variant}] {trial.workload.name} {trial.load.label}"
        self._progress.update(self._task, description=rich_markup(label), rps="")

    def tick(self, trial: Trial, info: TickInfo) -> None:
        text = "warming up" if info.phase == "warmup" else f"{info.rps:,.0f} req/s"
        self._progress.update(self._task, rps=text)

    def trial_finished(self, trial: Trial, result: TrialResult) -> None:
        raise_if_interrupted()
        if result.failed:
            reason = (result.failure or {}).get("reason", "failed")
            first_line = str(reason).splitlines()[0]
            self._console.print(f"[red]failed[/] {rich_markup(trial.trial_id)}: {rich_markup(first_line)}",
                                soft_wrap=True)
        elif result.saturated:
            self._console.print(f"[yellow]engine saturated[/] in {rich_markup(trial.trial_id)}: "
                                + rich_markup("; ".join(result.saturation_reasons)))
        elif self._verbose:
            p99 = (result.latency_ms or {}).get("p99")
            figure = f", p99 {p99:.3g} ms" if p99 is not None else ""
            self._console.print(f"done {rich_markup(trial.trial_id)}: {result.rps:,.0f} req/s{figure}",
                                soft_wrap=True)
        self._progress.advance(self._task)

    def warning(self, message: str) -> None:
        self._console.print(f"[yellow]warning:[/] {rich_markup(message)}", soft_wrap=True)


class _QuietEvents:
    """RunEvents for --quiet: interrupts are honoured, failures and warnings still print, nothing else."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def started(self, plan: Plan, results_path: Path, skipped: list[str]) -> None:
        return None

    def trial_started(self, trial: Trial) -> None:
        raise_if_interrupted()

    def tick(self, trial: Trial, info: TickInfo) -> None:
        return None

    def trial_finished(self, trial: Trial, result: TrialResult) -> None:
        raise_if_interrupted()
        if result.failed:
            reason = str((result.failure or {}).get("reason", "failed")).splitlines()[0]
            self._console.print(f"[red]failed[/] {rich_markup(trial.trial_id)}: {rich_markup(reason)}",
                                soft_wrap=True)

    def warning(self, message: str) -> None:
        self._console.print(f"[yellow]warning:[/] {rich_markup(message)}", soft_wrap=True)
