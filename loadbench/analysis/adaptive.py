"""When to stop repeating a load point: the stop rule behind "X wins" claims that hold at 95 %.

A claim compares two models at one load point ("uvicorn serves 3.4× the requests of waitress"). The run
alternates short trials of the two (A B A B ..., each model's server kept up), so round r gives a pair
and d_r = ln(rps_A / rps_B); drift of the machine hits both trials of a pair alike. After each round the
rule looks at the median of the d's and its distribution-free 95 % interval (order statistics, the sign-
test interval; Conover, *Practical Nonparametric Statistics*, 3rd ed., 1999, §3.2; loadbench.analysis.stats):

    decided: A wins   the whole interval is above 0 (A is faster, whatever the noise did)
    decided: B wins   the whole interval is below 0
    decided: a tie    the whole interval lies within ±ln(1 + band) (neither is faster by `band` or more)
    continue          otherwise, while another round fits in the time budget and under `max_pairs`
    undecided         otherwise: printed as undecided, with the interval

This is how hyperfine and pyperf calibrate run counts to the noise instead of fixing them (here: until
the claim is decided, not until a fixed precision). Looking after every round and stopping at the first
decisive interval inflates the error rate above 5 % somewhat (the "optional stopping" problem); the rule
needs at least 6 pairs before it may decide, which keeps the first looks at ≥ 96.9 % coverage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from loadbench.analysis.stats import MIN_PAIRS_95, MedianInterval, median_interval

__all__ = ["Claim", "ClaimState", "decide_claim"]


class ClaimState(Enum):
    """Where a claim stands after the latest round."""

    A_WINS = "a wins"
    B_WINS = "b wins"
    TIE = "tie"
    CONTINUE = "continue"
    UNDECIDED = "undecided"

    @property
    def final(self) -> bool:
        return self is not ClaimState.CONTINUE


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """The state of "a against b" after `interval.n` pairs; ratios are rps_a / rps_b."""

    a: str
    b: str
    state: ClaimState
    interval: MedianInterval
    band: float
    why: str

    def ratio(self) -> float:
        return math.exp(self.interval.median)

    def ratio_interval(self) -> tuple[float, float] | None:
        if self.interval.low is None or self.interval.high is None:
            return None
        return math.exp(self.interval.low), math.exp(self.interval.high)

    @property
    def sentence(self) -> str:
        """The claim in words, with its interval: what a report may print."""
        bounds = self.ratio_interval()
        shown = f"{bounds[0]:.2f}–{bounds[1]:.2f}×" if bounds else "no 95 % interval yet"
        n = self.interval.n
        if self.state is ClaimState.A_WINS:
            return f"{self.a} wins: {self.ratio():.2f}× {self.b}'s req/s (95 % interval {shown}, {n} pairs)"
        if self.state is ClaimState.B_WINS:
            return f"{self.b} wins: {1 / self.ratio():.2f}× {self.a}'s req/s (95 % interval of " \
                   f"{self.a}/{self.b} {shown}, {n} pairs)"
        if self.state is ClaimState.TIE:
            return f"{self.a} and {self.b} tie within {self.band:.0%} ({self.a}/{self.b} {shown}, {n} pairs)"
        return f"undecided: {self.a}/{self.b} {self.ratio():.2f}× ({shown}, {n} pairs): {self.why}"


def decide_claim(
    a: str, b: str, log_ratios: Sequence[float], *, band: float = 0.05, elapsed_s: float, budget_s: float,
    round_s: float, max_pairs: int = 40,
) -> Claim:  # fmt: skip
    """Apply the stop rule (module docstring) to the pairs so far.

    `log_ratios` are ln(rps_a / rps_b) per round; `elapsed_s` is the run's time so far, `budget_s` its
    limit and `round_s` what one more round costs (both trials), so the rule stops before overrunning.
    """
    interval = median_interval(log_ratios)
    edge = math.log1p(band)

    def claim(state: ClaimState, why: str) -> Claim:
        return Claim(a=a, b=b, state=state, interval=interval, band=band, why=why)

    if interval.n >= MIN_PAIRS_95 and interval.low is not None and interval.high is not None:
        if interval.low > 0:
            return claim(ClaimState.A_WINS, "interval above 1×")
        if interval.high < 0:
            return claim(ClaimState.B_WINS, "interval below 1×")
        if -edge <= interval.low and interval.high <= edge:
            return claim(ClaimState.TIE, f"interval within ±{band:.0%}")
    if len(log_ratios) >= max_pairs:
        return claim(ClaimState.UNDECIDED, f"{max_pairs} pairs did not decide it")
    if elapsed_s + round_s > budget_s:
        return claim(ClaimState.UNDECIDED, "the time budget ended")
    return claim(ClaimState.CONTINUE, "the interval still straddles 1×")
