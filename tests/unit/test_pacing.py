"""Table tests of the pure arrival schedules: uniform, seeded Poisson, k6-style stage ramps."""

from __future__ import annotations

import itertools
import statistics

import pytest

from loadbench.engine.native.pacing import (
    Pace,
    RateProfile,
    arrivals,
    connections_at,
    pace,
    split_count,
    split_profile,
)
from loadbench.types import Stage

RAMP = RateProfile.from_stages([Stage(duration_s=10, target=100), Stage(duration_s=30, target=500)])


@pytest.mark.parametrize(
    ("elapsed", "hits", "expected"),
    [
        pytest.param(0.0, 0, Pace(0.0, False), id="first-hit-at-zero"),
        pytest.param(0.0, 1, Pace(0.1, False), id="second-hit-after-one-interval"),
        pytest.param(0.25, 2, Pace(0.0, False), id="behind-schedule-sends-now"),
        pytest.param(0.25, 3, Pace(0.05, False), id="ahead-waits"),
        pytest.param(0.9, 10, Pace(0.0, True), id="schedule-over"),
    ],
)  # fmt: skip
def test_uniform_pace_at_10_per_s_for_1_s(elapsed: float, hits: int, expected: Pace) -> None:
    got = pace(RateProfile.constant(10.0, 1.0), elapsed, hits)
    assert got.stop == expected.stop
    assert got.wait_s == pytest.approx(expected.wait_s)


@pytest.mark.parametrize(
    ("elapsed", "rate", "hits"),
    [
        pytest.param(0.0, 0.0, 0.0, id="start"),
        pytest.param(5.0, 50.0, 125.0, id="mid-first-ramp"),
        pytest.param(10.0, 100.0, 500.0, id="end-first-ramp"),
        pytest.param(25.0, 300.0, 500.0 + 15 * 200.0, id="mid-second-ramp"),
        pytest.param(40.0, 500.0, 500.0 + 30 * 300.0, id="end"),
        pytest.param(41.0, 0.0, 9500.0, id="after-end"),
    ],
)  # fmt: skip
def test_stage_ramps_interpolate_from_the_previous_target(elapsed: float, rate: float, hits: float) -> None:
    assert RAMP.rate_at(elapsed) == pytest.approx(rate)
    assert RAMP.hits_by(elapsed) == pytest.approx(hits)


@pytest.mark.parametrize("hits", [0.0, 1.0, 125.0, 499.5, 500.0, 3000.0, 9499.0])
def test_time_of_inverts_hits_by(hits: float) -> None:
    t = RAMP.time_of(hits)
    assert t is not None
    assert RAMP.hits_by(t) == pytest.approx(hits, abs=1e-6)


def test_time_of_is_none_past_the_end_and_rejects_negative_hits() -> None:
    assert RAMP.time_of(9500.0) is None
    with pytest.raises(ValueError, match="non-negative"):
        RAMP.time_of(-1)


def test_ramp_down_and_zero_length_steps() -> None:
    profile = RateProfile.from_stages([Stage(duration_s=0, target=100), Stage(duration_s=2, target=100),
                                       Stage(duration_s=0, target=0), Stage(duration_s=2, target=100),
                                       Stage(duration_s=2, target=0)])  # fmt: skip
    assert profile.duration_s == 6.0
    assert profile.rate_at(1.0) == 100.0 and profile.rate_at(2.5) == pytest.approx(25.0)
    assert profile.rate_at(5.0) == pytest.approx(50.0)
    assert profile.total_hits == pytest.approx(200 + 100 + 100)
    times = list(arrivals(profile, "uniform"))
    assert len(times) == 400 and times == sorted(times)


def test_uniform_arrivals_are_evenly_spaced() -> None:
    times = list(arrivals(RateProfile.constant(500.0, 2.0), "uniform"))
    assert len(times) == 1000
    assert times[:3] == pytest.approx([0.0, 0.002, 0.004])


def test_poisson_arrivals_are_seeded_and_have_the_asked_rate() -> None:
    profile = RateProfile.constant(1000.0, 20.0)
    a = list(arrivals(profile, "poisson", seed=7))
    assert a == list(arrivals(profile, "poisson", seed=7))
    assert a != list(arrivals(profile, "poisson", seed=8))
    assert len(a) == pytest.approx(20_000, rel=0.03)
    gaps = [y - x for x, y in itertools.pairwise(a)]
    # Exponential gaps: mean 1 ms and a coefficient of variation of 1 (uniform would be 0).
    assert statistics.mean(gaps) == pytest.approx(0.001, rel=0.03)
    assert statistics.stdev(gaps) / statistics.mean(gaps) == pytest.approx(1.0, abs=0.05)


def test_poisson_follows_a_ramp() -> None:
    times = list(arrivals(RAMP, "poisson", seed=1))
    first, second = sum(t < 10 for t in times), sum(t >= 10 for t in times)
    assert first == pytest.approx(500, rel=0.15) and second == pytest.approx(9000, rel=0.05)


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [(-1.0, 0), (0.0, 0), (5.0, 8), (10.0, 16), (20.0, 40), (30.0, 64), (99.0, 64)],
)
def test_connection_stages(elapsed: float, expected: int) -> None:
    stages = [Stage(duration_s=10, target=16), Stage(duration_s=20, target=64)]
    assert connections_at(stages, elapsed) == expected


def test_split_count_and_profile() -> None:
    assert split_count(10, 3) == [4, 3, 3] and sum(split_count(7, 7)) == 7
    half = split_profile(RAMP, 2)
    assert half.total_hits == pytest.approx(RAMP.total_hits / 2)
    assert half.rate_at(25.0) == pytest.approx(RAMP.rate_at(25.0) / 2)
