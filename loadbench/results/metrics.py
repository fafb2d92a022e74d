"""What one measurement is made of: the latency histogram, error classes, the timeline and the Recording.

The histogram is HDR-style (Gil Tene's HdrHistogram bucket layout: powers of two, each split into 2048
linear sub-buckets) over integer nanoseconds from 1 µs to 60 s, so every value keeps 3 significant
digits (relative bucket width ≤ 1/1024) in a fixed 28,672-slot array (229 KiB) however many values are
recorded. Values outside the range are clamped to it and counted (`clamped_low`, `clamped_high`),
never dropped. Values are folded in batches with numpy (`record_many`), never one by one: the engine
keeps raw integers in a buffer and folds them a few times a second. Histograms merge exactly and
encode to a compact, versioned string (base64 of zlib of the sparse bucket list).
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from loadbench.errors import ResultsFormatError
from loadbench.types import ErrorClass as ErrorClass  # re-exported (defined with the engine's types)
from loadbench.types import Load

LOWEST_NS = 1_000
HIGHEST_NS = 60_000_000_000
SIGNIFICANT_DIGITS = 3
_SUB_MAG = 11  # 2048 sub-buckets: the smallest power of two ≥ 2 × 10**SIGNIFICANT_DIGITS
_HALF = 1 << (_SUB_MAG - 1)
_TOP_BUCKET = HIGHEST_NS.bit_length() - _SUB_MAG
COUNTS_LEN = (_TOP_BUCKET + 2) * _HALF
# Version history of the encoding: 1 = magic "LBH1", sparse (delta index u32, count u64) pairs, zlib.
_MAGIC = b"LBH1"
_HEADER = struct.Struct("<4sQqqqQQQ")  # magic, count, min, max, sum (low 63 bits), clamped lo/hi, n pairs


def bucket_indices(values_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Map clamped values (int64 ns within LOWEST_NS..HIGHEST_NS) to histogram slots, vectorised.

    Slot = bucket × 1024 + (value >> bucket), where bucket = max(bit_length(value) − 11, 0); this is
    HdrHistogram's counts index with unit 1 ns. `frexp` gives the exact bit length below 2**53.
    """
    bits = np.frexp(values_ns.astype(np.float64))[1].astype(np.int64)
    bucket = np.maximum(bits - _SUB_MAG, 0)
    result: npt.NDArray[np.int64] = (bucket << (_SUB_MAG - 1)) + (values_ns >> bucket)
    return result


def _slot_bounds(slots: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Lowest value and width (ns) of each slot."""
    bucket = np.maximum((slots >> (_SUB_MAG - 1)) - 1, 0)
    low = (slots - (bucket << (_SUB_MAG - 1))) << bucket
    return low, np.left_shift(1, bucket)


class LatencyHistogram:
    """Counts of latencies (ns) in HDR buckets; see the module docstring for range and precision.

    `record_many` mutates; `merge` returns a new histogram (pure, associative, commutative).
    """

    __slots__ = ("_counts", "_cum", "clamped_high", "clamped_low", "count", "max_ns", "min_ns", "sum_ns")

    def __init__(self) -> None:
        self._counts: npt.NDArray[np.int64] = np.zeros(COUNTS_LEN, dtype=np.int64)
        self._cum: npt.NDArray[np.int64] | None = None
        self.count = 0
        self.min_ns = 0
        self.max_ns = 0
        self.sum_ns = 0
        self.clamped_low = 0
        self.clamped_high = 0

    # -- recording -------------------------------------------------------------------------------
    def record_many(self, values_ns: Iterable[int] | npt.NDArray[np.int64]) -> None:
        """Add a batch of latencies in ns; values outside 1 µs..60 s are clamped and counted."""
        raw = np.asarray(values_ns if isinstance(values_ns, np.ndarray) else list(values_ns), dtype=np.int64)
        if raw.size == 0:
            return
        self.clamped_low += int(np.count_nonzero(raw < LOWEST_NS))
        self.clamped_high += int(np.count_nonzero(raw > HIGHEST_NS))
        values = np.clip(raw, LOWEST_NS, HIGHEST_NS)
        self._add_slots(np.bincount(bucket_indices(values), minlength=COUNTS_LEN), values)

    def record_dense(self, dense: npt.NDArray[np.int64], values_ns: npt.NDArray[np.int64]) -> None:
        """Add pre-clamped values whose per-slot counts (`dense`) the caller already computed."""
        if values_ns.size:
            self._add_slots(dense, values_ns)

    def record_counts(self, dense: npt.NDArray[np.int64], sum_ns: int) -> None:
        """Add per-slot counts whose values are not at hand (a histogram derived by adding and removing
        counts, like the engine's time to first byte): min and max come from the occupied slots' bounds,
        so they are exact to the bucket's precision; `sum_ns` is the values' exact sum."""
        slots = np.flatnonzero(dense)
        if not slots.size:
            return
        low, width = _slot_bounds(slots.astype(np.int64))
        lowest, highest = int(low[0]), int(low[-1] + width[-1] - 1)
        self.min_ns = lowest if self.count == 0 else min(self.min_ns, lowest)
        self.max_ns = max(self.max_ns, highest)
        self.count += int(dense.sum())
        self.sum_ns += sum_ns
        self._counts += dense
        self._cum = None

    def _add_slots(self, dense: npt.NDArray[np.int64], values: npt.NDArray[np.int64]) -> None:
        low, high = int(values.min()), int(values.max())
        self.min_ns = low if self.count == 0 else min(self.min_ns, low)
        self.max_ns = max(self.max_ns, high)
        self.count += int(values.size)
        self.sum_ns += int(values.sum())
        self._counts += dense
        self._cum = None

    # -- combining -------------------------------------------------------------------------------
    def merge(self, other: LatencyHistogram) -> LatencyHistogram:
        """Return a new histogram holding both sets of values (exact: counts add slot by slot)."""
        out = LatencyHistogram()
        out._counts = self._counts + other._counts
        out.count = self.count + other.count
        nonempty = [h for h in (self, other) if h.count]
        out.min_ns = min((h.min_ns for h in nonempty), default=0)
        out.max_ns = max((h.max_ns for h in nonempty), default=0)
        out.sum_ns = self.sum_ns + other.sum_ns
        out.clamped_low = self.clamped_low + other.clamped_low
        out.clamped_high = self.clamped_high + other.clamped_high
        return out

    @classmethod
    def from_slots(cls, slots: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]) -> LatencyHistogram:
        """Rebuild from a sparse (slots, counts) pair; min, max and sum come from the bucket bounds
        (lowest value, highest value and midpoint), so they are exact to the bucket's precision."""
        out = cls()
        if slots.size:
            out._counts[slots] = counts
            low, width = _slot_bounds(slots)
            out.count = int(counts.sum())
            out.min_ns = int(low[0])
            out.max_ns = int(low[-1] + width[-1] - 1)
            out.sum_ns = int(((low + (width - 1) // 2) * counts).sum())
        return out

    @classmethod
    def merged(cls, histograms: Iterable[LatencyHistogram]) -> LatencyHistogram:
        out = cls()
        for h in histograms:
            out = out.merge(h)
        return out

    # -- reading ---------------------------------------------------------------------------------
    @property
    def mean_ns(self) -> float:
        return self.sum_ns / self.count if self.count else 0.0

    def percentile(self, p: float) -> int:
        """The value (ns) at percentile p (0..100): the highest value of the bucket holding rank
        ceil(p% × count), kept within [min_ns, max_ns]. 0 when the histogram is empty."""
        if not self.count:
            return 0
        if p <= 0:
            return self.min_ns
        if p >= 100:
            return self.max_ns
        if self._cum is None:
            self._cum = np.cumsum(self._counts)
        rank = max(1, math.ceil(round(p * self.count / 100.0, 6)))
        slot = int(np.searchsorted(self._cum, rank))
        low, width = _slot_bounds(np.array([slot], dtype=np.int64))
        return min(max(int(low[0] + width[0] - 1), self.min_ns), self.max_ns)

    def count_at_percentile(self, p: float) -> int:
        """How many values lie at or below the bucket that holds percentile p (HdrHistogram's TotalCount)."""
        if not self.count:
            return 0
        if self._cum is None:
            self._cum = np.cumsum(self._counts)
        rank = max(1, math.ceil(round(min(max(p, 0.0), 100.0) * self.count / 100.0, 6)))
        return int(self._cum[int(np.searchsorted(self._cum, rank))])

    def stdev_ns(self) -> float:
        """The population standard deviation (ns), each value taken at its bucket's middle."""
        slots, counts = self.nonzero()
        if not self.count:
            return 0.0
        low, width = _slot_bounds(slots)
        middle = low + (width - 1) / 2.0
        mean = float(np.sum(middle * counts)) / self.count
        return math.sqrt(float(np.sum(counts * (middle - mean) ** 2)) / self.count)

    def spectrum(self, ticks_per_decade: int = 10) -> list[tuple[float, int]]:
        """(percentile, ns) points for an HDR percentile chart: evenly spaced in log(1/(1−p)), from
        p0 up to the last level that the sample count resolves, then p100."""
        if not self.count:
            return []
        points: list[tuple[float, int]] = []
        step = 0
        while True:
            tail = 10 ** (-step / ticks_per_decade)
            if tail * self.count < 1:
                break
            pct = 100.0 * (1.0 - tail)
            points.append((pct, self.percentile(pct)))
            step += 1
        points.append((100.0, self.max_ns))
        return points

    def nonzero(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The occupied slots and their counts (the sparse form)."""
        slots = np.flatnonzero(self._counts).astype(np.int64)
        return slots, self._counts[slots]

    # -- encoding --------------------------------------------------------------------------------
    def encode(self) -> str:
        """A compact, versioned text form: base64 of zlib of (header, sparse delta-coded slots)."""
        slots, counts = self.nonzero()
        deltas = np.diff(slots, prepend=0).astype("<u4")
        header = _HEADER.pack(
            _MAGIC, self.count, self.min_ns, self.max_ns, self.sum_ns & (2**63 - 1),
            self.clamped_low, self.clamped_high, slots.size,
        )  # fmt: skip
        payload = header + deltas.tobytes() + counts.astype("<u8").tobytes()
        return base64.b64encode(zlib.compress(payload, 6)).decode("ascii")

    @classmethod
    def decode(cls, text: str) -> LatencyHistogram:
        """Rebuild a histogram from `encode` output; raises ResultsFormatError on anything else."""
        try:
            payload = zlib.decompress(base64.b64decode(text.encode("ascii"), validate=True))
            magic, count, low, high, total, c_low, c_high, n = _HEADER.unpack_from(payload)
        except (ValueError, zlib.error, struct.error, UnicodeEncodeError) as exc:
            raise ResultsFormatError(f"not an encoded loadbench histogram ({exc}); re-record it") from exc
        if magic != _MAGIC:
            raise ResultsFormatError(f"histogram encoding {magic!r} is unknown; this loadbench reads LBH1")
        offset = _HEADER.size
        deltas = np.frombuffer(payload, dtype="<u4", count=n, offset=offset).astype(np.int64)
        counts = np.frombuffer(payload, dtype="<u8", count=n, offset=offset + 4 * n).astype(np.int64)
        out = cls()
        out._counts[np.cumsum(deltas)] = counts
        out.count, out.min_ns, out.max_ns, out.sum_ns = count, low, high, total
        out.clamped_low, out.clamped_high = c_low, c_high
        return out

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # Ship histograms between engine processes in their encoded form (a few KB, not 229 KiB).
        return (LatencyHistogram.decode, (self.encode(),))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatencyHistogram):
            return NotImplemented
        same_stats = (self.count, self.min_ns, self.max_ns, self.sum_ns) == (
            other.count, other.min_ns, other.max_ns, other.sum_ns,
        )  # fmt: skip
        return same_stats and bool(np.array_equal(self._counts, other._counts))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LatencyHistogram(count={self.count}, min_ns={self.min_ns}, max_ns={self.max_ns})"


def percentile_summary_ms(h: LatencyHistogram) -> dict[str, float | None]:
    """min, mean, p50, p90, p95, p99, p99_9 and max of `h` in milliseconds (None when empty)."""
    keys = ("min", "mean", "p50", "p90", "p95", "p99", "p99_9", "max")
    if not h.count:
        return dict.fromkeys(keys)
    values = [h.min_ns, h.mean_ns, *(h.percentile(p) for p in (50, 90, 95, 99, 99.9)), h.max_ns]
    return {k: round(v / 1e6, 4) for k, v in zip(keys, values, strict=True)}


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelinePoint:
    """One second of the measured window: responses completed in it, transport errors, p50/p99 (ns)."""

    second: int
    requests: int
    errors: int
    p50_ns: int
    p99_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TickInfo:
    """Progress once a second during drive(): phase is "warmup", "measure" or "drain"; and once, with phase
    "window" and zero counts, the moment the measured window opens (WINDOW_OPENS), so that figures taken
    beside the engine (the server's CPU per request) cover the same window, not the warm-up."""

    phase: str
    elapsed_s: float
    duration_s: float
    requests: int
    rps: float
    errors: int
    # The measured window's figures so far, when the caller asked for them (DriveOptions.live_figures,
    # --abort-on-fail): the engine's partial Tally, a whole Recording by the time it reaches the caller.
    partial: Tally | None = None


WINDOW_OPENS = TickInfo(phase="window", elapsed_s=0.0, duration_s=0.0, requests=0, rps=0.0, errors=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Tally:
    """The counts every measurement is made of, whichever engine took it (warm-up excluded).

    `requests` counts responses of any status received in the window, including the `drained` ones that
    finished after sending stopped; `errors` are transport failures and failed response checks by error
    class (every class present, see ErrorClass), non-2xx responses are in `status`. `connect` holds the
    time to connect of each new connection (TCP), `tls` its TLS handshake after that (https; None without
    TLS) and `ttfb` each response's time to first byte from its send, where the engine measures them.
    `latency` runs from the scheduled send time in an open loop and from the send in a closed loop;
    `service` (open loop) from the actual send. The fields with defaults are what not every engine
    measures (schedule lag, drained, sent and dropped requests, connections opened): an engine that has
    no such notion leaves them at their default.
    """

    duration_s: float
    requests: int
    status: dict[int, int]
    errors: dict[str, int]
    error_messages: dict[str, int]
    bytes_in: int
    bytes_out: int
    latency: LatencyHistogram
    event_loop: str = ""
    drained: int = 0
    service: LatencyHistogram | None = None
    schedule_lag: LatencyHistogram | None = None
    sent: int = 0
    dropped: int = 0
    connections_opened: int = 0
    connect: LatencyHistogram | None = None
    ttfb: LatencyHistogram | None = None
    tls: LatencyHistogram | None = None


def tally_of(measurement: Tally) -> dict[str, Any]:
    """The Tally fields of `measurement` (a Tally or any subclass), to build another kind from."""
    return {f.name: getattr(measurement, f.name) for f in fields(Tally)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Recording(Tally):
    """Everything one engine run measured for one workload in its window: the backend-neutral record.

    Besides the Tally: which `backend` (the registry name, e.g. "native", "locust") and `engine` (the
    implementation, e.g. "loadbench/uvloop") measured it, the load, `ok` (2xx responses and those a check
    expects), the per-second timeline, the engine's own CPU, and whether it saturated (then the figures are
    the generator's limit, not the server's). `target_rps` is the mean rate asked (open loop), None in a
    closed loop.
    """

    engine: str
    backend: str = "native"
    load: Load
    warmup_s: float
    ok: int
    timeline: tuple[TimelinePoint, ...]
    target_rps: float | None = None
    client_cpu_s: float
    client_cpu_pct: float
    saturated: bool
    saturation_reasons: tuple[str, ...]
    processes: int = 1
    cpus: tuple[int, ...] | None = None
    keepalive: bool = True
    pipeline: int = 1
    pipeline_downgrades: int = 0
    aborted: bool = False  # --abort-on-fail ended the trial early: a threshold failed on the figures so far

    @property
    def rps(self) -> float:
        """Responses per second completed inside the measured window."""
        return (self.requests - self.drained) / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def error_rate(self) -> float:
        """(transport errors + non-2xx responses) / (responses + transport errors)."""
        attempts = self.requests + self.error_count
        return (self.error_count + self.requests - self.ok) / attempts if attempts else 0.0

    def to_record(self) -> dict[str, Any]:
        """The measurement keys of a trial record (docs/results-format.md)."""
        lag = self.schedule_lag
        return {
            "duration_s": self.duration_s,
            "warmup_s": self.warmup_s,
            "requests": self.requests,
            "ok": self.ok,
            "rps": round(self.rps, 3),
            "latency_ms": percentile_summary_ms(self.latency),
            "service_ms": percentile_summary_ms(self.service) if self.service is not None else None,
            "errors": dict(self.errors),
            "error_messages": dict(self.error_messages),
            "status": {str(code): n for code, n in sorted(self.status.items())},
            "error_rate": round(self.error_rate, 6),
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "target_rps": self.target_rps,
            "sent": self.sent,
            "dropped": self.dropped,
            "drained": self.drained,
            "schedule_lag_ms": (
                {"p50": round(lag.percentile(50) / 1e6, 4), "p99": round(lag.percentile(99) / 1e6, 4)}
                if lag is not None and lag.count
                else None
            ),
            "saturated": self.saturated,
            "saturation_reasons": list(self.saturation_reasons),
            "engine": self.engine,
            "backend": self.backend,
            "event_loop": self.event_loop,
            "client_cpu_pct": round(self.client_cpu_pct, 2),
            "client_cpu_s": round(self.client_cpu_s, 4),
            "processes": self.processes,
            "keepalive": self.keepalive,
            "connections_opened": self.connections_opened,
            "timeline": [
                [p.second, p.requests, p.errors, round(p.p50_ns / 1e6, 4), round(p.p99_ns / 1e6, 4)]
                for p in self.timeline
            ],
            "histogram": self.latency.encode(),
            "service_histogram": self.service.encode() if self.service is not None else None,
            **_breakdown(self.connect, "connect"),
            **_breakdown(self.ttfb, "ttfb"),
            **_breakdown(self.tls, "tls"),
            **({"pipeline": self.pipeline, "pipeline_downgrades": self.pipeline_downgrades}
               if self.pipeline > 1 else {}),
            **({"aborted": True} if self.aborted else {}),
            "load": self.load.to_json(),
            "load_label": self.load.label,
        }


def _breakdown(h: LatencyHistogram | None, name: str) -> dict[str, Any]:
    """`{name}_ms` and `{name}_histogram` of a timing-breakdown histogram (nothing when not measured)."""
    if h is None:
        return {}
    return {f"{name}_ms": percentile_summary_ms(h), f"{name}_histogram": h.encode()}


def empty_errors() -> dict[str, int]:
    """A fresh {error class: 0} dict with every class (ErrorClass)."""
    return {cls.value: 0 for cls in ErrorClass}
