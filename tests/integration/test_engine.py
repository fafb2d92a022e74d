"""The engine against real misbehaving servers on 127.0.0.1: counts, Little's law, pacing, failures."""

from __future__ import annotations

import time

import pytest
from servers_for_tests import free_port, test_server

from loadbench.engine import drive
from loadbench.errors import TargetRefusedError, UsageError
from loadbench.results.metrics import WINDOW_OPENS, Recording, TickInfo
from loadbench.types import Closed, DriveOptions, Load, Open, RequestSpec, Stage, Stages, Target

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
SLACK_S = 1.5  # start-up and scheduling on a shared 2-core machine
GET = [RequestSpec(path="/")]


def timed(port: int, load: Load, options: DriveOptions) -> tuple[Recording, float]:
    start = time.monotonic()
    rec = drive(Target(port=port), GET, load, options)
    return rec, time.monotonic() - start


def no_errors(rec: Recording) -> bool:
    return rec.error_count == 0 and rec.error_messages == {}


def test_requests_reported_are_requests_the_server_saw() -> None:
    with test_server("ok") as srv:
        rec, elapsed = timed(srv.port, Closed(connections=4), DriveOptions(duration_s=1.0))
        assert no_errors(rec) and rec.requests > 100
        assert srv.count() == rec.requests  # no hidden retries, nothing lost
    assert rec.sent == rec.requests  # no warm-up: every request sent in the window was answered
    assert rec.status == {200: rec.requests} and rec.ok == rec.requests
    assert rec.bytes_out > 0 and rec.bytes_in > 0
    assert 0.95 <= rec.duration_s <= 1.2 and elapsed < 1.0 + SLACK_S
    assert sum(p.requests for p in rec.timeline) <= rec.requests
    assert rec.engine in ("loadbench/uvloop", "loadbench/asyncio")
    assert rec.saturated == bool(rec.saturation_reasons)


def test_exactly_n_requests_with_max_requests() -> None:
    with test_server("ok") as srv:
        rec, _ = timed(srv.port, Closed(connections=3), DriveOptions(duration_s=None, max_requests=500))
        assert (rec.requests, srv.count()) == (500, 500)


def test_warmup_is_excluded_and_comes_before_the_window() -> None:
    with test_server("ok") as srv:
        rec, elapsed = timed(srv.port, Closed(connections=2), DriveOptions(duration_s=1.0, warmup_s=0.5))
        seen = srv.count()
    assert seen > rec.requests * 1.2  # the warm-up's requests reached the server but are not reported
    # The window's responses include those to the (at most 2) requests the warm-up left in flight.
    assert rec.requests - 2 <= rec.sent <= rec.requests
    assert rec.duration_s == pytest.approx(1.0, abs=0.15) and rec.warmup_s == 0.5
    assert 1.4 <= elapsed < 1.5 + SLACK_S


def test_closed_loop_follows_littles_law_on_a_one_slot_server() -> None:
    # One slot, 10 ms per request, 4 connections: throughput ≈ 1/10 ms and each request waits for
    # the 3 others, so mean latency ≈ 40 ms; Little's law L = X·W must give the 4 in flight.
    with test_server("slow", delay_ms=10, slots=1) as srv:
        rec, _ = timed(srv.port, Closed(connections=4), DriveOptions(duration_s=1.5, warmup_s=0.2))
    assert no_errors(rec)
    throughput = rec.rps
    mean_s = rec.latency.mean_ns / 1e9
    assert throughput <= 105  # the server cannot do more than one request per 10 ms
    assert throughput * mean_s == pytest.approx(4.0, rel=0.1)
    assert rec.latency.percentile(50) >= 30_000_000


def test_open_loop_holds_500_per_s() -> None:
    with test_server("ok") as srv:
        rec, elapsed = timed(srv.port, Open(rate_per_s=500.0), DriveOptions(duration_s=1.5, warmup_s=0.2))
        assert srv.count() == pytest.approx(0.2 * 500 + rec.requests, abs=5)
    assert rec.target_rps == 500.0 and no_errors(rec) and rec.dropped == 0
    assert rec.sent / rec.duration_s == pytest.approx(500.0, rel=0.03)
    assert rec.rps == pytest.approx(500.0, rel=0.03)
    assert rec.service is not None and rec.schedule_lag is not None
    assert rec.service.count == rec.requests and rec.schedule_lag.count == rec.sent
    # Latency counts from the scheduled time, so it can only be longer than the service time.
    assert rec.latency.percentile(50) >= rec.service.percentile(50)
    assert elapsed < 1.7 + SLACK_S


def test_open_loop_drops_what_no_connection_can_carry_and_says_so() -> None:
    with test_server("slow", delay_ms=50, slots=1) as srv:
        rec, _ = timed(srv.port, Open(rate_per_s=200.0, max_connections=2), DriveOptions(duration_s=1.0))
    assert rec.dropped > 50
    assert rec.sent + rec.dropped == pytest.approx(200, abs=10)
    assert rec.saturated and any("dropped" in reason for reason in rec.saturation_reasons)


@pytest.mark.parametrize(
    ("mode", "delay_ms", "error_class"),
    [
        pytest.param("hang", 10, "timeout", id="hanging"),
        pytest.param("trickle", 100, "timeout", id="trickling-one-byte-per-100ms"),
        pytest.param("reset", 10, "reset", id="resetting"),
    ],
)  # fmt: skip
def test_failing_servers_are_counted_in_their_class_and_end_on_time(
    mode: str, delay_ms: float, error_class: str
) -> None:
    with test_server(mode, delay_ms=delay_ms) as srv:
        rec, elapsed = timed(srv.port, Closed(connections=3), DriveOptions(duration_s=1.0, timeout_s=0.3))
        seen = srv.count()
    assert rec.requests == 0 and rec.ok == 0
    assert rec.errors[error_class] > 0
    assert sum(rec.errors.values()) == rec.errors[error_class]
    assert rec.errors[error_class] == pytest.approx(seen, abs=3)  # each failure was one request sent
    assert all(m.startswith(error_class + ": ") for m in rec.error_messages)
    assert elapsed < 1.0 + 0.3 + SLACK_S


def test_timeout_is_a_total_deadline_not_a_per_read_one() -> None:
    # The trickling server sends a byte every 50 ms: a per-read timeout of 0.3 s would never fire.
    with test_server("trickle", delay_ms=50) as srv:
        rec, _ = timed(srv.port, Closed(connections=1), DriveOptions(duration_s=1.0, timeout_s=0.3))
    assert rec.errors["timeout"] == pytest.approx(1.0 / 0.3, abs=1.5)


def test_refused_port_is_connect_refused() -> None:
    rec, elapsed = timed(free_port(), Closed(connections=2), DriveOptions(duration_s=0.5))
    assert rec.requests == 0 and rec.errors["connect_refused"] > 0
    assert sum(rec.errors.values()) == rec.errors["connect_refused"]
    assert elapsed < 0.5 + SLACK_S


def test_chunked_bodies_are_framed() -> None:
    with test_server("chunked") as srv:
        rec, _ = timed(srv.port, Closed(connections=2), DriveOptions(duration_s=0.8))
        assert srv.count() == rec.requests
    assert no_errors(rec) and rec.requests > 10 and rec.ok == rec.requests


def test_responses_that_never_repeat_are_framed_without_the_cache() -> None:
    # Every body differs (the request count), a third are chunked, a fifth HTTP/1.0 keep-alive:
    # each goes through the C framer (one read) or the Python framing, never the cache.
    with test_server("dynamic") as srv:
        rec, _ = timed(srv.port, Closed(connections=4), DriveOptions(duration_s=0.8))
        assert srv.count() == rec.requests
    assert no_errors(rec) and rec.requests > 100 and rec.ok == rec.requests
    assert rec.connections_opened == 4  # keep-alive held, HTTP/1.0 included


def test_5xx_are_responses_but_not_successes() -> None:
    with test_server("status", status=503) as srv:
        rec, _ = timed(srv.port, Closed(connections=2), DriveOptions(duration_s=0.6))
    assert no_errors(rec) and rec.requests > 10
    assert rec.status == {503: rec.requests} and rec.ok == 0 and rec.error_rate == 1.0


@pytest.mark.parametrize(
    ("mode", "keepalive"),
    [pytest.param("close", True, id="server-closes"), pytest.param("ok", False, id="no-keepalive")],
)
def test_a_connection_per_request(mode: str, keepalive: bool) -> None:
    with test_server(mode) as srv:
        rec, _ = timed(srv.port, Closed(connections=2), DriveOptions(duration_s=0.6, keepalive=keepalive))
        assert srv.count() == rec.requests
    assert no_errors(rec) and rec.requests > 10
    assert rec.connections_opened == pytest.approx(rec.requests, abs=5)
    assert rec.keepalive is keepalive


def test_connection_stages_and_rate_stages() -> None:
    with test_server("slow", delay_ms=20, slots=100) as srv:
        two_then_eight = (Stage(duration_s=0.5, target=2), Stage(duration_s=0.5, target=8))
        stages = Stages(kind="connections", stages=two_then_eight)
        rec, elapsed = timed(srv.port, stages, DriveOptions(duration_s=None))
        # Throughput follows the ramp: about 50/s per connection, 0→2 then 2→8 connections.
        assert rec.requests == pytest.approx(50 * (0.5 * 1 + 0.5 * 5), rel=0.3)
        assert elapsed < 1.0 + SLACK_S
        ramp = Stages(kind="rate", stages=(Stage(duration_s=0.5, target=200),
                                           Stage(duration_s=0.5, target=400)))  # fmt: skip
        rec = drive(Target(port=srv.port), GET, ramp, DriveOptions(duration_s=None))
    assert rec.target_rps == pytest.approx(200.0)  # (50 + 150) requests over 1 s
    assert rec.sent == pytest.approx(200, abs=6)


def test_two_processes_split_the_load_and_merge_exactly() -> None:
    ticks = []
    with test_server("ok") as srv:
        rec = drive(Target(port=srv.port), GET, Closed(connections=4),
                    DriveOptions(duration_s=1.2, processes=2), on_tick=ticks.append)  # fmt: skip
        assert srv.count() == rec.requests
    assert rec.processes == 2 and no_errors(rec) and rec.requests > 100
    assert rec.latency.count == rec.requests
    assert [t.phase for t in ticks][:2] == ["window", "measure"]  # one window tick, relayed once for both
    assert ticks[1].requests > 0
    assert rec.timeline and rec.timeline[0].second == 0


def test_on_tick_reports_progress_once_a_second_and_the_window_once() -> None:
    ticks: list[tuple[float, TickInfo]] = []
    with test_server("ok") as srv:
        start = time.perf_counter()
        drive(Target(port=srv.port), GET, Closed(connections=1), DriveOptions(duration_s=2.1, warmup_s=1.0),
              on_tick=lambda tick: ticks.append((time.perf_counter() - start, tick)))  # fmt: skip
    phases = [tick.phase for _, tick in ticks]
    assert phases in (["window", "measure", "measure"], ["warmup", "window", "measure", "measure"])
    # The window opens when the warm-up ends, as the engine counts it: not before, and not a tick later.
    ((opened, window),) = [(at, tick) for at, tick in ticks if tick.phase == "window"]
    assert window == WINDOW_OPENS and 1.0 <= opened < 1.0 + SLACK_S
    assert all(at > opened for at, tick in ticks if tick.phase == "measure")


@pytest.mark.parametrize(
    ("target", "load", "options", "error"),
    [
        pytest.param(Target(host="10.1.2.3", port=80), Closed(connections=1), DriveOptions(),
                     TargetRefusedError, id="remote"),
        pytest.param(Target(port=1), Closed(connections=0), DriveOptions(), UsageError, id="no-connections"),
        pytest.param(Target(port=1), Closed(connections=1), DriveOptions(duration_s=0), UsageError,
                     id="zero-s"),
        pytest.param(Target(port=1), Closed(connections=1), DriveOptions(duration_s=None), UsageError,
                     id="unbounded"),
    ],
)  # fmt: skip
def test_refusals_happen_before_any_traffic(
    target: Target, load: Load, options: DriveOptions, error: type[Exception]
) -> None:
    with pytest.raises(error):
        drive(target, GET, load, options)


def test_warmup_sleeps_between_ticks_instead_of_spinning() -> None:
    import resource

    import loadbench.engine.native.phases  # noqa: F401 - imports (numpy) outside the measured CPU

    def thread_cpu_s() -> float:
        usage = resource.getrusage(resource.RUSAGE_THREAD)  # drive() runs its loop in this thread
        return usage.ru_utime + usage.ru_stime

    with test_server("ok") as srv:
        cpu0 = thread_cpu_s()
        rec, elapsed = timed(srv.port, Open(rate_per_s=10.0), DriveOptions(duration_s=0.3, warmup_s=1.5))
        cpu_s = thread_cpu_s() - cpu0
    assert elapsed >= 1.8 and no_errors(rec)
    assert cpu_s < 0.5, f"{cpu_s:.2f} s of CPU for a 10/s load over {elapsed:.1f} s: the loop spins"


def test_connection_stages_over_processes_keep_the_count_and_the_stages_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from loadbench.engine.native import procs

    # A short grace makes a deadline computed from options.duration_s (0.1 s), not from the
    # stages' 2.5 s, end the processes early.
    monkeypatch.setattr(procs, "GRACE_S", 1.5)

    def steady(connections: int, seconds: float) -> Stages:
        return Stages(kind="connections", stages=(Stage(duration_s=0, target=connections),
                                                  Stage(duration_s=seconds, target=connections)))  # fmt: skip

    with test_server("ok") as srv:
        options = DriveOptions(duration_s=0.1, timeout_s=0.5, processes=2)
        rec = drive(Target(port=srv.port), GET, steady(3, 2.5), options)
        single = drive(Target(port=srv.port), GET, steady(1, 0.5), DriveOptions(processes=2))
    assert rec.processes == 2 and no_errors(rec)
    assert rec.connections_opened == 3  # split 2 + 1, not round(1.5) twice
    assert rec.duration_s == pytest.approx(2.5, abs=0.2)
    assert single.processes == 1 and single.requests > 10 and not single.saturated
