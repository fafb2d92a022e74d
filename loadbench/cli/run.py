"""`loadbench run`: the main job, a scenario's comparison of server models, with a live progress bar."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.text import Text

from loadbench.cli._complete import complete_scenarios
from loadbench.cli._signals import raise_if_interrupted
from loadbench.errors import ExitCode
from loadbench.safe.escape import rich_text, terminal

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from loadbench.plan import Plan, Trial
    from loadbench.results.metrics import TickInfo
    from loadbench.results.profiles import ProfileRecord
    from loadbench.results.records import TrialResult

EXAMPLES = """\b
Examples:
  loadbench run                          # the quickstart: waitress, gunicorn, uvicorn (about a minute)
  loadbench run server-models            # a shipped scenario, by name
  loadbench run my-scenario.toml --out reports/today
  loadbench run io-bound --dry-run       # print the plan and the estimated time, run nothing
  loadbench run ci-smoke --quick --strict
  loadbench run quickstart --set load.duration=1m30s --set load.connections=[16,64] --dry-run
  loadbench run quickstart --profile     # plus a py-spy profile of each server at its heaviest load
"""


@click.command(epilog=EXAMPLES)
@click.argument("scenario", default="quickstart", metavar="[SCENARIO | NAME]",
                shell_complete=complete_scenarios)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for results.jsonl and the report (default: reports/<scenario>-<time>/).")
@click.option("--quick", is_flag=True, help="Shorten every duration and warm-up (a smoke run).")
@click.option("--dry-run", is_flag=True, help="Print the plan and its estimated time; start nothing.")
@click.option("--strict", is_flag=True, help="Fail when a server model cannot run here (default: skip it).")
@click.option("--no-report", is_flag=True, help="Write results.jsonl only, no HTML report.")
@click.option("--no-preflight", is_flag=True, help="Skip the check of every endpoint's answer (framing; the "
              "bundled app's status and body) that runs before each server block is loaded.")  # fmt: skip
@click.option("--abort-on-fail", is_flag=True, help="Check the scenario's [thresholds] every second on each "
              "trial's figures so far; a failure ends that trial (kept, aborted: true) and the run exits 10.")
@click.option("--abort-delay", default="5s", show_default=True, help="--abort-on-fail: measured time before "
              "the first check of each trial (k6's delayAbortEval).")
@click.option("--set", "sets", multiple=True, metavar="TABLE.KEY=VALUE", help="Override a scenario value "
              "(repeatable): load.duration=1m30s, load.connections=[16,64], servers.0.workers=4, "
              "variants.1.cwd=../pr ([[servers]] and [[variants]] by index from 0). Shown in the dry run and "
              "kept in the results header.")  # fmt: skip
@click.option("--quiet", is_flag=True, help="No progress bar and no summary table; errors, warnings and "
              "the results path only.")  # fmt: skip
@click.option("-v", "--verbose", is_flag=True, help="Also print every trial as it finishes.")
@click.option("--profile", is_flag=True,
              help="After each model's measured trials, run its heaviest load point once more under py-spy "
                   "(100 Hz, the server's whole process tree) and put the profile in the results and report; "
                   "never counted as a measurement. Needs the [profile] extra and ptrace.")
@click.option("--profile-points", type=click.Choice(["heaviest", "all"]), default=None,
              help="Which load points --profile samples: the highest connections or rate of each workload "
                   "(heaviest, the default) or every one (all). Implies --profile.")
def command(
    scenario: str, out_dir: Path | None, quick: bool, dry_run: bool, strict: bool, no_report: bool,
    no_preflight: bool, abort_on_fail: bool, abort_delay: str, sets: tuple[str, ...], quiet: bool,
    verbose: bool, profile: bool, profile_points: str | None,
) -> None:
    """Run a scenario: each server model in turn, each workload at each load point; write the results.

    SCENARIO is a TOML file or the name of a shipped scenario (see docs/scenarios.md); the default is the
    quickstart. Servers run pinned to the scenario's server CPUs and the load generator to its client
    CPUs. Results are appended to results.jsonl after every trial, so Ctrl-C keeps what was measured
    (exit code 130). --profile (or `profile = true` in the scenario) adds one profiled, unmeasured trial
    per model and workload; see docs/profiling.md.
    """
    import dataclasses

    from loadbench.errors import UsageError
    from loadbench.plan import build_plan, describe_plan, estimate_seconds
    from loadbench.results.file import create_run_dir
    from loadbench.scenario import apply_quick, find_scenario, load_scenario
    from loadbench.scenario.overrides import parse_overrides

    if quiet and verbose:
        raise UsageError("--quiet and -v exclude each other: choose one")
    loaded = load_scenario(find_scenario(scenario), overrides=parse_overrides(sets))
    if quick:
        loaded = apply_quick(loaded)
    if no_preflight:
        loaded = dataclasses.replace(loaded, load=dataclasses.replace(loaded.load, preflight=False))
    if abort_on_fail:
        from loadbench.units import parse_duration

        if not loaded.thresholds:
            raise UsageError(f"--abort-on-fail: {loaded.path} has no [thresholds] checks to hold; add "
                             "checks = [\"p99 < 50ms\"] or drop --abort-on-fail")  # fmt: skip
        if loaded.engine != "native":
            raise UsageError(f"--abort-on-fail: the {loaded.engine} engine cannot end a trial early; "
                             "use engine = \"native\"")  # fmt: skip
        delay_s = parse_duration(abort_delay, what="--abort-delay")
        loaded = dataclasses.replace(loaded, load=dataclasses.replace(loaded.load, abort_delay_s=delay_s))
    if profile or profile_points:
        loaded = dataclasses.replace(loaded, profile="all" if profile_points == "all" else "heaviest")
    plan = build_plan(loaded)
    if dry_run:
        for line in describe_plan(plan):
            click.echo(terminal(line))
        click.echo(f"estimated time: {estimate_seconds(plan):.0f} s")
        return
    run_dir = out_dir or create_run_dir(loaded.name)
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
            console.print(Text.assemble("report:  ", rich_text(str(report))), soft_wrap=True)
    console.print(Text.assemble("results: ", rich_text(str(outcome.results_path))), soft_wrap=True)
    if outcome.interrupted:
        kept = f"{outcome.trials_written}" if loaded.load.adaptive is not None else \
            f"{outcome.trials_written} of {outcome.trials_planned}"  # an adaptive run plans round by round
        console.print(f"[yellow]Interrupted: {kept} trials kept.[/]")
        sys.exit(int(ExitCode.INTERRUPTED))
    if abort_on_fail and outcome.trials_written:
        from loadbench.results.file import read_results

        aborted = [t.trial_id for t in read_results(outcome.results_path).trials if t.aborted]
        if aborted:
            click.echo(f"aborted: {len(aborted)} trial(s) ended early by a failing threshold "
                       f"(--abort-on-fail): {', '.join(aborted)}", err=True)  # fmt: skip
            sys.exit(int(ExitCode.GATE_FAILED))
    if outcome.trials_failed and outcome.trials_failed >= outcome.trials_written:
        # Nothing was measured: a run that only recorded failures must not pass a CI step.
        click.echo(f"Error: all {outcome.trials_failed} trial(s) failed, nothing was measured; see "
                   f"{terminal(str(outcome.results_path))} and the report for their logs", err=True)
        sys.exit(int(ExitCode.ERROR))
    if outcome.trials_failed:
        failed = f"{outcome.trials_failed} of {outcome.trials_written}"
        click.echo(f"warning: {failed} trial(s) failed and are left out of the medians; see the report for "
                   "their logs", err=True)


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
    adaptive = scenario.load.adaptive
    size = (f"adaptive, {len(plan.trials)} trials a round until the claims are decided, at most "
            f"{adaptive.budget_s:g} s" if adaptive is not None else f"{len(plan.trials)} trials")
    console.print(Text.assemble(rich_text(scenario.name, "bold"), f": {size}; ",
                                rich_text(scenario.cpus.describe())))
    # markup=False: the description carries a model, workload and load label, which are user text
    columns = (TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn(), TextColumn("{task.fields[rps]}", markup=False))
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
        self._budget_started: float | None = None  # an adaptive run: when its budget began

    def started(self, plan: Plan, results_path: Path, skipped: list[str]) -> None:
        adaptive = plan.scenario.load.adaptive
        if adaptive is not None:  # rounds end when the claims are decided: the bar counts budget seconds
            self._budget_started = time.monotonic()
            self._progress.update(self._task, total=round(adaptive.budget_s))
            return
        self._progress.update(self._task, total=sum(
            1 for t in plan.trials if t.server.name not in skipped))

    def trial_started(self, trial: Trial) -> None:
        raise_if_interrupted()
        label = f"{trial.server.name} {trial.workload.name} {trial.load.label}{trial.crowd.label}"
        if self._budget_started is not None:
            label = f"round {trial.round}: {label}"
        if trial.variant:
            label = (f"{trial.server.name}[{trial.variant}] {trial.workload.name} "
                     f"{trial.load.label}{trial.crowd.label}")
        self._progress.update(self._task, description=terminal(label), rps="")

    def tick(self, trial: Trial, info: TickInfo) -> None:
        text = "warming up" if info.phase == "warmup" else f"{info.rps:,.0f} req/s"
        self._progress.update(self._task, rps=text)

    def trial_finished(self, trial: Trial, result: TrialResult) -> None:
        raise_if_interrupted()
        if result.failed:
            reason = (result.failure or {}).get("reason", "failed")
            first_line = str(reason).splitlines()[0]
            self._console.print(Text.assemble(("failed", "red"), " ", rich_text(trial.trial_id), ": ",
                                              rich_text(first_line)), soft_wrap=True)
        elif result.saturated:
            reasons = rich_text("; ".join(result.saturation_reasons))
            self._console.print(Text.assemble(("engine saturated", "yellow"), " in ",
                                              rich_text(trial.trial_id), ": ", reasons))
        elif self._verbose:
            p99 = (result.latency_ms or {}).get("p99")
            figure = f", p99 {p99:.3g} ms" if p99 is not None else ""
            self._console.print(Text.assemble("done ", rich_text(trial.trial_id),
                                              f": {result.rps:,.0f} req/s{figure}"), soft_wrap=True)
        if self._budget_started is not None:
            self._progress.update(self._task, completed=round(time.monotonic() - self._budget_started))
        else:
            self._progress.advance(self._task)

    def warning(self, message: str) -> None:
        self._console.print(Text.assemble(("warning:", "yellow"), " ", rich_text(message)), soft_wrap=True)

    def profiled(self, trial: Trial, profile: ProfileRecord) -> None:
        raise_if_interrupted()
        if not profile.profiled:
            return
        cpu = profile.sampler_cpu_pct
        cost = "" if cpu is None else f"; py-spy used {cpu:.1f} % of a core"
        line = (f"profiled {trial.server.name} {trial.workload.name} {trial.load.label}: "
                f"{profile.samples:,} samples{cost}")
        self._console.print(Text(terminal(line), style="dim"), soft_wrap=True)


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
            self._console.print(Text.assemble(("failed", "red"), " ", rich_text(trial.trial_id), ": ",
                                              rich_text(reason)), soft_wrap=True)

    def warning(self, message: str) -> None:
        self._console.print(Text.assemble(("warning:", "yellow"), " ", rich_text(message)), soft_wrap=True)

    def profiled(self, trial: Trial, profile: ProfileRecord) -> None:
        raise_if_interrupted()
