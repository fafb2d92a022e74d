"""Steps in a series of measurements (one per commit), found by CUSUM with a permutation test.

The method is W. A. Taylor's change-point analysis ("Change-Point Analysis: A Powerful New Tool for
Detecting Changes", 2000), applied by binary segmentation:

1. On a segment x₁..xₙ (here the logarithms of the metric, so a step is a ratio), form the cumulative
   sums of deviations from the segment's mean, Sᵢ = Σ_{j≤i} (xⱼ − x̄), and S_diff = max S − min S. A level
   shift makes S climb (or fall) up to the change and turn back after it.
2. Confidence that a change occurred: the share of random reorderings of the segment (999, seeded, so a
   run is reproducible) whose S_diff is smaller than the observed one. A reordering destroys any step, so
   this is a permutation test of "no change" that assumes nothing about the noise's shape.
3. If the confidence reaches 95 %, the change sits after the point where |Sᵢ| is largest; split there and
   repeat on both halves.

Each side of a split keeps at least `min_size` points (2 by default: one wild result is an outlier, not
a step). A step is reported with the medians of the segments on either side and kept only when their
ratio moves by at least `min_change` (so a tiny but consistent drift does not fail a build).
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Step", "find_steps"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """A level shift: `index` is the first point of the new level (0-based), `before`/`after` the medians
    of the segments on either side (the metric's own unit), `confidence` the permutation test's (0–1)."""

    index: int
    before: float
    after: float
    confidence: float

    @property
    def ratio(self) -> float:
        """after / before."""
        return self.after / self.before

    @property
    def change_pct(self) -> float:
        """The step in percent of the level before it."""
        return (self.ratio - 1) * 100


def _s_diff(xs: Sequence[float]) -> tuple[float, int]:
    """(max S − min S, the index i with the largest |Sᵢ|) of the CUSUM of deviations from the mean."""
    mean = math.fsum(xs) / len(xs)
    total = 0.0
    low = high = 0.0
    where, peak = 0, -1.0
    for i, x in enumerate(xs):
        total += x - mean
        low, high = min(low, total), max(high, total)
        if abs(total) > peak:
            where, peak = i, abs(total)
    return high - low, where


def _confidence(xs: list[float], observed: float, permutations: int, rng: random.Random) -> float:
    below = 0
    shuffled = list(xs)
    for _ in range(permutations):
        rng.shuffle(shuffled)
        if _s_diff(shuffled)[0] < observed:
            below += 1
    return below / permutations


def _split(
    xs: list[float], lo: int, hi: int, *, confidence: float, permutations: int, min_size: int,
    rng: random.Random, found: dict[int, float],
) -> None:  # fmt: skip
    if hi - lo < 2 * min_size:
        return
    segment = xs[lo:hi]
    observed, _ = _s_diff(segment)
    if observed <= 0:
        return
    level = _confidence(segment, observed, permutations, rng)
    if level < confidence:
        return
    # the change follows the largest |S_i|, restricted so both sides keep min_size points
    mean = math.fsum(segment) / len(segment)
    sums, total = [], 0.0
    for x in segment:
        total += x - mean
        sums.append(abs(total))
    candidates = range(min_size - 1, len(segment) - min_size)
    at = lo + max(candidates, key=lambda i: sums[i]) + 1
    found[at] = level
    _split(xs, lo, at, confidence=confidence, permutations=permutations, min_size=min_size, rng=rng,
           found=found)  # fmt: skip
    _split(xs, at, hi, confidence=confidence, permutations=permutations, min_size=min_size, rng=rng,
           found=found)  # fmt: skip


def find_steps(
    values: Sequence[float], *, confidence: float = 0.95, permutations: int = 999, min_size: int = 2,
    min_change: float = 0.0, seed: int = 0,
) -> list[Step]:  # fmt: skip
    """The steps in `values` (positive figures in time order), oldest first; see the module docstring.

    `min_change` is a fraction (0.05: a step must move the median by at least 5 % either way).
    Raises ValueError on a value that is not positive and finite (the test works on logarithms).
    """
    if any(not (math.isfinite(v) and v > 0) for v in values):
        raise ValueError("find_steps needs positive, finite values")
    xs = [math.log(v) for v in values]
    found: dict[int, float] = {}
    _split(xs, 0, len(xs), confidence=confidence, permutations=permutations, min_size=min_size,
           rng=random.Random(seed), found=found)  # fmt: skip
    cuts = sorted(found)
    bounds = [0, *cuts, len(xs)]
    medians = [statistics.median(values[a:b]) for a, b in itertools.pairwise(bounds)]
    steps = []
    band = math.log1p(min_change)
    for k, at in enumerate(cuts):
        before, after = medians[k], medians[k + 1]
        if abs(math.log(after / before)) >= band:
            steps.append(Step(index=at, before=before, after=after, confidence=found[at]))
    return steps
