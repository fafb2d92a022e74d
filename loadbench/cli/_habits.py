"""What people bring from other tools to `loadbench bench`: wrk's -t, hey's -q, thresholds that end the run.

wrk's `-t N` is a number of threads, each driving its own connections; loadbench's unit of parallelism is
an engine process (its own event loop on its own CPU), so -t sets --processes. hey's `-q` is a rate per
worker, which loadbench has no equivalent for; it is refused with the flag to use instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from loadbench.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from loadbench.results.records import TrialResult
    from loadbench.scenario.thresholds import Threshold


def refuse_hey_rate(value: str | None) -> None:
    """hey's -q (a rate per worker) is refused: loadbench's rate is the total, given with -r."""
    if value is not None:
        raise UsageError(f"-q {value}: use -r for a rate (-r is the total requests per second, e.g. "
                         "-r 500/s; hey's -q is per worker)")  # fmt: skip


def client_cpu_count(cpus: Sequence[int] | None) -> int:
    """How many CPUs the engine may use: the --cpus list, else this process's affinity."""
    if cpus:
        return len(cpus)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def engine_processes(processes: str | None, threads: str | None, cpus: Sequence[int] | None) -> int:
    """The engine process count from --processes or wrk's -t (clamped to the client CPUs, with a warning)."""
    from loadbench.units import parse_count

    if processes is not None and threads is not None:
        raise UsageError(f"--processes {processes} and -t {threads} set the same thing (engine processes); "
                         "give one")  # fmt: skip
    if threads is None:
        count = parse_count(processes or "1", what="--processes")
        if count < 1:
            raise UsageError(f"--processes {processes}: must be at least 1")
        return count
    count = parse_count(threads, what="-t/--threads")
    if count < 1:
        raise UsageError(f"-t {threads}: must be at least 1")
    available = client_cpu_count(cpus)
    if count > available:
        cpus_text = f"{available} client CPU{'s' if available > 1 else ''}"
        click.echo(f"warning: -t {count}: the engine has {cpus_text}; running {available} engine "
                   f"process{'es' if available > 1 else ''} (one per CPU: more would only compete for "
                   "them)", err=True)  # fmt: skip
        return available
    return count


def hold_thresholds(trials: Sequence[TrialResult], checks: Sequence[Threshold], *, quiet: bool) -> None:
    """Check `bench --threshold`s on the trials measured; print each verdict and exit 10 when one fails."""
    from loadbench.gate.check import check
    from loadbench.gate.render import check_text
    from loadbench.safe.escape import terminal

    report = check(list(trials), tuple(checks))
    code = report.status.exit_code()
    if not quiet or code != ExitCode.OK:
        click.echo(terminal(check_text(report), multiline=True), err=quiet)
    if code != ExitCode.OK:
        click.get_current_context().exit(int(code))

