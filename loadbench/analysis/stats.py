"""Distribution-free statistics for the gate: the median and its order-statistic confidence interval.

The interval for the median of n paired differences is [d_(k), d_(n+1-k)] (order statistics, 1-based),
with k the largest rank such that P(B <= k - 1) <= alpha / 2 for B ~ Binomial(n, 1/2): the number of
differences below the true median is Binomial(n, 1/2) whatever the distribution, so the interval covers
the median with probability 1 - 2 P(B <= k - 1) >= 1 - alpha. Reference: W. J. Conover, *Practical
Nonparametric Statistics*, 3rd ed. (Wiley, 1999), section 3.2 "the sign test" / confidence interval for a
quantile (Table A3 gives the ranks); also Hollander, Wolfe & Chicco, *Nonparametric Statistical Methods*,
3rd ed., section 3.6. The binomial is computed exactly in pure Python (integers), no scipy.

With alpha = 0.05 no interval exists below n = 6 (even [min, max] covers only 1 - 2/2**5 = 93.75 %).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

MIN_PAIRS_95 = 6


@functools.cache  # pure, and the stop rule asks for the same few (n, k) after every round
def binomial_cdf_half(n: int, k: int) -> Fraction:
    """Return P(B <= k) exactly for B ~ Binomial(n, 1/2); 0 for k < 0, 1 for k >= n."""
    if k < 0:
        return Fraction(0)
    if k >= n:
        return Fraction(1)
    return Fraction(sum(math.comb(n, i) for i in range(k + 1)), 2**n)


@functools.cache
def median_ci_rank(n: int, confidence: float = 0.95, *, alpha: Fraction | None = None) -> int | None:
    """Return the 1-based rank k of the lower bound of the median's interval [d_(k), d_(n+1-k)].

    The narrowest such interval whose two-sided error is at most `alpha` (exact, when given; else
    1 - `confidence`). None when even [min, max] errs more often (n < 6 at 95 %).
    """
    if n < 1:
        return None
    error = alpha if alpha is not None else 1 - Fraction(confidence).limit_denominator(10**6)
    alpha_half = Fraction(error) / 2
    best: int | None = None
    for k in range(1, n // 2 + 1):
        if binomial_cdf_half(n, k - 1) <= alpha_half:
            best = k
        else:
            break
    return best


def ci_coverage(n: int, k: int) -> float:
    """Return the exact coverage 1 - 2 P(B <= k - 1) of [d_(k), d_(n+1-k)] for n values."""
    return float(1 - 2 * binomial_cdf_half(n, k - 1))


def median(values: Sequence[float]) -> float:
    """Return the median of a non-empty sequence (the mean of the middle two for an even count)."""
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


@dataclass(frozen=True, slots=True, kw_only=True)
class MedianInterval:
    """The median of n values and its distribution-free interval (None when n is too small).

    `rank` is k in [d_(k), d_(n+1-k)]; `coverage` the exact coverage probability of that interval.
    """

    n: int
    median: float
    low: float | None
    high: float | None
    rank: int | None
    coverage: float | None

    @property
    def half_width(self) -> float | None:
        """Half the interval's width, in the values' units; None without an interval."""
        if self.low is None or self.high is None:
            return None
        return (self.high - self.low) / 2


def median_interval(values: Sequence[float], confidence: float = 0.95, *,
                    alpha: Fraction | None = None) -> MedianInterval:  # fmt: skip
    """Return the median of `values` with its order-statistic confidence interval (see module doc).

    `alpha`, when given, is the interval's exact two-sided error bound instead of 1 - `confidence` (the
    stop rule's share of 5 % at one look). With no values the median is NaN and there is no interval.
    """
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return MedianInterval(n=0, median=math.nan, low=None, high=None, rank=None, coverage=None)
    k = median_ci_rank(n, confidence, alpha=alpha)
    if k is None:
        return MedianInterval(n=n, median=median(ordered), low=None, high=None, rank=None, coverage=None)
    return MedianInterval(
        n=n,
        median=median(ordered),
        low=ordered[k - 1],
        high=ordered[n - k],
        rank=k,
        coverage=ci_coverage(n, k),
    )


def pairs_to_decide(interval: MedianInterval, edge: float) -> int | None:
    """Estimate how many pairs in all would make the interval clear `edge` (the nearest tolerance bound).

    The interval's half-width shrinks about as 1/sqrt(n) for a fixed spread, so n' = n (h / gap)^2 where
    h is the widest side of the interval from the median and gap the distance from the median to `edge`.
    None when the median sits on the edge (no number of pairs would decide) or there is no interval.
    """
    if interval.low is None or interval.high is None:
        return None
    gap = abs(edge - interval.median)
    spread = max(interval.high - interval.median, interval.median - interval.low)
    if gap <= 1e-12:
        return None
    if spread <= gap:
        return interval.n
    return math.ceil(interval.n * (spread / gap) ** 2)
