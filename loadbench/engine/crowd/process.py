"""The crowd's own process: opened before the warm-up, held through the window, counted, closed.

`CrowdRun` starts one fresh interpreter (multiprocessing "spawn", pinned to the client CPUs like the
engine) that opens the crowd on its own event loop (engine/crowd/clients.py), reports what it holds,
holds it until told to stop, and reports again. The load engine runs meanwhile in its own process(es)
or thread, untouched: the crowd never shares its event loop, so the engine's hot path costs what it
cost before. Every exit path ends the child (a context manager; the child is a daemon too).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import time
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from loadbench.errors import EngineError, UsageError
from loadbench.results.records import CrowdRecord
from loadbench.types import Crowd, Target

START_TIMEOUT_S = 60.0  # interpreter start and imports on a busy machine
FD_HEADROOM = 64


def response_deadline_s(crowd: Crowd) -> float:
    """How long the opening waits for the idle clients' responses after the last connect."""
    return 3.0 + crowd.connections / 2000


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY
                                                    else min(needed, hard), hard))  # fmt: skip


def _child(pipe: Connection, crowd: Crowd, target: Target, default_path: str, cpus: tuple[int, ...] | None,
           sources: int) -> None:  # fmt: skip
    try:
        if cpus and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, cpus)
        _raise_fd_limit(crowd.connections + FD_HEADROOM)
        asyncio.run(_hold(pipe, crowd, target, default_path, sources))
    except Exception as exc:  # reported to the parent, which raises it as an EngineError
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        pipe.close()


async def _hold(pipe: Connection, crowd: Crowd, target: Target, default_path: str, sources: int) -> None:
    from loadbench.engine.crowd.clients import CrowdState, close_all, open_crowd, trickle_forever

    loop = asyncio.get_running_loop()
    state = CrowdState()
    open_s = await open_crowd(
        state, crowd, (target.host, target.port), target.authority, default_path=default_path,
        sources=sources, response_deadline_s=response_deadline_s(crowd),
    )  # fmt: skip
    pipe.send(("opened", {"open_s": round(open_s, 3), **state.counts()}))
    trickler = None
    if crowd.idle and crowd.idle_mode == "trickle":
        trickler = asyncio.ensure_future(trickle_forever(state, crowd.trickle_interval_s))
    told = asyncio.Event()
    loop.add_reader(pipe.fileno(), told.set)
    await told.wait()
    loop.remove_reader(pipe.fileno())
    pipe.recv()
    if trickler is not None:
        trickler.cancel()
    final = state.counts()
    close_all(state)
    await asyncio.sleep(0)
    pipe.send(("done", final))


class CrowdRun:
    """The crowd of one trial in its own process: `open()` returns once it is held (or the opening
    gave up), `finish()` stops it and returns the trial's `CrowdRecord`. Use it as a context manager."""

    def __init__(self, crowd: Crowd, target: Target, *, default_path: str, cpus: tuple[int, ...] | None,
                 sources: int = 1) -> None:  # fmt: skip
        self.crowd = crowd
        self.target = target
        self.default_path = default_path
        self.cpus = cpus
        self.sources = sources
        self._proc: Any = None
        self._pipe: Connection | None = None
        self._opened: dict[str, Any] = {}
        self.server_before: dict[str, float | int | None] = {}

    def open(self) -> CrowdRun:
        """Start the crowd's process and wait until every client is open, refused or given up on."""
        if self.target.scheme != "http":
            raise UsageError("idle and slow clients speak plain HTTP/1.1 only; measure them on an http:// "
                             "server (drop idle/slow_readers for a TLS server)")  # fmt: skip
        ctx = multiprocessing.get_context("spawn")
        parent_end, child_end = ctx.Pipe()
        self._pipe = parent_end
        self._proc = ctx.Process(target=_child, name="loadbench-crowd", daemon=True, args=(
            child_end, self.crowd, self.target, self.default_path, self.cpus, self.sources))  # fmt: skip
        self._proc.start()
        child_end.close()
        budget = START_TIMEOUT_S + response_deadline_s(self.crowd) + self.crowd.connections / 500
        self._opened = self._expect("opened", time.monotonic() + budget)
        return self

    def finish(self) -> CrowdRecord:
        """Stop holding (the crowd's connections close) and return what was held at the start and end."""
        assert self._pipe is not None
        self._pipe.send("stop")
        final = self._expect("done", time.monotonic() + 30.0)
        self._stop()
        return crowd_record(self.crowd, self.default_path, self._opened, final, sources=self.sources,
                            server_before=self.server_before)  # fmt: skip

    def _expect(self, kind: str, deadline: float) -> dict[str, Any]:
        assert self._pipe is not None
        if not self._pipe.poll(max(deadline - time.monotonic(), 0)):
            raise EngineError(f"the idle/slow clients' process did not report {kind!r} in time; it was ended")
        try:
            got, payload = self._pipe.recv()
        except EOFError:
            code = self._proc.exitcode
            raise EngineError(f"the idle/slow clients' process died (exit code {code})") from None
        if got == "error":
            raise EngineError(f"the idle/slow clients failed: {payload}")
        result: dict[str, Any] = payload
        return result

    def _stop(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        if self._proc is not None:
            self._proc.join(timeout=5)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
            self._proc = None

    def __enter__(self) -> CrowdRun:
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        if self._proc is not None and self._proc.is_alive() and self._pipe is not None and exc is not None:
            self._proc.terminate()
        self._stop()


def crowd_record(crowd: Crowd, default_path: str, opened: dict[str, Any], final: dict[str, Any], *,
                 sources: int, server_before: dict[str, float | int | None]) -> CrowdRecord:  # fmt: skip
    """The trial's `crowd` sub-record (docs/results-format.md) from the counts at the start and end."""
    record: CrowdRecord = {
        "idle": crowd.idle, "idle_mode": crowd.idle_mode, "slow_readers": crowd.slow_readers,
        "open_s": opened.get("open_s"), "source_addresses": sources,
    }
    if crowd.idle:
        record["idle_path"] = crowd.idle_path or default_path
        if crowd.idle_mode == "trickle":
            record["trickle_interval_s"] = crowd.trickle_interval_s
        start, end = opened["idle"], final["idle"]
        record.update({
            "idle_held_start": start["held"], "idle_held_end": end["held"],
            "idle_waiting_start": start["waiting"], "idle_waiting_end": end["waiting"],
            "idle_failed": dict(end["failed"]),
        })  # fmt: skip
    if crowd.slow_readers:
        start, end = opened["slow"], final["slow"]
        record.update({
            "slow_path": crowd.slow_path, "read_rate_bps": crowd.read_rate_bps,
            "slow_held_start": start["held"], "slow_held_end": end["held"],
            "slow_failed": dict(end["failed"]),
            "slow_bytes_read": end["bytes_read"], "slow_read_rate_bps_max": end["read_rate_bps_max"],
            "slow_read_rate_bps_mean": end["read_rate_bps_mean"],
        })  # fmt: skip
    if server_before:
        record["server_rss_mb_before"] = server_before.get("rss_mb")
        record["server_fds_before"] = server_before.get("fds")
    return record
