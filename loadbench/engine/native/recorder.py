"""The engine's recorder: raw integers appended on the hot path, folded into histograms in batches.

Per response the engine appends one int64 to `lat`: the latency in ns shifted left 10 bits, with the
status code in the low 10 bits, so a response costs a single `array.append`. The open loop also
appends the service time (`svc`) and, per send, the schedule lag (`lag`). A response a check rejected
carries the pseudo-status CHECK_FAILED_STATUS: fold() drops it from the figures (the check already
counted it as a `check_failed` error). Per new connection `conn` gets its time to connect and, on
https, `tls` its TLS handshake (both folded during the warm-up too: with keep-alive most connections
open then).

Time to first byte costs the hot path nothing: a response that arrives whole in one read has its first
byte at its last, so its TTFB equals its latency (closed loop) or service time (open loop). Only a
response spread over several reads (and a connection's first, whose latency includes the connect)
appends a pair to `split`: the value it added to that base, and its own TTFB. fold() derives the TTFB
histogram exactly by counts: the base's bucket counts, minus the pairs' base values, plus their TTFBs.

A few times a second the engine calls `fold()`, which moves those buffers into the histograms, the
status counts and the current second of the timeline with numpy, then empties them, so memory stays
bounded however long the run. What one engine process measured is a `Shard`; shards of several
processes merge exactly, and `build_recording` turns the merged shard into the Recording with its
saturation verdict.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from loadbench.results.metrics import (
    COUNTS_LEN,
    HIGHEST_NS,
    LOWEST_NS,
    LatencyHistogram,
    Recording,
    Tally,
    TimelinePoint,
    bucket_indices,
    empty_errors,
    tally_of,
)
from loadbench.types import ErrorClass, Load

K = TypeVar("K", int, str)
STATUS_BITS = 10
STATUS_MASK = (1 << STATUS_BITS) - 1
CHECK_FAILED_STATUS = STATUS_MASK  # pseudo-status of a response a check rejected (never a real code)
MAX_MESSAGES = 50  # distinct error messages kept; the rest are counted under one "other" entry
OTHER_MESSAGES = "(other messages)"
# Saturation thresholds (the issue's): below 97 % of the target rate, lag p99 over 2 ms, CPU over 90 %.
MIN_ACHIEVED_FRACTION = 0.97
MAX_LAG_P99_NS = 2_000_000
MAX_CPU_PCT = 90.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SecondCounts:
    """One second of the timeline in sparse form, so seconds from several processes merge exactly."""

    second: int
    requests: int
    errors: int
    slots: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, kw_only=True)
class Shard(Tally):
    """What one engine process measured in its window (picklable; histograms travel encoded): the Tally,
    its seconds in mergeable sparse form, and the process's CPU."""

    seconds: tuple[SecondCounts, ...]
    cpu_s: float
    max_cpu_pct: float
    expected_non_2xx: int = 0  # responses outside 2xx that a response check accepts (they count as ok)
    pipeline_downgrades: int = 0
    aborted: bool = False  # the caller ended the run early (--abort-on-fail)
    # `connect` (a Tally field) holds the connect time of every connection the process opened, warm-up
    # included (with keep-alive most connections open then): from the connect call to the TCP connection
    # being up; `tls` (https over TCP) the TLS handshake after it, until the connection is ready to send.
    # Over a Unix socket with TLS the two are not split: `connect` holds both.


class Recorder:
    """The hot-path sink of one engine process; see the module docstring."""

    def __init__(self, *, open_loop: bool) -> None:
        self.lat = array("q")
        self.svc = array("q")
        self.conn = array("q")  # connect times (ns), warm-up included; see Shard.connect
        self.tls = array("q")  # TLS handshake times (ns) on https, warm-up included; see Shard.tls
        self.lag = array("q")
        self.split = array("q")  # (base value, TTFB) pairs; see the module docstring
        self.open_loop = open_loop
        self.bytes_in = 0
        self.bytes_out = 0
        self.measuring = False
        self.draining = False
        self.sent = 0
        self.dropped = 0
        self.unsolicited = 0  # protocol errors with no request in flight (not a request sent)
        self.connections_opened = 0
        self.expected_non_2xx = 0
        self.pipeline_downgrades = 0
        self.requests = 0
        self.drained = 0
        self.errors = empty_errors()
        self.messages: dict[str, int] = {}
        self.status = np.zeros(1 << STATUS_BITS, dtype=np.int64)
        self.latency = LatencyHistogram()
        self.service = LatencyHistogram() if open_loop else None
        self.schedule_lag = LatencyHistogram() if open_loop else None
        self.connect = LatencyHistogram()
        self.ttfb = LatencyHistogram()
        self.tls_handshake = LatencyHistogram()
        self.seconds: list[SecondCounts] = []
        self._second = np.zeros(COUNTS_LEN, dtype=np.int64)
        self._second_requests = 0
        self._second_errors = 0

    def error(self, cls: ErrorClass, message: str) -> None:
        """Count one transport failure (ignored during warm-up) and keep its message, deduplicated."""
        if not self.measuring:
            return
        self.errors[cls.value] += 1
        if not self.draining:
            self._second_errors += 1
        key = f"{cls.value}: {message}"
        if key in self.messages or len(self.messages) < MAX_MESSAGES:
            self.messages[key] = self.messages.get(key, 0) + 1
        else:
            self.messages[OTHER_MESSAGES] = self.messages.get(OTHER_MESSAGES, 0) + 1

    def begin(self) -> None:
        """Start the measured window: drop everything recorded during warm-up."""
        self.fold()
        self.measuring = True
        self.sent = self.dropped = self.unsolicited = self.expected_non_2xx = self.pipeline_downgrades = 0

    def fold(self) -> None:
        """Move the raw buffers into the histograms, status counts and the current second."""
        raw = _take(self.lat)
        svc = _take(self.svc)
        lag = _take(self.lag)
        split = _take(self.split)
        self.connect.record_many(_take(self.conn))  # warm-up included: see Shard
        if self.tls:
            self.tls_handshake.record_many(_take(self.tls))
        if not self.measuring:
            return
        dense = None
        if raw.size:
            codes = raw & STATUS_MASK
            status = np.bincount(codes, minlength=1 << STATUS_BITS)
            if status[CHECK_FAILED_STATUS]:  # already counted as check_failed errors: not responses
                keep = codes != CHECK_FAILED_STATUS
                raw, svc = raw[keep], (svc[keep] if svc.size == keep.size else svc)
                status[CHECK_FAILED_STATUS] = 0
        if raw.size:
            values = raw >> STATUS_BITS
            if values.min() < LOWEST_NS or values.max() > HIGHEST_NS:
                self.latency.clamped_low += int(np.count_nonzero(values < LOWEST_NS))
                self.latency.clamped_high += int(np.count_nonzero(values > HIGHEST_NS))
                values = np.clip(values, LOWEST_NS, HIGHEST_NS)
            dense = np.bincount(bucket_indices(values), minlength=COUNTS_LEN)
            self.latency.record_dense(dense, values)
            self.status += status
            self.requests += int(raw.size)
            if self.draining:
                self.drained += int(raw.size)
            else:
                self._second += dense
                self._second_requests += int(raw.size)
            if not self.open_loop:
                self._fold_ttfb(dense, values, split)
        if self.service is not None and svc.size:
            svc = np.clip(svc, LOWEST_NS, HIGHEST_NS)
            svc_dense = np.bincount(bucket_indices(svc), minlength=COUNTS_LEN)
            self.service.record_dense(svc_dense, svc)
            self._fold_ttfb(svc_dense, svc, split)
        if self.schedule_lag is not None and lag.size:
            self.schedule_lag.record_many(lag)

    def _fold_ttfb(self, base_dense: npt.NDArray[np.int64], base: npt.NDArray[np.int64],
                   split: npt.NDArray[np.int64]) -> None:  # fmt: skip
        """TTFB = the base (latency or service time, clamped) with each split pair's base value swapped
        for its TTFB, by bucket counts; exact, because every pair's base value is in `base`."""
        if not split.size:
            self.ttfb.record_dense(base_dense, base)
            return
        pairs = np.clip(split, LOWEST_NS, HIGHEST_NS).reshape(-1, 2)
        dense = (base_dense - np.bincount(bucket_indices(pairs[:, 0]), minlength=COUNTS_LEN)
                 + np.bincount(bucket_indices(pairs[:, 1]), minlength=COUNTS_LEN))  # fmt: skip
        self.ttfb.record_counts(dense, int(base.sum()) - int(pairs[:, 0].sum()) + int(pairs[:, 1].sum()))

    def close_second(self, second: int) -> None:
        """Store the current second (after a fold) as timeline point `second` and start the next."""
        slots = np.flatnonzero(self._second).astype(np.int64)
        point = SecondCounts(second=second, requests=self._second_requests, errors=self._second_errors,
                             slots=slots, counts=self._second[slots].copy())  # fmt: skip
        self.seconds.append(point)
        self._second[:] = 0
        self._second_requests = self._second_errors = 0

    def shard(self, *, event_loop: str, duration_s: float, cpu_s: float) -> Shard:
        """Freeze what was recorded (call after the final fold)."""
        codes = np.flatnonzero(self.status)
        return Shard(
            event_loop=event_loop, duration_s=duration_s, requests=self.requests, drained=self.drained,
            status={int(c): int(self.status[c]) for c in codes}, errors=dict(self.errors),
            error_messages=dict(self.messages), bytes_in=self.bytes_in, bytes_out=self.bytes_out,
            latency=self.latency, service=self.service, schedule_lag=self.schedule_lag,
            seconds=tuple(self.seconds), sent=self.sent, dropped=self.dropped, cpu_s=cpu_s,
            max_cpu_pct=100.0 * cpu_s / duration_s if duration_s > 0 else 0.0,
            connections_opened=self.connections_opened, connect=self.connect, ttfb=self.ttfb,
            tls=self.tls_handshake if self.tls_handshake.count else None,
            expected_non_2xx=self.expected_non_2xx, pipeline_downgrades=self.pipeline_downgrades,
        )  # fmt: skip


def _take(buffer: array[int]) -> npt.NDArray[np.int64]:
    """Copy a buffer's contents into numpy and empty it in place (the hot path keeps its reference)."""
    if not buffer:
        return np.empty(0, dtype=np.int64)
    view = np.frombuffer(buffer, dtype=np.int64)
    values = view.copy()
    del view  # release the buffer export before resizing the array
    del buffer[:]
    return values


def _add_counts(a: dict[K, int], b: dict[K, int]) -> dict[K, int]:
    out = dict(a)
    for key, n in b.items():
        out[key] = out.get(key, 0) + n
    return out


def _merge_optional(a: LatencyHistogram | None, b: LatencyHistogram | None) -> LatencyHistogram | None:
    if a is None or b is None:
        return a if b is None else b
    return a.merge(b)


def merge_shards(shards: list[Shard]) -> Shard:
    """Combine the shards of several engine processes exactly (counts add, histograms merge)."""
    first, *rest = shards
    out = first
    for s in rest:
        seconds = {p.second: p for p in out.seconds}
        for p in s.seconds:
            seconds[p.second] = _merge_second(seconds[p.second], p) if p.second in seconds else p
        out = Shard(
            event_loop=out.event_loop, duration_s=max(out.duration_s, s.duration_s),
            requests=out.requests + s.requests, drained=out.drained + s.drained,
            status=_add_counts(out.status, s.status), errors=_add_counts(out.errors, s.errors),
            error_messages=_add_counts(out.error_messages, s.error_messages),
            bytes_in=out.bytes_in + s.bytes_in, bytes_out=out.bytes_out + s.bytes_out,
            latency=out.latency.merge(s.latency), service=_merge_optional(out.service, s.service),
            schedule_lag=_merge_optional(out.schedule_lag, s.schedule_lag),
            seconds=tuple(seconds[k] for k in sorted(seconds)), sent=out.sent + s.sent,
            dropped=out.dropped + s.dropped, cpu_s=out.cpu_s + s.cpu_s,
            max_cpu_pct=max(out.max_cpu_pct, s.max_cpu_pct),
            connections_opened=out.connections_opened + s.connections_opened,
            connect=_merge_optional(out.connect, s.connect), ttfb=_merge_optional(out.ttfb, s.ttfb),
            tls=_merge_optional(out.tls, s.tls),
            expected_non_2xx=out.expected_non_2xx + s.expected_non_2xx,
            pipeline_downgrades=out.pipeline_downgrades + s.pipeline_downgrades,
            aborted=out.aborted or s.aborted,
        )  # fmt: skip
    return out


def _merge_second(a: SecondCounts, b: SecondCounts) -> SecondCounts:
    dense = np.zeros(COUNTS_LEN, dtype=np.int64)
    np.add.at(dense, a.slots, a.counts)
    np.add.at(dense, b.slots, b.counts)
    slots = np.flatnonzero(dense).astype(np.int64)
    return SecondCounts(second=a.second, requests=a.requests + b.requests, errors=a.errors + b.errors,
                        slots=slots, counts=dense[slots])  # fmt: skip


def saturation_reasons(
    shard: Shard, *, target_rps: float | None, max_connections: int | None
) -> tuple[str, ...]:
    """Plain-words reasons why the engine did not deliver the load asked (empty: it kept up)."""
    reasons: list[str] = []
    if shard.sent == 0 and shard.requests == 0 and not any(shard.errors.values()):
        reasons.append("the engine sent no request in the measured window, so it measured nothing; "
                       "give more connections, a higher rate or a longer duration")  # fmt: skip
    if target_rps and shard.duration_s > 0:
        achieved = shard.sent / shard.duration_s
        if achieved < MIN_ACHIEVED_FRACTION * target_rps:
            why = (
                f"; {shard.dropped} requests were dropped because all --max-connections "
                f"{max_connections} connections were busy (the server is slower than the rate)"
                if shard.dropped
                else "; the engine could not send fast enough"
            )
            reasons.append(
                f"sent {achieved:,.0f}/s, {100 * achieved / target_rps:.1f} % of the {target_rps:,.0f}/s "
                f"asked (below {MIN_ACHIEVED_FRACTION:.0%}){why}"
            )
    lag = shard.schedule_lag
    if lag is not None and lag.count and lag.percentile(99) > MAX_LAG_P99_NS:
        reasons.append(
            f"requests left late: schedule lag p99 {lag.percentile(99) / 1e6:.2f} ms "
            f"(over {MAX_LAG_P99_NS / 1e6:g} ms); latencies still count from the scheduled time"
        )
    if shard.max_cpu_pct > MAX_CPU_PCT:
        reasons.append(
            f"the engine used {shard.max_cpu_pct:.0f} % of a CPU (over {MAX_CPU_PCT:g} %): the load "
            "generator may be the bottleneck; try --processes or fewer connections"
        )
    return tuple(reasons)


def timeline_points(seconds: tuple[SecondCounts, ...]) -> tuple[TimelinePoint, ...]:
    """Per-second points with p50/p99 computed from each second's merged buckets."""
    points = []
    for s in seconds:
        h = LatencyHistogram.from_slots(s.slots, s.counts)
        points.append(TimelinePoint(second=s.second, requests=s.requests, errors=s.errors,
                                    p50_ns=h.percentile(50), p99_ns=h.percentile(99)))  # fmt: skip
    return tuple(points)


def build_recording(
    shard: Shard, *, load: Load, warmup_s: float, target_rps: float | None, max_connections: int | None,
    processes: int, cpus: tuple[int, ...] | None, keepalive: bool, pipeline: int = 1,
) -> Recording:  # fmt: skip
    """The Recording of a (merged) shard, with the saturation verdict."""
    reasons = saturation_reasons(shard, target_rps=target_rps, max_connections=max_connections)
    ok = sum(n for code, n in shard.status.items() if 200 <= code < 300) + shard.expected_non_2xx
    tally = tally_of(shard) | {
        "duration_s": round(shard.duration_s, 6), "status": dict(sorted(shard.status.items())),
        "errors": dict(shard.errors), "error_messages": dict(shard.error_messages),
    }  # fmt: skip
    return Recording(
        **tally, engine=f"loadbench/{shard.event_loop}", backend="native", load=load, warmup_s=warmup_s,
        ok=ok, timeline=timeline_points(shard.seconds), target_rps=target_rps, client_cpu_s=shard.cpu_s,
        client_cpu_pct=100.0 * shard.cpu_s / shard.duration_s if shard.duration_s > 0 else 0.0,
        saturated=bool(reasons), saturation_reasons=reasons, processes=processes, cpus=cpus,
        keepalive=keepalive, pipeline=pipeline, pipeline_downgrades=shard.pipeline_downgrades,
        aborted=shard.aborted,
    )  # fmt: skip
