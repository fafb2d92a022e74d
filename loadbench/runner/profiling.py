"""The run's profiles: the ProfileSession a scenario asks for, and one trial rerun under py-spy.

With profiling on (scenario `profile`, `run --profile`), the trials plan.profile_trials picks run once
more after their block's measured trials, on the same server, under py-spy (loadbench.profile); their
profile lines are never measurements.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from loadbench.runner.trial import _drive, _identity

if TYPE_CHECKING:
    from loadbench.plan import Plan, Trial
    from loadbench.profile import ProfileSession
    from loadbench.runner import _Sink
    from loadbench.runner.events import RunEvents
    from loadbench.servers.base import ServerModel
    from loadbench.servers.process import ServerProcess


def _profiler(plan: Plan, run_dir: Path, sink: RunEvents, warnings: list[str]) -> ProfileSession | None:
    """The run's ProfileSession when the scenario asks for profiles; one warning when py-spy cannot run."""
    if plan.scenario.profile == "off":
        return None
    from loadbench.profile import ProfileSession

    session = ProfileSession(run_dir=run_dir, cpus=plan.scenario.cpus.client)
    if session.off_reason:
        warnings.append(f"profiling is off for this run: {session.off_reason}")
        sink.warning(warnings[-1])
    return session


def _profile(trial: Trial, server: ServerProcess | None, model: ServerModel, out: _Sink) -> None:
    """Run `trial` once more under py-spy (or record why not) and append its profile line."""
    from loadbench.profile import DriveFacts

    assert out.profiler is not None
    running = server is not None and server.alive()
    reason = model.unprofiled_reason or (None if running else "the server was not running after its trials")

    def drive() -> DriveFacts:
        assert server is not None
        out.events.trial_started(trial)
        recordings = list(_drive(trial, server, out.scenario, out.events).recordings.values())
        return DriveFacts(requests=sum(r.requests for r in recordings),
                          rps=sum(r.rps for r in recordings), processes=len(server.pids()))  # fmt: skip

    record, warning = out.profiler.profile(_identity(trial, model, out.scenario),
                                           server.pid if server is not None else -1,
                                           unprofiled_reason=reason, drive=drive)  # fmt: skip
    out.writer.append_profile(record)
    if warning:
        out.events.warning(warning)
    out.events.profiled(trial, record)
