"""Pure arrival schedules: given the elapsed time and the hits sent, when is the next send due.

Nothing here reads a clock: every function takes `elapsed_s` (or a hit index) as an argument, in the
style of vegeta's `Pace(elapsed, hits)`, so the schedules are table-tested without sleeping.

A rate profile is piecewise linear (k6's ramping-arrival-rate): each segment ramps from the previous
segment's rate (0 before the first) to its own over its duration. Its integral H(t) is the expected
number of hits by time t; hit i (counted from 0) is due at H⁻¹(i), so a constant rate r sends hit i at
i / r. Poisson arrivals use the time-rescaling theorem: unit-rate exponential gaps (seeded) are laid
out in H-space and mapped back through H⁻¹, which gives a Poisson process of the profile's rate.
Connection stages ramp the same way and are rounded to whole connections.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from loadbench.shapes import ArrivalProcess, Stage
from loadbench.shapes import split_count as split_count  # re-exported: moved next to the shapes


@dataclass(frozen=True, slots=True, kw_only=True)
class RateProfile:
    """Piecewise-linear rate (per second) over consecutive segments; see the module docstring.

    Segment j starts at `starts_s[j]`, lasts `spans_s[j]` and ramps from `r0[j]` to `r1[j]`;
    `cumulative[j]` is H at its start (one more entry: H at the end).
    """

    starts_s: tuple[float, ...]
    spans_s: tuple[float, ...]
    r0: tuple[float, ...]
    r1: tuple[float, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def constant(cls, rate_per_s: float, duration_s: float) -> RateProfile:
        return cls.from_stages([Stage(duration_s=0.0, target=rate_per_s),
                                Stage(duration_s=duration_s, target=rate_per_s)])  # fmt: skip

    @classmethod
    def from_stages(cls, stages: Sequence[Stage]) -> RateProfile:
        """Each stage ramps from the previous target (0 first) to its own; a zero-length stage
        only sets the value the next one starts from (a step)."""
        starts: list[float] = []
        spans: list[float] = []
        r0: list[float] = []
        r1: list[float] = []
        cumulative = [0.0]
        previous = 0.0
        t = 0.0
        for stage in stages:
            if stage.duration_s < 0 or stage.target < 0:
                raise ValueError(f"stage {stage} has a negative duration or target")
            if stage.duration_s > 0:
                starts.append(t)
                spans.append(stage.duration_s)
                r0.append(previous)
                r1.append(stage.target)
                cumulative.append(cumulative[-1] + (previous + stage.target) / 2 * stage.duration_s)
                t += stage.duration_s
            previous = stage.target
        return cls(starts_s=tuple(starts), spans_s=tuple(spans), r0=tuple(r0), r1=tuple(r1),
                   cumulative=tuple(cumulative))  # fmt: skip

    @property
    def duration_s(self) -> float:
        return self.starts_s[-1] + self.spans_s[-1] if self.starts_s else 0.0

    @property
    def total_hits(self) -> float:
        """Expected hits over the whole profile, H(duration)."""
        return self.cumulative[-1]

    def _segment(self, elapsed_s: float) -> int:
        return max(bisect.bisect_right(self.starts_s, elapsed_s) - 1, 0)

    def rate_at(self, elapsed_s: float) -> float:
        """The target rate at `elapsed_s` (0 outside the profile)."""
        if elapsed_s < 0 or elapsed_s > self.duration_s or not self.starts_s:
            return 0.0
        j = self._segment(elapsed_s)
        frac = (elapsed_s - self.starts_s[j]) / self.spans_s[j]
        return self.r0[j] + (self.r1[j] - self.r0[j]) * frac

    def hits_by(self, elapsed_s: float) -> float:
        """H(elapsed): expected hits sent by `elapsed_s`."""
        if elapsed_s <= 0 or not self.starts_s:
            return 0.0
        if elapsed_s >= self.duration_s:
            return self.cumulative[-1]
        j = self._segment(elapsed_s)
        tau = elapsed_s - self.starts_s[j]
        return self.cumulative[j] + (self.r0[j] + self.rate_at(elapsed_s)) / 2 * tau

    def time_of(self, hits: float) -> float | None:
        """H⁻¹(hits): when the expected hit count reaches `hits`; None past the profile's end."""
        if hits < 0:
            raise ValueError(f"hits must be non-negative, got {hits}")
        if not self.starts_s or hits >= self.cumulative[-1]:
            return None
        j = bisect.bisect_right(self.cumulative, hits) - 1  # C[j] <= hits < C[j+1]
        x = hits - self.cumulative[j]
        if x == 0:
            return self.starts_s[j]
        r0, span = self.r0[j], self.spans_s[j]
        a = (self.r1[j] - r0) / (2 * span)
        # Root of a·τ² + r0·τ − x = 0 in the form that stays exact when a → 0 and for ramps down.
        tau = 2 * x / (r0 + math.sqrt(max(r0 * r0 + 4 * a * x, 0.0)))
        return self.starts_s[j] + min(tau, span)


@dataclass(frozen=True, slots=True)
class Pace:
    """The answer to "may I send now?": wait `wait_s` first; `stop` when the schedule is over."""

    wait_s: float
    stop: bool


def pace(profile: RateProfile, elapsed_s: float, hits: int) -> Pace:
    """vegeta-style pacing for uniform arrivals: how long until hit number `hits` is due."""
    due = profile.time_of(hits)
    if due is None:
        return Pace(0.0, True)
    return Pace(max(due - elapsed_s, 0.0), False)


def arrivals(profile: RateProfile, arrival: ArrivalProcess, *, seed: int = 0) -> Iterator[float]:
    """Scheduled send times (s from the start) of every hit, in order, until the profile ends.

    uniform: hit i at H⁻¹(i). poisson: at H⁻¹(S_i) with S_i the sum of i unit exponential gaps from
    random.Random(seed), so equal seeds give equal schedules.
    """
    rng = random.Random(seed) if arrival == "poisson" else None
    position = 0.0
    hit = 0
    while True:
        due = profile.time_of(position)
        if due is None:
            return
        yield due
        hit += 1
        position = rng.expovariate(1.0) + position if rng is not None else float(hit)


def split_profile(profile: RateProfile, parts: int) -> RateProfile:
    """The same shape at 1/parts of the rate, for each of `parts` engine processes."""
    return RateProfile(
        starts_s=profile.starts_s,
        spans_s=profile.spans_s,
        r0=tuple(r / parts for r in profile.r0),
        r1=tuple(r / parts for r in profile.r1),
        cumulative=tuple(c / parts for c in profile.cumulative),
    )


def connections_at(stages: Sequence[Stage], elapsed_s: float) -> int:
    """Connections wanted at `elapsed_s` for connection stages: linear ramps, rounded, at least 0.

    Before 0 this is the first stage's start (0); after the last stage it holds the last target.
    """
    previous = 0.0
    t = 0.0
    for stage in stages:
        if elapsed_s < t + stage.duration_s:
            frac = (elapsed_s - t) / stage.duration_s if stage.duration_s > 0 else 1.0
            return max(round(previous + (stage.target - previous) * max(frac, 0.0)), 0)
        previous = stage.target
        t += stage.duration_s
    return max(round(previous), 0)
