"""The engine's recorder: raw buffers folded into histograms, warm-up dropped, shards merged exactly."""

from __future__ import annotations

import numpy as np
import pytest

from loadbench.engine.native.recorder import (
    MAX_MESSAGES,
    OTHER_MESSAGES,
    STATUS_BITS,
    Recorder,
    Shard,
    build_recording,
    merge_shards,
    saturation_reasons,
)
from loadbench.results.metrics import ErrorClass, LatencyHistogram
from loadbench.types import Closed, Open


def record(rec: Recorder, latency_ns: int, status: int = 200) -> None:
    rec.lat.append((latency_ns << STATUS_BITS) | status)


def shard_of(values: list[int], statuses: list[int], *, seconds: int = 2, cpu_s: float = 0.1) -> Shard:
    rec = Recorder(open_loop=False)
    rec.begin()
    per = len(values) // seconds
    for s in range(seconds):
        for v, code in zip(values[s * per : (s + 1) * per], statuses[s * per : (s + 1) * per], strict=True):
            record(rec, v, code)
        rec.fold()
        rec.close_second(s)
    return rec.shard(event_loop="uvloop", duration_s=float(seconds), cpu_s=cpu_s)


def test_warmup_is_dropped_and_measured_values_are_kept() -> None:
    rec = Recorder(open_loop=False)
    record(rec, 5_000_000)
    rec.error(ErrorClass.RESET, "during warm-up")
    rec.begin()
    for _ in range(10):
        record(rec, 1_000_000)
    record(rec, 2_000_000, 503)
    rec.error(ErrorClass.TIMEOUT, "late")
    rec.fold()
    rec.close_second(0)
    shard = rec.shard(event_loop="uvloop", duration_s=1.0, cpu_s=0.1)
    assert shard.requests == 11 and shard.latency.count == 11
    assert shard.latency.max_ns == 2_000_000  # the 5 ms warm-up response is gone
    assert shard.status == {200: 10, 503: 1}
    assert shard.errors["reset"] == 0 and shard.errors["timeout"] == 1
    assert shard.error_messages == {"timeout: late": 1}
    assert [(s.second, s.requests, s.errors) for s in shard.seconds] == [(0, 11, 1)]
    assert len(rec.lat) == 0  # the buffer was emptied in place


def test_drained_responses_count_in_totals_but_not_in_the_timeline() -> None:
    rec = Recorder(open_loop=False)
    rec.begin()
    record(rec, 1_000_000)
    rec.fold()
    rec.close_second(0)
    rec.draining = True
    record(rec, 3_000_000)
    rec.fold()
    shard = rec.shard(event_loop="uvloop", duration_s=1.0, cpu_s=0.0)
    assert (shard.requests, shard.drained, shard.latency.count) == (2, 1, 2)
    assert sum(s.requests for s in shard.seconds) == 1


def test_error_messages_are_bounded() -> None:
    rec = Recorder(open_loop=False)
    rec.begin()
    for i in range(MAX_MESSAGES + 20):
        rec.error(ErrorClass.PROTOCOL, f"message {i}")
    rec.error(ErrorClass.PROTOCOL, "message 0")
    assert len(rec.messages) == MAX_MESSAGES + 1
    assert rec.messages[OTHER_MESSAGES] == 20 and rec.messages["protocol: message 0"] == 2
    assert rec.errors["protocol"] == MAX_MESSAGES + 21


def test_open_loop_recorder_keeps_service_time_and_lag() -> None:
    rec = Recorder(open_loop=True)
    rec.begin()
    record(rec, 3_000_000)
    rec.svc.append(1_000_000)
    rec.lag.append(2_000_000)
    rec.fold()
    assert rec.service is not None and rec.service.count == 1 and rec.service.max_ns == 1_000_000
    assert rec.schedule_lag is not None and rec.schedule_lag.max_ns == 2_000_000


def test_shards_merge_exactly_like_one_process() -> None:
    rng = np.random.default_rng(5)
    a_values = [int(v) for v in rng.integers(100_000, 50_000_000, size=400)]
    b_values = [int(v) for v in rng.integers(100_000, 50_000_000, size=400)]
    codes = [200] * 390 + [500] * 10
    a, b = shard_of(a_values, codes), shard_of(b_values, codes, cpu_s=0.3)
    merged = merge_shards([a, b])
    assert merged.latency == a.latency.merge(b.latency)
    assert merged.requests == 800 and merged.status == {200: 780, 500: 20}
    assert merged.cpu_s == pytest.approx(0.4) and merged.max_cpu_pct == pytest.approx(15.0)
    together = shard_of(a_values[:200] + b_values[:200] + a_values[200:] + b_values[200:],
                        (codes[:200] * 2) + (codes[200:] * 2))  # fmt: skip
    for got, want in zip(merged.seconds, together.seconds, strict=True):
        assert (got.second, got.requests) == (want.second, want.requests)
        assert np.array_equal(got.slots, want.slots) and np.array_equal(got.counts, want.counts)


def _shard(**kw: object) -> Shard:
    base = shard_of([1_000_000] * 10, [200] * 10, seconds=1)
    fields = {name: getattr(base, name) for name in Shard.__dataclass_fields__}
    fields.update(kw)
    return Shard(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "target", "expected"),
    [
        pytest.param({"sent": 500, "duration_s": 1.0}, 500.0, [], id="kept-up"),
        pytest.param({"sent": 480, "duration_s": 1.0}, 500.0, ["sent 480/s, 96.0 %"], id="slow-sender"),
        pytest.param({"sent": 400, "dropped": 100, "duration_s": 1.0}, 500.0, ["100 requests were dropped"],
                     id="dropped"),
        pytest.param({"max_cpu_pct": 95.0}, None, ["the engine used 95 % of a CPU"], id="cpu"),
        pytest.param({"max_cpu_pct": 89.0}, None, [], id="cpu-ok"),
    ],
)  # fmt: skip
def test_saturation_reasons(overrides: dict[str, object], target: float | None, expected: list[str]) -> None:
    reasons = saturation_reasons(_shard(**overrides), target_rps=target, max_connections=64)
    assert len(reasons) == len(expected)
    for reason, fragment in zip(reasons, expected, strict=True):
        assert fragment in reason


def test_lag_over_two_ms_is_saturation() -> None:
    lag = LatencyHistogram()
    lag.record_many([100_000] * 98 + [3_000_000] * 2)
    reasons = saturation_reasons(_shard(schedule_lag=lag), target_rps=None, max_connections=None)
    assert reasons and "schedule lag p99 3.00 ms" in reasons[0]


def test_build_recording_flags_saturation_and_derives_ok() -> None:
    shard = _shard(status={200: 8, 404: 2}, max_cpu_pct=99.0, cpu_s=0.99)
    rec = build_recording(shard, load=Open(rate_per_s=10.0), warmup_s=0.0, target_rps=10.0, max_connections=4,
                          processes=1, cpus=(1,), keepalive=True)  # fmt: skip
    assert rec.saturated and rec.ok == 8 and rec.engine == "loadbench/uvloop"
    assert rec.timeline[0].requests == 10 and rec.timeline[0].p50_ns == pytest.approx(1_000_000, rel=1e-3)
    closed = build_recording(_shard(), load=Closed(connections=1), warmup_s=0.0, target_rps=None,
                             max_connections=1, processes=1, cpus=None, keepalive=True)  # fmt: skip
    assert not closed.saturated and closed.saturation_reasons == ()


def test_a_run_that_sent_nothing_is_flagged() -> None:
    empty = Recorder(open_loop=False)
    empty.begin()
    shard = empty.shard(event_loop="uvloop", duration_s=1.0, cpu_s=0.01)
    rec = build_recording(shard, load=Closed(connections=1), warmup_s=0.0, target_rps=None, max_connections=1,
                          processes=1, cpus=None, keepalive=True)  # fmt: skip
    assert rec.requests == 0 and rec.saturated
    assert "sent no request in the measured window" in rec.saturation_reasons[0]
    failed = _shard(requests=0, sent=3, status={}, errors={**shard.errors, "connect_refused": 3})
    assert saturation_reasons(failed, target_rps=None, max_connections=1) == ()  # the server's failure
