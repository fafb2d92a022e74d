"""Load generation behind one seam: run_backend(name, target, requests, load, options) → BackendResult.

Every backend (registered in loadbench.plugins.ENGINE_BACKENDS; the native asyncio engine is "native")
is called through run_backend, which refuses a remote target and a bad load before any backend runs.
`drive` is the native engine's one-workload shortcut. Both are synchronous: they return when the run is
over (always on time: warm-up + duration + timeout at most, plus process start-up) and can be called
many times in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loadbench.engine.registry import DEFAULT_BACKEND
from loadbench.errors import EngineUnavailableError, UsageError
from loadbench.shapes import Load
from loadbench.types import DriveOptions, RequestSpec, Target

if TYPE_CHECKING:  # the engine proper (numpy, asyncio machinery) is imported when drive() runs
    from loadbench.engine.backend import BackendResult
    from loadbench.results.metrics import Recording, TickInfo

__all__ = ["drive", "run_backend"]


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
    if not 1 <= options.pipeline <= 1024:
        raise UsageError(f"pipeline: {options.pipeline} must be 1 (no pipelining) to 1024")
    if options.pipeline > 1 and (load.loop == "open" or not options.keepalive):
        raise UsageError(f"pipeline {options.pipeline}: pipelining needs keep-alive and a closed loop "
                         "(-c N or connection stages); drop the rate or --no-keepalive")
    _check_limits(load, requests, options, duration)


def _native_only(backend: str, requests: Sequence[RequestSpec], options: DriveOptions) -> None:
    """Refuse what only the native engine does, rather than ignore it."""
    asked = [what for what, on in (
        ("response checks (expect_status / expect_body)", any(r.check is not None for r in requests)),
        ("request templates ({seq}, {random:...}, {csv:...})",
         any(r.template_dir is not None for r in requests)),
        ("pipelining", options.pipeline > 1), ("a Unix socket", options.unix_socket is not None),
    ) if on]  # fmt: skip
    if backend != DEFAULT_BACKEND and asked:
        raise UsageError(f"engine {backend!r} does not do {' or '.join(asked)}; use engine \"native\"")


def _check_limits(load: Load, requests: Sequence[RequestSpec], options: DriveOptions,
                  duration: float | None) -> None:  # fmt: skip
    """The bounds of loadbench.safe.limits, so bench and the Python API meet what scenarios meet."""
    from loadbench.safe import limits
    from loadbench.shapes import Open, Stages

    problems = {
        "duration": None if duration is None else limits.duration_problem(duration),
        "warm-up": limits.duration_problem(options.warmup_s),
        "timeout": limits.timeout_problem(options.timeout_s),
        "processes": limits.processes_problem(options.processes, len(options.cpus) if options.cpus else None),
        "connections": limits.connections_problem(load.connection_limit),
    }
    if isinstance(load, Open):
        problems["rate"] = limits.rate_problem(load.rate_per_s, duration, options.processes)
    elif isinstance(load, Stages) and load.kind == "rate":
        peak = max((stage.target for stage in load.stages), default=0.0)
        problems["rate"] = limits.rate_problem(peak, duration, options.processes)
    for spec in requests:
        problems.setdefault("request", limits.request_problem(spec.method, spec.path, spec.headers))
    for what, problem in problems.items():
        if problem is not None:
            raise UsageError(f"{what}: {problem}")


def run_backend(
    backend: str, target: Target, requests: Sequence[RequestSpec], load: Load, options: DriveOptions, *,
    workload: str = "", settings: Mapping[str, Any] | None = None,
    on_tick: Callable[[TickInfo], bool | None] | None = None,
) -> BackendResult:  # fmt: skip
    """Send the load with the engine backend called `backend`; see loadbench.engine.backend.

    `settings` are the backend's own (a scenario's [locust] table, bench's --locust-* options).
    Refuses a non-loopback target unless options.allow_remote (TargetRefusedError), before any lookup,
    socket or backend; a bad load or option is a UsageError, a backend that cannot run here an
    EngineUnavailableError saying how to install it. `on_tick` is called about once a second from the
    calling thread with the progress so far.
    """
    from loadbench.engine.registry import get_backend
    from loadbench.engine.targets import check_target

    check_target(target, allow_remote=options.allow_remote)
    engine = get_backend(backend, settings)
    _validate(load, requests, options)
    _native_only(backend, requests, options)
    reason = engine.available()
    if reason is not None:
        raise EngineUnavailableError(f"engine {backend!r} cannot run here: {reason}")
    return engine.drive(target, requests, load, options, workload=workload, on_tick=on_tick)


def drive(
    target: Target, requests: Sequence[RequestSpec], load: Load, options: DriveOptions,
    *, on_tick: Callable[[TickInfo], bool | None] | None = None,
) -> Recording:  # fmt: skip
    """The native engine's Recording of one workload: run_backend("native", ...) for callers that measure
    one workload and want its Recording (bench, benchmarks, tests)."""
    return run_backend(DEFAULT_BACKEND, target, requests, load, options, on_tick=on_tick).only()
