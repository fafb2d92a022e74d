"""What the runner reports and returns: the RunEvents sink it tells as it goes, QuietEvents, and RunOutcome.

The runner never prints; its caller (the CLI's progress bar, or nothing) hears of every step through a
RunEvents, and gets a RunOutcome once the run ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from loadbench.plan import Plan, Trial
    from loadbench.results.metrics import TickInfo
    from loadbench.results.profiles import ProfileRecord
    from loadbench.results.records import TrialResult


class RunEvents(Protocol):
    """What the runner tells its caller as it goes; every method is optional to act on."""

    def started(self, plan: Plan, results_path: Path, skipped: list[str]) -> None: ...
    def trial_started(self, trial: Trial) -> None: ...
    def tick(self, trial: Trial, info: TickInfo) -> None: ...
    def trial_finished(self, trial: Trial, result: TrialResult) -> None: ...
    def warning(self, message: str) -> None: ...
    def profiled(self, trial: Trial, profile: ProfileRecord) -> None: ...


class QuietEvents:
    """A RunEvents sink that ignores everything (tests, library use)."""

    def started(self, plan: Plan, results_path: Path, skipped: list[str]) -> None:
        return None

    def trial_started(self, trial: Trial) -> None:
        return None

    def tick(self, trial: Trial, info: TickInfo) -> None:
        return None

    def trial_finished(self, trial: Trial, result: TrialResult) -> None:
        return None

    def warning(self, message: str) -> None:
        return None

    def profiled(self, trial: Trial, profile: ProfileRecord) -> None:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    """Where a run wrote and how it went: `interrupted` is True after Ctrl-C (results so far are kept)."""

    run_dir: Path
    results_path: Path
    trials_planned: int
    trials_written: int
    trials_failed: int
    skipped_models: tuple[str, ...] = ()
    interrupted: bool = False
    warnings: tuple[str, ...] = field(default_factory=tuple)
