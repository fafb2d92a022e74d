"""Load generation: drive(target, requests, load, options) → Recording, in one or several processes.

`drive` is synchronous: it runs its own event loop (uvloop when installed) or its own engine
processes, returns when the run is over (always on time: warm-up + duration + timeout at most, plus
process start-up), and can be called many times in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from loadbench.errors import UsageError
from loadbench.shapes import Load
from loadbench.types import DriveOptions, RequestSpec, Target

if TYPE_CHECKING:  # the engine proper (numpy, asyncio machinery) is imported when drive() runs
    from loadbench.results.metrics import Recording, TickInfo

__all__ = ["drive"]


def _validate(load: Load, requests: Sequence[RequestSpec], options: DriveOptions) -> None:
    if not requests:
        raise UsageError("no requests to send; give at least one path")
    load.validate()
    duration = load.own_duration_s if load.own_duration_s is not None else options.duration_s
    if duration is not None and duration <= 0:
        raise UsageError(f"duration: {duration:g} s must be positive")
    if duration is None and not options.max_requests:
        raise UsageError("the run has no bound: give a duration (-d) or a request count (-n)")
    if options.timeout_s <= 0:
        raise UsageError(f"timeout: {options.timeout_s:g} s must be positive")
    if options.warmup_s < 0:
        raise UsageError(f"warm-up: {options.warmup_s:g} s must not be negative")
    if options.processes < 1:
        raise UsageError(f"processes: {options.processes} must be at least 1")


def drive(
    target: Target, requests: Sequence[RequestSpec], load: Load, options: DriveOptions,
    *, on_tick: Callable[[TickInfo], None] | None = None,
) -> Recording:  # fmt: skip
    """Send the load to the target and return what was measured (see loadbench.results.metrics.Recording).

    Refuses a non-loopback target unless options.allow_remote (TargetRefusedError), before any lookup.
    `on_tick` is called about once a second from the calling thread with the progress so far.
    """
    from loadbench.engine.native.phases import drive_one, max_connections_of, pinned
    from loadbench.engine.native.recorder import build_recording
    from loadbench.engine.targets import check_target

    check_target(target, allow_remote=options.allow_remote)
    _validate(load, requests, options)
    from loadbench.engine.native.procs import drive_processes, usable_processes

    processes = usable_processes(load, options.processes)
    if processes > 1:
        shard = drive_processes(target, requests, load, options, on_tick=on_tick)
    else:
        with pinned(options.cpus):
            shard = drive_one(target, requests, load, options, report=on_tick)
    return build_recording(
        shard, load=load, warmup_s=options.warmup_s, target_rps=load.mean_rate_per_s,
        max_connections=max_connections_of(load), processes=processes, cpus=options.cpus,
        keepalive=options.keepalive,
    )  # fmt: skip
