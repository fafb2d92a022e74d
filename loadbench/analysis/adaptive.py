"""When to stop repeating a load point: the stop rule behind "X wins" claims that hold at 95 %.

A claim compares two models at one load point ("uvicorn serves 3.4× the requests of waitress"). The run
alternates short trials of the two (A B A B ..., each model's server kept up), so round r gives a pair
and d_r = ln(rps_A / rps_B); drift of the machine hits both trials of a pair alike. The rule looks at the
median of the d's and a distribution-free interval for it (order statistics, the sign-test interval;
Conover, *Practical Nonparametric Statistics*, 3rd ed., 1999, §3.2; loadbench.analysis.stats):

    decided: A wins   the whole interval is above 0 (A is faster, whatever the noise did)
    decided: B wins   the whole interval is below 0
    decided: a tie    the whole interval lies within ±ln(1 + band) (neither is faster by `band` or more)
    continue          otherwise, while another round fits in the time budget
    undecided         otherwise: printed as undecided, with the interval

Looking after every round and stopping at the first decisive 95 % interval would inflate the error far
above 5 % (the "optional stopping" problem: with identical models ~15 % false wins in 40 rounds). So the
rule looks only at a schedule of pair counts fixed before the run (`look_schedule`: 6, 10, 13, 16, 20, 25,
32, 40 for max_rounds = 40) and spends the 5 % across those looks (alpha spending with a Bonferroni split,
the simplest group-sequential design; Jennison & Turnbull, *Group Sequential Methods with Applications to
Clinical Trials*, 2000, ch. 1-2): the first look, at 6 pairs, spends 2^-5 = 3.125 % (its [min, max]
interval, the only one there with an error ≤ 5 %), and the remaining 1.875 % is split equally over the
later looks; each look uses the narrowest order-statistic interval whose two-sided error is at most its
share. By the union bound the probability that any look wrongly excludes the true median ratio (a false
win, or a false tie) is at most the sum of the shares, 5 %, whenever the run stops. Between looks a round
still runs but decides nothing. A run ended early (budget, max_rounds) leaves the later shares unspent,
which only makes it more conservative.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

from loadbench.analysis.stats import MIN_PAIRS_95, MedianInterval, median_interval

__all__ = ["ALPHA", "DEFAULT_MAX_ROUNDS", "FIRST_LOOK_ALPHA", "Claim", "ClaimState", "decide_claim",
           "look_alpha", "look_schedule"]

ALPHA = Fraction(1, 20)  # the whole procedure's error bound: claims hold at 95 %
FIRST_LOOK_ALPHA = Fraction(1, 2**5)  # [min, max] of 6 pairs errs with 2 / 2^6: the first look's share
DEFAULT_MAX_ROUNDS = 40
#: Pair counts of the looks, about ×1.25 apart (past 40 for max_rounds up to 200, safe/limits.py).
_LOOKS = (MIN_PAIRS_95, 10, 13, 16, 20, 25, 32, 40, 50, 63, 79, 100, 125, 160, 200)


def look_schedule(max_rounds: int) -> tuple[int, ...]:
    """The pair counts at which the rule may decide, fixed by `max_rounds` before the run starts: those of
    the ×1.25 ladder below `max_rounds`, and `max_rounds` itself as the last (6, 10, ..., 32, 40 at 40)."""
    last = max(max_rounds, MIN_PAIRS_95)
    return (*(n for n in _LOOKS if n < last), last)


def look_alpha(n: int, max_rounds: int) -> Fraction | None:
    """The share of ALPHA spent at a look at `n` pairs, None when `n` is no look of the schedule."""
    looks = look_schedule(max_rounds)
    if n not in looks:
        return None
    if n == looks[0]:
        return FIRST_LOOK_ALPHA
    return (ALPHA - FIRST_LOOK_ALPHA) / (len(looks) - 1)


def _shown_alpha(n: int, max_rounds: int) -> Fraction:
    """The error level of the interval printed at `n` pairs: that of the latest look at or before `n`."""
    looks = [look for look in look_schedule(max_rounds) if look <= n]
    shown = look_alpha(looks[-1], max_rounds) if looks else None
    return shown if shown is not None else FIRST_LOOK_ALPHA


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
    """The state of "a against b" after `interval.n` pairs; ratios are rps_a / rps_b.

    `interval` is at the error level of the latest look (its `coverage` says which); the whole procedure
    holds at 95 % (module docstring).
    """

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


def decide_claim(
    a: str, b: str, log_ratios: Sequence[float], *, band: float = 0.05, elapsed_s: float, budget_s: float,
    round_s: float, max_rounds: int = DEFAULT_MAX_ROUNDS,
) -> Claim:  # fmt: skip
    """Apply the stop rule (module docstring) to the pairs so far.

    `log_ratios` are ln(rps_a / rps_b) per pair; `max_rounds` fixes the look schedule. `elapsed_s` is the
    run's time so far, `budget_s` its limit and `round_s` what one more round is estimated to cost: a claim
    not decided is UNDECIDED when that round would end past the budget. The round cap itself is the
    caller's (analysis.claims.judge_point counts rounds, not pairs).
    """
    n = len(log_ratios)
    share = look_alpha(n, max_rounds)
    interval = median_interval(log_ratios, alpha=share if share is not None else _shown_alpha(n, max_rounds))
    edge = math.log1p(band)

    def claim(state: ClaimState, why: str) -> Claim:
        return Claim(a=a, b=b, state=state, interval=interval, band=band, why=why)

    if share is not None and interval.low is not None and interval.high is not None:
        at = f"at the {n}-pair look ({interval.coverage:.1%} interval)"
        if interval.low > 0:
            return claim(ClaimState.A_WINS, f"interval above 1× {at}")
        if interval.high < 0:
            return claim(ClaimState.B_WINS, f"interval below 1× {at}")
        if -edge <= interval.low and interval.high <= edge:
            return claim(ClaimState.TIE, f"interval within ±{band:.0%} {at}")
    if elapsed_s + round_s > budget_s:
        return claim(ClaimState.UNDECIDED, "the time budget ended")
    later = [look for look in look_schedule(max_rounds) if look > n]
    if not later:
        return claim(ClaimState.UNDECIDED, f"max_rounds ({max_rounds}) did not decide it")  # its last look
    return claim(ClaimState.CONTINUE, f"next look at {later[0]} pairs")
