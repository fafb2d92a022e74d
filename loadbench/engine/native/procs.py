"""Several engine processes side by side: split the load, start them together, merge their shards.

Each child is a fresh interpreter (multiprocessing "spawn": nothing of the parent's event loop or
sockets is inherited), pinned to one of the --cpus, that runs drive_one on its share of the load and
sends back its Shard (histograms travel in their encoded form). The parent starts all children on
one "go" once every child has imported the engine, relays their progress as one on_tick, merges
the shards exactly, and ends any child still running past the run's deadline.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from loadbench.engine.native.phases import run_duration_s
from loadbench.engine.native.recorder import Shard, merge_shards
from loadbench.errors import EngineError, LoadbenchError, UsageError
from loadbench.results.metrics import TickInfo
from loadbench.shapes import Load, split_count
from loadbench.types import DriveOptions, RequestSpec, Target

START_TIMEOUT_S = 60.0  # interpreter start and imports on a busy machine
GRACE_S = 10.0  # beyond warm-up + duration + timeout before a child is ended


def split_load(load: Load, parts: int) -> list[Load]:
    """Each process's share of the load; the shape splits itself (LoadShape.split): the shares add up."""
    return list(load.split(parts))


def usable_processes(load: Load, wanted: int) -> int:
    """No more processes than get a share worth measuring (LoadShape.max_processes): in a closed loop
    each process needs at least one connection, or it would measure nothing."""
    return load.max_processes(wanted)


def _child(pipe: Connection, target: Target, requests: Sequence[RequestSpec], load: Load,
           options: DriveOptions) -> None:  # fmt: skip
    from loadbench.engine.native.phases import drive_one, pin_current

    try:
        pin_current(options.cpus)
        pipe.send(("ready", None))

        def wait_go() -> None:
            if pipe.recv() != "go":
                raise EngineError("engine process was not told to start")

        def report(tick: TickInfo) -> bool:
            """Relay the tick; True once the parent said "stop" (--abort-on-fail), seen at the next tick."""
            pipe.send(("tick", tick))
            return pipe.poll() and pipe.recv() == "stop"

        shard = drive_one(target, requests, load, options, report=report, before_start=wait_go)
        pipe.send(("shard", shard))
    except LoadbenchError as exc:
        pipe.send(("error", (isinstance(exc, UsageError), str(exc))))
    except Exception as exc:  # reported to the parent, which raises it as an EngineError
        pipe.send(("error", (False, f"{type(exc).__name__}: {exc}")))
    finally:
        pipe.close()


def drive_processes(
    target: Target, requests: Sequence[RequestSpec], load: Load, options: DriveOptions,
    *, on_tick: Callable[[TickInfo], bool | None] | None = None,
) -> Shard:  # fmt: skip
    """Run the load split over options.processes engine processes (at most usable_processes) and
    return the merged shard."""
    count = usable_processes(load, options.processes)
    loads = split_load(load, count)
    budgets = split_count(options.max_requests, count) if options.max_requests else [None] * count
    ctx = multiprocessing.get_context("spawn")
    children: list[tuple[Any, Connection]] = []
    try:
        for i in range(count):
            parent_end, child_end = ctx.Pipe()
            cpu = (options.cpus[i % len(options.cpus)],) if options.cpus else None
            child_options = dataclasses.replace(options, processes=1, cpus=cpu, seed=options.seed + i,
                                                max_requests=budgets[i], shard=(i, count))  # fmt: skip
            proc = ctx.Process(target=_child, args=(child_end, target, requests, loads[i], child_options),
                               name=f"loadbench-engine-{i}", daemon=True)  # fmt: skip
            proc.start()
            child_end.close()
            children.append((proc, parent_end))
        return _collect(children, load, options, on_tick)
    finally:
        for proc, pipe in children:
            pipe.close()
            if proc.is_alive():
                proc.terminate()
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()


def _collect(children: list[tuple[Any, Connection]], load: Load, options: DriveOptions,
             on_tick: Callable[[TickInfo], bool | None] | None) -> Shard:  # fmt: skip

    pipes = [pipe for _, pipe in children]
    _await_all(pipes, "ready", time.monotonic() + START_TIMEOUT_S)
    for pipe in pipes:
        pipe.send("go")
    window_s = run_duration_s(load, options)
    run_s = (window_s or 3600.0) if options.max_requests else (window_s or 0.0)
    deadline = time.monotonic() + options.warmup_s + run_s + options.timeout_s + GRACE_S
    shards: dict[int, Shard] = {}
    ticks: dict[tuple[str, int], list[TickInfo]] = {}
    while len(shards) < len(pipes):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            late = len(pipes) - len(shards)
            raise EngineError(f"{late} engine process(es) did not finish on time; they were ended")
        for ready in wait([p for i, p in enumerate(pipes) if i not in shards], timeout=remaining):
            i = pipes.index(ready)  # type: ignore[arg-type]
            try:
                kind, payload = pipes[i].recv()
            except EOFError:
                raise EngineError(f"engine process {i} died without a result (exit code "
                                  f"{children[i][0].exitcode})") from None  # fmt: skip
            if kind == "shard":
                shards[i] = payload
            elif kind == "error":
                usage, message = payload
                raise (UsageError if usage else EngineError)(message)
            elif kind == "tick" and on_tick is not None:
                key = (payload.phase, int(payload.elapsed_s + 0.5))
                ticks.setdefault(key, []).append(payload)
                if len(ticks[key]) == len(pipes) and on_tick(_sum_ticks(ticks.pop(key))):
                    for pipe in pipes:  # end the run: each child stops at its next tick
                        with contextlib.suppress(OSError):
                            pipe.send("stop")
    return merge_shards([shards[i] for i in range(len(pipes))])


def _await_all(pipes: list[Connection], expected: str, deadline: float) -> None:
    pending = set(range(len(pipes)))
    while pending:
        ready = wait([pipes[i] for i in pending], timeout=max(deadline - time.monotonic(), 0))
        if not ready:
            raise EngineError(f"{len(pending)} engine process(es) did not start within {START_TIMEOUT_S:g} s")
        for item in ready:
            i = pipes.index(item)  # type: ignore[arg-type]
            try:
                kind, payload = pipes[i].recv()
            except EOFError:
                raise EngineError(f"engine process {i} exited while starting") from None
            if kind == "error":
                usage, message = payload
                raise (UsageError if usage else EngineError)(message)
            if kind == expected:
                pending.discard(i)


def _sum_ticks(items: list[TickInfo]) -> TickInfo:
    first = items[0]
    return TickInfo(
        phase=first.phase, elapsed_s=max(t.elapsed_s for t in items), duration_s=first.duration_s,
        requests=sum(t.requests for t in items), rps=sum(t.rps for t in items),
        errors=sum(t.errors for t in items),
        partial=merge_shards([t.partial for t in items]) if all(  # type: ignore[misc]
            isinstance(t.partial, Shard) for t in items) else None,
    )  # fmt: skip
