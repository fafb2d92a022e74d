"""Locust's measured window (readback.LocustResult) as loadbench Recordings: one per request name + journey.

The latency histogram is rebuilt from Locust's own per-value counts (`response_times`: rounded ms → count),
never from its percentiles. Locust rounds each response time before counting it (locust/stats.py
`bucket_response_time`, 2.47), so the histogram keeps Locust's precision, which `LATENCY_PRECISION` states
and every record carries in `backend_extras`. A request the locustfile marked failed counts in the error
class `check_failed`, not as a response; a transport failure in its class; every other request is a
response counted under its status code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from loadbench.engine.backend import BackendResult
from loadbench.errors import EngineError
from loadbench.results.metrics import LatencyHistogram, Recording, TimelinePoint, empty_errors

if TYPE_CHECKING:
    from loadbench.engine.locust.readback import LocustResult, NameStats
    from loadbench.types import Load

__all__ = ["JOURNEY", "LATENCY_PRECISION", "MAX_NAMES", "to_backend_result"]

#: The workload over every request of the run.
JOURNEY = "journey"
MAX_NAMES = 100
LATENCY_PRECISION = ("Locust rounds: 1 ms below 100 ms, 10 ms below 1 s, 100 ms below 10 s, 1 s above; "
                     "below 0.5 ms counts as 0.25 ms")
BUCKET_0_NS = 250_000
#: Saturation thresholds: a Locust process busier than this share of a core, users short of the ask.
CPU_FRACTION_LIMIT = 0.9


def histogram_of(response_times_ms: tuple[tuple[int, int], ...]) -> LatencyHistogram:
    """Locust's rounded (ms, count) pairs as a histogram: each count recorded at its rounded value.

    Each key is the middle of Locust's rounding interval (a 147 ms request is counted as 150), so bucket 0
    ("below 0.5 ms") is recorded at its middle too, 0.25 ms.
    """
    histogram = LatencyHistogram()
    pairs = [(ms, count) for ms, count in response_times_ms if count > 0]
    if pairs:
        values = np.array([ms * 1_000_000 if ms else BUCKET_0_NS for ms, _ in pairs], dtype=np.int64)
        counts = np.array([count for _, count in pairs], dtype=np.int64)
        histogram.record_many(np.repeat(values, counts))
    return histogram


def _workload_names(entries: tuple[NameStats, ...]) -> list[str]:
    """A workload name per entry: the request name, "METHOD name" where one name has several methods."""
    methods: dict[str, int] = {}
    for entry in entries:
        methods[entry.name] = methods.get(entry.name, 0) + 1
    return [f"{e.method} {e.name}" if methods[e.name] > 1 else e.name for e in entries]


def _saturation(result: LocustResult, *, staged: bool) -> tuple[str, ...]:
    reasons = []
    if result.cpu_warning or result.worker_cpu_warning:
        reasons.append("Locust warned that a process's CPU went over 90 % (its own saturation check)")
    if result.max_process_cpu_fraction > CPU_FRACTION_LIMIT:
        reasons.append(f"the busiest Locust process used {result.max_process_cpu_fraction:.0%} of a core in "
                       "the window: add --locust-workers")  # fmt: skip
    if not staged and result.users_running_at_start < result.users_asked:  # a shape ramps on purpose
        reasons.append(f"users asked {result.users_asked}, running {result.users_running_at_start} when "
                       "the window opened")  # fmt: skip
    return tuple(reasons)


def _recording(stats: NameStats, result: LocustResult, *, load: Load, reasons: tuple[str, ...],
               timeline: tuple[TimelinePoint, ...], processes: int, cpus: tuple[int, ...] | None,
               messages: dict[str, int]) -> Recording:  # fmt: skip
    status = {code: count for code, count in stats.status_codes if code > 0}
    errors = empty_errors()
    for error_class, count in stats.error_classes:
        errors[error_class] = errors.get(error_class, 0) + count
    requests = sum(status.values())
    measured = result.measured_s
    return Recording(
        duration_s=measured, requests=requests, status=status, errors=errors, error_messages=messages,
        bytes_in=stats.total_content_length, bytes_out=0, latency=histogram_of(stats.response_times_ms),
        engine=f"locust {result.locust_version}", backend="locust", event_loop="gevent", load=load,
        warmup_s=result.warmup_s,
        ok=sum(count for code, count in status.items() if 200 <= code < 300), timeline=timeline,
        client_cpu_s=result.cpu_total_s,
        client_cpu_pct=100.0 * result.cpu_total_s / measured if measured > 0 else 0.0,
        saturated=bool(reasons), saturation_reasons=reasons, processes=processes, cpus=cpus,
    )  # fmt: skip


def _timeline(result: LocustResult) -> tuple[TimelinePoint, ...]:
    return tuple(
        TimelinePoint(second=s.second, requests=s.requests, errors=s.failures,
                      p50_ns=int((s.p50_ms or 0) * 1e6), p99_ns=int((s.p99_ms or 0) * 1e6))
        for s in result.timeline
    )  # fmt: skip


def _messages(result: LocustResult, name: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in result.error_messages:
        if name is None or m.name == name:
            key = f"{m.error_class}: {m.method} {m.name}: {m.message}"
            out[key] = out.get(key, 0) + m.count
    return out


def to_backend_result(result: LocustResult, *, load: Load, cpus: tuple[int, ...] | None,
                      extras: dict[str, Any]) -> BackendResult:  # fmt: skip
    """One Recording per request name (in Locust's order), then the `journey` over all of them.

    More than MAX_NAMES names is an EngineError pointing to Locust's `name=` grouping.
    """
    if not result.complete:
        raise EngineError("Locust stopped before the measured window closed (its -t, or the load shape "
                          "ended early); the figures would be partial")  # fmt: skip
    if len(result.entries) > MAX_NAMES:
        raise EngineError(
            f"the locustfile produced {len(result.entries)} request names (more than {MAX_NAMES}); group "
            "URLs that differ only by an id under one name with Locust's name= argument, e.g. "
            "self.client.get(f'/db?id={i}', name='/db?id=[id]')"
        )
    reasons = _saturation(result, staged=load.loop == "closed" and load.json_kind == "stages")
    processes = max(1, result.workers)
    common: dict[str, Any] = {"load": load, "reasons": reasons, "processes": processes, "cpus": cpus}
    recordings: dict[str, Recording] = {}
    entries = tuple(sorted(result.entries, key=lambda e: (e.name, e.method)))  # Locust's order varies
    for workload, entry in zip(_workload_names(entries), entries, strict=True):
        recordings[workload] = _recording(entry, result, timeline=(), messages=_messages(result, entry.name),
                                          **common)  # fmt: skip
    if JOURNEY in recordings:
        raise EngineError(f"a Locust request is named {JOURNEY!r}, the name loadbench gives the whole run; "
                          "rename it with name=")  # fmt: skip
    recordings[JOURNEY] = _recording(result.total, result, timeline=_timeline(result),
                                     messages=_messages(result, None), **common)  # fmt: skip
    full_extras = {
        "latency_precision": LATENCY_PRECISION, "locust_version": result.locust_version,
        "locust_mode": result.mode, "locust_workers": result.workers,
        "window_monotonic": list(result.window_monotonic), "users_asked": result.users_asked,
        "users_running": result.users_running_at_start, "locust_cpu_warning": result.cpu_warning
        or result.worker_cpu_warning, "client_cpu_s_note": "the whole Locust run (every request name)",
        **extras,
    }  # fmt: skip
    return BackendResult(recordings=recordings, extras=full_extras)
