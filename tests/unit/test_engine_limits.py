"""The engine's process limits and load splitting: fd limit raised or explained, load shares per process."""

from __future__ import annotations

import resource

import pytest

from loadbench.engine.native.phases import FD_HEADROOM, ensure_fd_limit, max_connections_of, window_profile
from loadbench.engine.native.procs import split_load, usable_processes
from loadbench.errors import EngineError
from loadbench.types import Closed, DriveOptions, Open, Stage, Stages


class FakeLimits:
    def __init__(self, soft: int, hard: int) -> None:
        self.soft, self.hard = soft, hard

    def getrlimit(self, which: int) -> tuple[int, int]:
        assert which == resource.RLIMIT_NOFILE
        return self.soft, self.hard

    def setrlimit(self, which: int, limits: tuple[int, int]) -> None:
        self.soft, self.hard = limits


def test_soft_fd_limit_is_raised_when_the_hard_limit_allows(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = FakeLimits(256, 4096)
    monkeypatch.setattr(resource, "getrlimit", limits.getrlimit)
    monkeypatch.setattr(resource, "setrlimit", limits.setrlimit)
    ensure_fd_limit(1000)
    assert (limits.soft, limits.hard) == (1000 + FD_HEADROOM, 4096)
    ensure_fd_limit(10)  # never lowered
    assert limits.soft == 1000 + FD_HEADROOM


def test_hard_fd_limit_too_low_says_how_to_raise_it(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = FakeLimits(256, 512)
    monkeypatch.setattr(resource, "getrlimit", limits.getrlimit)
    monkeypatch.setattr(resource, "setrlimit", limits.setrlimit)
    with pytest.raises(EngineError, match=r"hard limit is 512; raise it \(e\.g\. `ulimit -n 2064`"):
        ensure_fd_limit(2000)
    assert limits.soft == 256


def test_max_connections_per_load_shape() -> None:
    assert max_connections_of(Closed(connections=64)) == 64
    assert max_connections_of(Open(rate_per_s=10.0, max_connections=99)) == 99
    ramp = Stages(kind="connections", stages=(Stage(duration_s=1, target=16), Stage(duration_s=1, target=8)))
    assert max_connections_of(ramp) == 16


def test_split_load_between_processes() -> None:
    assert split_load(Closed(connections=5), 2) == [Closed(connections=3), Closed(connections=2)]
    assert usable_processes(Closed(connections=1), 4) == 1
    shares = split_load(Open(rate_per_s=1000.0, max_connections=101), 2)
    assert [s.rate_per_s for s in shares] == [500.0, 500.0]  # type: ignore[union-attr]
    assert [s.max_connections for s in shares] == [51, 51]  # type: ignore[union-attr]
    ramp = Stages(kind="rate", stages=(Stage(duration_s=2, target=100),))
    assert split_load(ramp, 4)[0].stages[0].target == 25  # type: ignore[union-attr]


def test_warmup_runs_at_the_first_stage_target_then_the_ramp_starts_from_zero() -> None:
    ramp = Stages(kind="rate", stages=(Stage(duration_s=10, target=100),))
    profile = window_profile(ramp, 2.0, ramp.duration_s)
    assert profile.rate_at(1.0) == 100.0
    assert profile.rate_at(2.0 + 1e-9) == pytest.approx(0.0, abs=1e-6)
    assert profile.rate_at(7.0) == pytest.approx(50.0)
    assert profile.hits_by(12.0) - profile.hits_by(2.0) == pytest.approx(500.0)
    assert DriveOptions().timeout_s == 2.0


def test_connection_stages_split_into_whole_shares_that_add_up() -> None:
    ramp = Stages(kind="connections", stages=(Stage(duration_s=1, target=3), Stage(duration_s=2, target=7)))
    shares = split_load(ramp, 2)
    targets = [[st.target for st in share.stages] for share in shares]  # type: ignore[union-attr]
    assert targets == [[2.0, 4.0], [1.0, 3.0]]  # 3 = 2 + 1 and 7 = 4 + 3, not 1.5 rounded twice
    assert all(st.duration_s == (1, 2)[i] for share in shares for i, st in enumerate(share.stages))  # type: ignore[union-attr]
    one = Stages(kind="connections", stages=(Stage(duration_s=1, target=1),))
    assert usable_processes(one, 2) == 1  # a second process would get no connection and measure nothing
    assert usable_processes(ramp, 8) == 7 and usable_processes(ramp, 2) == 2
