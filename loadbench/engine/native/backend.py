"""The native backend: loadbench's own asyncio engine behind the engine-backend seam.

One workload per run (a weighted mix counts as one), in one engine process or several whose shards
merge exactly; the engine pins itself to the client CPUs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loadbench.engine.backend import BackendResult, TickSink
from loadbench.errors import UsageError

if TYPE_CHECKING:
    from loadbench.results.metrics import LatencyHistogram, TickInfo
    from loadbench.types import DriveOptions, Load, RequestSpec, Target


class NativeBackend:
    """loadbench's own engine: HTTP/1.1 on asyncio (uvloop when installed), closed and open loop."""

    name = "native"
    description = "loadbench's own asyncio HTTP/1.1 engine: closed loop, open loop (wrk2-style), stages"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        if settings:  # the native engine's knobs are the DriveOptions every backend shares
            raise UsageError(f"the native engine takes no engine settings, got: {', '.join(settings)}")

    def available(self) -> str | None:
        return None

    def drive(
        self, target: Target, requests: Sequence[RequestSpec], load: Load, options: DriveOptions, *,
        workload: str, on_tick: TickSink | None = None,
    ) -> BackendResult:  # fmt: skip
        from loadbench.engine.native.phases import drive_one, max_connections_of, pinned
        from loadbench.engine.native.procs import drive_processes, usable_processes
        from loadbench.engine.native.recorder import build_recording

        processes = usable_processes(load, options.processes)
        if on_tick is not None and options.live_figures:
            on_tick = _with_recording(on_tick, load=load, options=options, processes=processes)
        if processes > 1:
            shard = drive_processes(target, requests, load, options, on_tick=on_tick)
        else:
            with pinned(options.cpus):
                shard = drive_one(target, requests, load, options, report=on_tick)
        recording = build_recording(
            shard, load=load, warmup_s=options.warmup_s, target_rps=load.mean_rate_per_s,
            max_connections=max_connections_of(load), processes=processes, cpus=options.cpus,
            keepalive=options.keepalive, pipeline=options.pipeline,
        )  # fmt: skip
        return BackendResult(recordings={workload: recording}, extras=connect_extras(target, shard.connect))


def _with_recording(on_tick: TickSink, *, load: Load, options: DriveOptions, processes: int) -> TickSink:
    """`on_tick` given each tick's figures so far as a whole Recording (built from the partial Shard)."""
    import dataclasses

    from loadbench.engine.native.phases import max_connections_of
    from loadbench.engine.native.recorder import Shard, build_recording

    def tick(info: TickInfo) -> bool | None:
        if isinstance(info.partial, Shard):
            recording = build_recording(
                info.partial, load=load, warmup_s=options.warmup_s, target_rps=load.mean_rate_per_s,
                max_connections=max_connections_of(load), processes=processes, cpus=options.cpus,
                keepalive=options.keepalive, pipeline=options.pipeline,
            )  # fmt: skip
            info = dataclasses.replace(info, partial=recording)
        return on_tick(info)

    return tick


def connect_extras(target: Target, connect: LatencyHistogram | None) -> dict[str, Any]:
    """What every connection cost to open, in ms: the TCP connect (over a Unix socket with TLS, the
    handshake too); on https the handshake is the record's own `tls_ms`. Empty for plain HTTP with no
    connection measured."""
    from loadbench.results.metrics import percentile_summary_ms

    if connect is None or not connect.count:
        return {"tls": target.scheme == "https"} if target.scheme == "https" else {}
    return {
        "tls": target.scheme == "https",
        "connections_measured": connect.count,
        # TCP connect per new connection, warm-up included (the TLS handshake: the record's tls_ms)
        "connect_ms": percentile_summary_ms(connect),
    }
