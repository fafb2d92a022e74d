"""Measure one trial on a running server: the engine's drive, and what runs beside it.

_measure starts the process monitor and the instruction counters once the warm-up is over, holds the
trial's crowd of idle or slow clients, drives the load (checking thresholds every second under
--abort-on-fail), and turns what the backend measured into result records, failed when the server died
meanwhile. _identity and _failed build the records' common part the same way for every trial.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from loadbench.results.build import failed_trial
from loadbench.results.metrics import WINDOW_OPENS

if TYPE_CHECKING:
    from pathlib import Path

    from loadbench.engine.backend import BackendResult
    from loadbench.engine.crowd.process import CrowdRun
    from loadbench.monitor import MonitorSummary, ProcessMonitor
    from loadbench.plan import Trial
    from loadbench.results.build import TrialIdentity
    from loadbench.results.metrics import TickInfo
    from loadbench.results.records import Failure, TrialResult
    from loadbench.runner.events import RunEvents
    from loadbench.scenario import Scenario
    from loadbench.servers.base import ServerModel
    from loadbench.servers.process import ServerProcess
    from loadbench.types import Target


def _measure(
    trial: Trial, server: ServerProcess, model: ServerModel, scenario: Scenario, sink: RunEvents, attempt: int
) -> list[TrialResult]:
    """Drive one trial against a running server with the scenario's engine backend: one result per
    workload the backend measured (one for the native engine; a Locust journey's steps and the whole
    journey). A server that dies meanwhile makes the trial a failed one."""
    from loadbench.monitor import ProcessMonitor
    from loadbench.monitor.perf import InstructionCounter, open_counter
    from loadbench.results.build import measured_trial

    started = datetime.now(UTC)
    # At least ~10 samples a window (a 0.3-s adaptive trial would otherwise get one), at most 4 a second;
    # a sample costs about half a millisecond of this process, which also runs the engine.
    monitor = ProcessMonitor(server.pids, interval_s=min(0.25, max(0.03, trial.duration_s / 10)))
    counters: list[InstructionCounter] = []  # hardware counters, only where the kernel allows them

    def open_counters() -> None:
        for counter in counters:
            counter.close()
        counters[:] = [c for c in [open_counter(server.pids())] if c]

    window = _Window(monitor, open_counters)
    with _crowd_beside(trial, server, scenario) as crowd_run:
        identity = _identity(trial, model, scenario, started=started, attempt=attempt,
                             adapter=server.adapter, unix_socket=server.unix_socket)
        with _after_warmup(window.by_timer, trial.warmup_s):
            measured = _drive(trial, server, scenario, sink, abort_identity=identity,
                              on_window=window.by_engine)
        summary = window.stop()
        crowd = crowd_run.finish() if crowd_run is not None else None
    instructions = counters[0].read() if counters else None
    for counter in counters:
        counter.close()
    failure = _death(server)
    several = len(measured.recordings) > 1
    return [
        measured_trial(identity.for_workload(workload, workload if several else ""), recording,
                       monitor=summary, backend_extras=measured.extras, crowd=crowd,
                       instructions=instructions, failure=failure)
        for workload, recording in measured.recordings.items()
    ]  # fmt: skip


class _Window:
    """When the figures taken beside the engine (the server's CPU and memory, instruction counters) begin.

    A timer at the end of the warm-up opens it; the engine's own signal (TickInfo phase "window") opens it
    again, since only the engine knows when its warm-up really began: its start-up (an event loop, a
    spawned process, connections) runs first, and CPU the server spent on warm-up requests would otherwise
    land in a window whose requests exclude them. Whichever comes first starts; the engine's signal after
    the timer restarts the window; the timer after the engine's signal does nothing.
    """

    def __init__(self, monitor: ProcessMonitor, open_counters: Callable[[], None]) -> None:
        self._monitor, self._open_counters = monitor, open_counters
        self._lock = threading.Lock()
        self._started = self._by_engine = False

    def by_timer(self) -> None:
        with self._lock:
            if not self._started:
                self._start()

    def by_engine(self) -> None:
        with self._lock:
            if self._by_engine:
                return
            self._by_engine = True
            if self._started:
                self._monitor.restart()
                self._open_counters()
            else:
                self._start()

    def _start(self) -> None:
        self._monitor.start()
        self._open_counters()
        self._started = True

    def stop(self) -> MonitorSummary | None:
        """The window's summary; None when the trial ended before it opened."""
        with self._lock:
            return self._monitor.stop() if self._started else None


def _death(server: ServerProcess) -> Failure | None:
    """Why the trial's server is no longer running (None while it runs), with its log's last lines.

    A trial whose server died under load keeps what the engine measured (the requests answered before
    the death, the refused connections after it) but is a failed trial: status_ok false, left out of
    medians and verdicts, with the reason and the log tail beside it.
    """
    if server.alive():
        return None
    return {"reason": f"during the trial, {server.exit_description()}", "log_tail": server.log_tail()}


@contextlib.contextmanager
def _crowd_beside(trial: Trial, server: ServerProcess, scenario: Scenario) -> Iterator[CrowdRun | None]:
    """The trial's idle/slow clients, opened (after a snapshot of the server's RSS and descriptors)
    before the warm-up and held until the caller finishes them; None without a crowd."""
    if not trial.crowd.connections:
        yield None
        return
    from loadbench.engine.crowd.limits import plan_fit
    from loadbench.engine.crowd.process import CrowdRun
    from loadbench.monitor import server_snapshot
    from loadbench.types import Target

    target = Target(scheme="https" if server.tls is not None else "http", host="127.0.0.1", port=server.port)
    fit = plan_fit(trial.crowd, trial.load.connection_limit, host=target.host)
    run = CrowdRun(trial.crowd, target, default_path=trial.workload.requests[0].path,
                   cpus=scenario.cpus.client, sources=fit.sources)  # fmt: skip
    run.server_before = server_snapshot(server.pids())
    with run:
        yield run


def _drive(trial: Trial, server: ServerProcess, scenario: Scenario, sink: RunEvents, *,
           abort_identity: TrialIdentity | None = None,
           on_window: Callable[[], None] | None = None) -> BackendResult:  # fmt: skip
    """Drive `trial`'s load at `server` with the scenario's engine backend, pinned to the client CPUs.

    With run --abort-on-fail (scenario.load.abort_delay_s) and an `abort_identity`, the scenario's
    thresholds are checked every second on the figures so far and a failure ends the trial (aborted).
    `on_window` is called when the engine's measured window opens (where the backend says so)."""
    from loadbench.engine import run_backend
    from loadbench.types import DriveOptions

    def on_tick(info: TickInfo) -> bool | None:
        sink.tick(trial, info)
        return None

    tick: Callable[[TickInfo], bool | None] = on_tick
    watching = scenario.load.abort_delay_s is not None and abort_identity is not None and scenario.thresholds
    if watching:
        from loadbench.gate.abort import AbortWatch
        from loadbench.results.build import measured_trial
        from loadbench.scenario.thresholds import parse_thresholds

        identity = abort_identity
        tick = AbortWatch(parse_thresholds(scenario.thresholds, source="[thresholds]"),
                          scenario.load.abort_delay_s or 0.0,
                          lambda rec: measured_trial(identity, rec), passing=on_tick)  # type: ignore[arg-type]

    progress = tick

    def tick_or_window(info: TickInfo) -> bool | None:
        if info.phase == WINDOW_OPENS.phase:
            if on_window is not None:
                on_window()
            return None
        return progress(info)

    target, unix_socket = server_target(server)
    options = DriveOptions(
        duration_s=trial.duration_s, warmup_s=trial.warmup_s, timeout_s=trial.timeout_s,
        cpus=scenario.cpus.client, cacert=str(server.tls.ca) if server.tls is not None else None,
        pipeline=scenario.load.pipeline, live_figures=bool(watching), unix_socket=unix_socket,
    )  # the run trusts its own throwaway CA: no --insecure
    return run_backend(
        scenario.engine, target, trial.workload.requests, trial.load, options,
        workload=trial.workload.name, settings=engine_settings(scenario, server),
        on_tick=tick_or_window,
    )  # fmt: skip


def server_target(server: ServerProcess) -> tuple[Target, str | None]:
    """Where requests to `server` go: its Target (scheme, host, port: what the Host header says) and the
    Unix socket the bytes go to instead of host:port (None over TCP)."""
    from loadbench.types import Target

    if server.unix_socket is not None:
        from loadbench.servers.unixsock import SOCKET_HOST

        return Target(scheme="http", host=SOCKET_HOST, port=80), str(server.unix_socket)
    scheme: Literal["http", "https"] = "https" if server.tls is not None else "http"
    return Target(scheme=scheme, host="127.0.0.1", port=server.port), None


def engine_settings(scenario: Scenario, server: ServerProcess) -> dict[str, object]:
    """The backend's settings for one server: the scenario's own, plus HTTP/2 (engine httpx) where the
    scenario asks for it and this server offers it; elsewhere the client offers HTTP/1.1 only."""
    settings: dict[str, object] = dict(scenario.engine_settings)
    if scenario.load.http2 and server.http2:
        settings |= {"http2": True, "streams": scenario.load.streams}
    return settings


@contextlib.contextmanager
def _after_warmup(start: Callable[[], object], delay_s: float) -> Iterator[threading.Event]:
    """Call `start` once the warm-up is over (so server figures cover the measured window only).

    Yields an Event that is set once `start` has run; a trial cut short before then never starts it.
    """
    done = threading.Event()

    def fire() -> None:
        start()
        done.set()

    timer = threading.Timer(delay_s, fire)
    timer.daemon = True
    timer.start()
    try:
        yield done
    finally:
        timer.cancel()
        timer.join()


def _identity(
    trial: Trial, model: ServerModel, scenario: Scenario, *, started: datetime | None = None,
    attempt: int = 1, adapter: str | None = None, unix_socket: Path | str | None = None,
) -> TrialIdentity:
    from loadbench.results.build import TrialIdentity

    server_options: dict[str, object] = {"workers": trial.server.workers, "threads": trial.server.threads}
    if adapter is not None:  # the app of the other face ran through this middleware
        server_options["adapter"] = adapter
    return TrialIdentity(
        trial_id=trial.trial_id, index=trial.index, model=trial.server.name, server_model=trial.server.model,
        family=model.family,
        server_options=server_options,
        variant=trial.variant, workload=trial.workload.name, requests_spec=trial.workload.requests,
        load=trial.load, repetition=trial.repetition, round=trial.round, attempt=attempt,
        started=started or datetime.now(UTC),
        cpus={"server": scenario.cpus.server, "client": scenario.cpus.client}, load_suffix=trial.crowd.label,
        unix_socket=None if unix_socket is None else str(unix_socket),
    )  # fmt: skip


def _failed(trial: Trial, model: ServerModel, scenario: Scenario, reason: str, log_tail: str,
            unix_socket: Path | None = None) -> TrialResult:  # fmt: skip
    """A failed trial's record; one of a `unix_socket = true` server says so even when the server never
    started (then its socket path is unknown: target null)."""
    where: Path | str | None = unix_socket
    if where is None and trial.server.unix_socket:
        where = ""  # on a socket, path unknown
    return failed_trial(_identity(trial, model, scenario, unix_socket=where), reason=reason,
                        log_tail=log_tail, backend=scenario.engine)
