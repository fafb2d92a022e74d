"""--abort-on-fail (bench and run): thresholds checked once a second on a trial's figures so far."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from loadbench.gate.check import check, selects
from loadbench.results.metrics import Recording

if TYPE_CHECKING:
    from loadbench.results.metrics import TickInfo
    from loadbench.results.records import TrialResult
    from loadbench.scenario.thresholds import Threshold

__all__ = ["DEFAULT_ABORT_DELAY_S", "AbortWatch"]

DEFAULT_ABORT_DELAY_S = 5.0  # k6's delayAbortEval default
class AbortWatch:
    """--abort-on-fail: a tick sink that checks the thresholds on the figures so far, once a second after
    `delay_s` of the measured window (k6's abortOnFail with delayAbortEval), and asks the engine to end
    the trial at the first failure; `reason` then says which threshold failed, when and at what value."""

    def __init__(self, checks: Sequence[Threshold], delay_s: float,
                 make_trial: Callable[[Recording], TrialResult],
                 passing: Callable[[TickInfo], bool | None] | None = None) -> None:  # fmt: skip
        self.checks = tuple(checks)
        self.delay_s = delay_s
        self.make_trial = make_trial
        self.passing = passing  # another sink the ticks still reach (progress lines)
        self.reason: str | None = None

    def __call__(self, info: TickInfo) -> bool | None:
        if self.passing is not None:
            self.passing(info)
        if self.reason is not None or info.phase != "measure" or info.elapsed_s < self.delay_s:
            return self.reason is not None
        partial = info.partial
        if not isinstance(partial, Recording) or not partial.requests + sum(partial.errors.values()):
            return False
        trial = self.make_trial(partial)
        checks = [t for t in self.checks if selects(t, trial)]  # a run's other models and workloads: later
        if not checks:
            return False
        report = check([trial], checks)
        if not report.failed:
            return False
        case = report.failed[0]
        self.reason = f"{case.threshold.text} failed after {info.elapsed_s:.0f} s of the measured window"
        return True
