"""The orchestration loop of `loadbench run`: server blocks, trials, monitor, results appended per trial.

For each block of the plan a fresh server starts (pinned to the scenario's server CPUs); each of the
block's trials warms up and drives it (the engine pinned to the client CPUs) while the monitor samples the
server tree; every trial's result is appended to results.jsonl and flushed before the next one starts.
A server that fails to start or dies is recorded as failed trials with its own log, and the run goes on.
Ctrl-C (KeyboardInterrupt) stops the server, keeps the results so far, and ends the run as interrupted.
With profiling on (scenario `profile`, `run --profile`), the trials plan.profile_trials picks run once more
after their block's measured trials, on the same server, under py-spy (loadbench.profile); their profile
lines are never measurements.

The runner never prints: it reports through a RunEvents sink (the CLI's progress bar, or nothing).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from loadbench.errors import ServerStartError, ServerUnavailableError, UsageError
from loadbench.results.build import failed_trial

if TYPE_CHECKING:
    from loadbench.engine.backend import BackendResult
    from loadbench.engine.crowd.process import CrowdRun
    from loadbench.plan import Block, Plan, Trial
    from loadbench.profile import ProfileSession
    from loadbench.results.build import TrialIdentity
    from loadbench.results.file import ResultsWriter
    from loadbench.results.metrics import TickInfo
    from loadbench.results.profiles import ProfileRecord
    from loadbench.results.records import Failure, TrialResult
    from loadbench.scenario import Scenario
    from loadbench.servers.base import AppSpec, ServerModel
    from loadbench.servers.process import ServerProcess


class RunEvents(Protocol):
    """What the runner tells its caller as it goes; every method is optional to act on."""

    def started(self, plan: Plan, results_path: Path, skipped: list[str]) -> None: ...
    def trial_started(self, trial: Trial) -> None: ...
    def tick(self, trial: Trial, info: TickInfo) -> None: ...
    def trial_finished(self, trial: Trial, result: TrialResult) -> None: ...
    def warning(self, message: str) -> None: ...
    def profiled(self, trial: Trial, profile: ProfileRecord) -> None: ...


class QuietEvents:
    """A RunEvents sink that ignores everything (tests, library use)."""

    def started(self, plan: Plan, results_path: Path, skipped: list[str]) -> None:
        return None

    def trial_started(self, trial: Trial) -> None:
        return None

    def tick(self, trial: Trial, info: TickInfo) -> None:
        return None

    def trial_finished(self, trial: Trial, result: TrialResult) -> None:
        return None

    def warning(self, message: str) -> None:
        return None

    def profiled(self, trial: Trial, profile: ProfileRecord) -> None:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    """Where a run wrote and how it went: `interrupted` is True after Ctrl-C (results so far are kept)."""

    run_dir: Path
    results_path: Path
    trials_planned: int
    trials_written: int
    trials_failed: int
    skipped_models: tuple[str, ...] = ()
    interrupted: bool = False
    warnings: tuple[str, ...] = field(default_factory=tuple)


def unavailable_models(plan: Plan) -> dict[str, str]:
    """Server names in `plan` whose model cannot run here, with the reason (and how to install it)."""
    from loadbench.servers.registry import get_model

    reasons: dict[str, str] = {}
    for block in plan.blocks:
        if block.server.name not in reasons:
            reason = get_model(block.server.model).available()
            if reason is not None:
                reasons[block.server.name] = reason
    return reasons


def run_plan(
    plan: Plan, *, run_dir: Path, strict: bool = False, events: RunEvents | None = None
) -> RunOutcome:
    """Run every block of `plan`, appending each trial to `run_dir/results.jsonl`; see the module docstring.

    Unavailable models are skipped with a warning (ServerUnavailableError when `strict`).
    """
    from loadbench.monitor.perf import status as counters_status
    from loadbench.plan import profile_trials
    from loadbench.results.env import collect_env, git_commit, measure_python_startup_ms
    from loadbench.results.family import Family
    from loadbench.results.file import ResultsWriter
    from loadbench.results.records import make_header
    from loadbench.servers.registry import get_model

    sink: RunEvents = events or QuietEvents()
    scenario = plan.scenario
    missing = unavailable_models(plan)
    if missing and strict:
        lines = "; ".join(f"{name}: {why}" for name, why in missing.items())
        raise ServerUnavailableError(f"--strict: cannot run {lines}")
    warnings = [f"skipping {name}: {why}" for name, why in missing.items()]
    for message in warnings:
        sink.warning(message)
    blocks = [block for block in plan.blocks if block.server.name not in missing]
    _check_limits(plan)  # refuses, before any server or socket, a plan whose connections cannot fit

    results_path = run_dir / "results.jsonl"
    env = collect_env(server_cpus=scenario.cpus.server, client_cpus=scenario.cpus.client)
    if any(get_model(block.server.model).family == Family.PROCESS_PER_REQUEST for block in blocks):
        # What a CGI request pays before the app runs, measured here and now, for the report to set beside
        # its latency (analysis/explain.py, serving_notes).
        env["python_startup_ms"] = measure_python_startup_ms()
    env["instruction_counters"] = why_not = counters_status()  # said once per run, never per trial
    if why_not != "available":
        sink.warning(f"{why_not}; cpu_per_request (CPU time) is measured instead")
    header = make_header(
        scenario_name=scenario.name, scenario_path=scenario.path or None, scenario_text=scenario.text,
        thresholds=scenario.thresholds, quick=scenario.quick, overrides=scenario.overrides, env=env,
        git_commit=git_commit(),
    )
    interrupted = False
    paired = bool(scenario.variants)
    profiler = _profiler(plan, run_dir, sink, warnings)
    with ResultsWriter(results_path, header) as writer, _ServerPool(keep=paired) as pool:
        progress = _Sink(writer=writer, events=sink, scenario=scenario, pool=pool, run_dir=run_dir,
                         profiler=profiler, profile_plan=profile_trials(plan, scenario.profile))
        sink.started(plan, results_path, sorted(missing))
        try:
            for group in _rounds(blocks, paired=paired):
                _run_round(group, progress)
        except KeyboardInterrupt:
            interrupted = True
    return RunOutcome(
        run_dir=run_dir, results_path=results_path, trials_planned=len(plan.trials),
        trials_written=progress.written, trials_failed=progress.failed, skipped_models=tuple(sorted(missing)),
        interrupted=interrupted, warnings=tuple(warnings),
    )


@dataclass(slots=True, kw_only=True)
class _Sink:
    """Where finished trials go: appended to the results file (flushed), counted, and announced."""

    writer: ResultsWriter
    events: RunEvents
    scenario: Scenario
    pool: _ServerPool
    run_dir: Path
    profiler: ProfileSession | None = None
    profile_plan: dict[int, tuple[Trial, ...]] = field(default_factory=dict)
    written: int = 0
    failed: int = 0

    def record(self, trial: Trial, result: TrialResult) -> TrialResult:
        """Write `result` stamped with this run's id and scenario sha256 (how a reader tells our lines from
        lines appended by another run), count it and announce it."""
        header = self.writer.header
        result = replace(result, run_id=header.run_id,
                         scenario_sha256=header.scenario.get("sha256"))  # fmt: skip
        self.writer.append(result)
        self.written += 1
        self.failed += int(result.failed)
        self.events.trial_finished(trial, result)
        return result


def _rounds(blocks: list[Block], *, paired: bool) -> list[list[Block]]:
    """Blocks grouped into the units that are rerun together: in a paired run, the consecutive blocks of
    one round (each variant once, same server, workload and load point); otherwise each block alone."""
    if not paired:
        return [[block] for block in blocks]
    groups: list[list[Block]] = []
    last_key: tuple[object, ...] | None = None
    for block in blocks:
        first = block.trials[0]
        key = (block.server.name, first.workload.name, first.load.label + first.crowd.label, first.round)
        if key == last_key:
            groups[-1].append(block)
        else:
            groups.append([block])
        last_key = key
    return groups


def _run_round(group: list[Block], out: _Sink) -> None:
    """Run the blocks of one round; in a paired run, rerun the round once when the engine saturated.

    A saturated trial measured the load generator, not the server, so its pair says nothing. The rerun's
    records carry `attempt: 2` and come later in the file; `loadbench compare` uses the last attempt of a
    round and leaves out rounds that saturated again, saying so.
    """
    results = [result for block in group for result in _run_block(block, out)]
    if len(group) < 2 or not any(result.saturated for result in results):
        return
    first = group[0].trials[0]
    out.events.warning(
        f"the load generator saturated in round {first.round} of {first.server.name} {first.workload.name} "
        f"{first.load.label}{first.crowd.label}; running that round once more"
    )
    for block in group:
        _run_block(block, out, attempt=2)


class _ServerPool:
    """Servers kept running from one block to the next, keyed by (server name, variant).

    In a paired run each block is one trial of one variant; restarting a server for every trial would add
    a cold start to every measurement and 0.2-1.5 s to every round, so each variant's server stays up
    (pinned beside the other, which idles meanwhile) until the run moves on to the next server entry.
    Without `keep`, the pool holds nothing and every block starts and stops its own server.
    """

    def __init__(self, *, keep: bool) -> None:
        self.keep = keep
        self._servers: dict[tuple[str, str | None], ServerProcess] = {}

    def take(self, key: tuple[str, str | None]) -> ServerProcess | None:
        """The running server kept under `key`, if it is still alive; servers of other entries are stopped."""
        for other in [k for k in self._servers if k[0] != key[0]]:
            self._servers.pop(other).stop()
        server = self._servers.pop(key, None)
        if server is not None and not server.alive():
            server.stop()
            return None
        return server

    def give_back(self, key: tuple[str, str | None], server: ServerProcess) -> bool:
        """Keep `server` for the next block of `key`; False when the pool does not keep servers."""
        if self.keep and server.alive():
            self._servers[key] = server
            return True
        return False

    def __enter__(self) -> _ServerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        while self._servers:
            self._servers.popitem()[1].stop()


def _run_block(block: Block, out: _Sink, *, attempt: int = 1) -> list[TrialResult]:
    """Run the block's trials on one server (started, or kept from the previous block of a paired run);
    restart it when it dies, give the block up after a second failed start, and record every trial.

    Returns the block's results in order (they are already written).
    """
    from loadbench.servers.registry import get_model

    scenario = out.scenario
    model = get_model(block.server.model)
    app = block.app
    key = (block.server.name, block.variant)
    name = block.server.name + (f"-{block.variant}" if block.variant else "")
    log_dir = out.run_dir / "logs" / (_safe(name) if out.pool.keep else f"{block.index:03d}-{_safe(name)}")
    server: ServerProcess | None = out.pool.take(key)
    results: list[TrialResult] = []
    start_failure: ServerStartError | None = None  # after a second failed start, the block is given up
    start_attempts = 0
    def fail(trial: Trial, message: str, log_tail: str) -> None:
        results.append(out.record(trial, _failed(trial, model, scenario, message, log_tail)))

    try:
        for trial in block.trials:
            out.events.trial_started(trial)
            if server is not None and not server.alive():
                server.stop()
                server = None
            if server is None and start_failure is None:
                start_attempts += 1
                try:
                    server = _start(model, app, block, scenario, log_dir)
                except ServerStartError as exc:
                    if start_attempts >= 2:
                        start_failure = exc
                    fail(trial, str(exc), exc.log_tail)
                    continue
                except UsageError as exc:  # e.g. an ASGI app under a WSGI-only model: no retry helps
                    start_failure = ServerStartError(str(exc))
                    fail(trial, str(exc), "")
                    continue
                problems = _preflight(block, scenario, server)
                if problems:  # wrong answers: no trial of this block is measured, the run goes on
                    reason = "preflight failed before any load: " + "; ".join(problems)
                    log_tail = server.log_tail()
                    start_failure = ServerStartError(reason)
                    server.stop()
                    server = None
                    fail(trial, reason, log_tail)
                    continue
            if server is None:
                assert start_failure is not None
                fail(trial, str(start_failure), start_failure.log_tail)
                continue
            for result in _measure(trial, server, model, scenario, out.events, attempt):
                results.append(out.record(trial, result))
        for trial in out.profile_plan.get(block.index, ()) if attempt == 1 else ():
            _profile(trial, server, model, out)
    finally:
        if server is not None and not out.pool.give_back(key, server):
            server.stop()
    return results


def _start(
    model: ServerModel, app: AppSpec, block: Block, scenario: Scenario, log_dir: Path
) -> ServerProcess:
    from loadbench.servers.base import ServerOptions

    options = ServerOptions(
        workers=block.server.workers, threads=block.server.threads, cpus=scenario.cpus.server,
        log_dir=log_dir, tls=block.server.tls, http2=block.server.http2,
    )
    return model.start(app, options)


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
    monitor = ProcessMonitor(server.pids)
    counters: list[InstructionCounter] = []  # hardware counters, only where the kernel allows them

    def start_window() -> None:
        monitor.start()
        counters.extend(c for c in [open_counter(server.pids())] if c)

    with _crowd_beside(trial, server, scenario) as crowd_run:
        identity = _identity(trial, model, scenario, started=started, attempt=attempt,
                             adapter=server.adapter)
        with _after_warmup(start_window, trial.warmup_s) as monitor_started:
            measured = _drive(trial, server, scenario, sink, abort_identity=identity)
        summary = monitor.stop() if monitor_started.is_set() else None
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


def _death(server: ServerProcess) -> Failure | None:
    """Why the trial's server is no longer running (None while it runs), with its log's last lines.

    A trial whose server died under load keeps what the engine measured (the requests answered before
    the death, the refused connections after it) but is a failed trial: status_ok false, left out of
    medians and verdicts, with the reason and the log tail beside it.
    """
    if server.alive():
        return None
    return {"reason": f"during the trial, {server.exit_description()}", "log_tail": server.log_tail()}


def _check_limits(plan: Plan) -> None:
    """Refuse a plan whose connections cannot fit, before any server starts (engine/crowd/limits.py)."""
    from loadbench.engine.crowd.limits import check_trials

    check_trials((t.crowd, t.load.connection_limit, f"trial {t.trial_id}") for t in plan.trials)


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


def _profiler(plan: Plan, run_dir: Path, sink: RunEvents, warnings: list[str]) -> ProfileSession | None:
    """The run's ProfileSession when the scenario asks for profiles; one warning when py-spy cannot run."""
    if plan.scenario.profile == "off":
        return None
    from loadbench.profile import ProfileSession

    session = ProfileSession(run_dir=run_dir, cpus=plan.scenario.cpus.client)
    if session.off_reason:
        warnings.append(f"profiling is off for this run: {session.off_reason}")
        sink.warning(warnings[-1])
    return session


def _profile(trial: Trial, server: ServerProcess | None, model: ServerModel, out: _Sink) -> None:
    """Run `trial` once more under py-spy (or record why not) and append its profile line."""
    from loadbench.profile import DriveFacts

    assert out.profiler is not None
    running = server is not None and server.alive()
    reason = model.unprofiled_reason or (None if running else "the server was not running after its trials")

    def drive() -> DriveFacts:
        assert server is not None
        out.events.trial_started(trial)
        recordings = list(_drive(trial, server, out.scenario, out.events).recordings.values())
        return DriveFacts(requests=sum(r.requests for r in recordings),
                          rps=sum(r.rps for r in recordings), processes=len(server.pids()))  # fmt: skip

    record, warning = out.profiler.profile(_identity(trial, model, out.scenario),
                                           server.pid if server is not None else -1,
                                           unprofiled_reason=reason, drive=drive)  # fmt: skip
    out.writer.append_profile(record)
    if warning:
        out.events.warning(warning)
    out.events.profiled(trial, record)


def _drive(trial: Trial, server: ServerProcess, scenario: Scenario, sink: RunEvents, *,
           abort_identity: TrialIdentity | None = None) -> BackendResult:  # fmt: skip
    """Drive `trial`'s load at `server` with the scenario's engine backend, pinned to the client CPUs.

    With run --abort-on-fail (scenario.load.abort_delay_s) and an `abort_identity`, the scenario's
    thresholds are checked every second on the figures so far and a failure ends the trial (aborted)."""
    from loadbench.engine import run_backend
    from loadbench.types import DriveOptions, Target

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

    options = DriveOptions(
        duration_s=trial.duration_s, warmup_s=trial.warmup_s, timeout_s=trial.timeout_s,
        cpus=scenario.cpus.client, cacert=str(server.tls.ca) if server.tls is not None else None,
        pipeline=scenario.load.pipeline, live_figures=bool(watching),
    )  # the run trusts its own throwaway CA: no --insecure
    target = Target(scheme="https" if server.tls is not None else "http", host="127.0.0.1", port=server.port)
    return run_backend(
        scenario.engine, target, trial.workload.requests, trial.load, options,
        workload=trial.workload.name, settings=engine_settings(scenario, server),
        on_tick=tick,
    )  # fmt: skip


def _preflight(block: Block, scenario: Scenario, server: ServerProcess) -> list[str]:
    """One request per distinct endpoint of the block, checked (loadbench.engine.preflight); [] when off."""
    if not scenario.load.preflight or not scenario.endpoints:
        return []
    from loadbench.engine.preflight import preflight
    from loadbench.types import DriveOptions, Target

    requests = list(dict.fromkeys(r for trial in block.trials for r in trial.workload.requests))
    options = DriveOptions(timeout_s=scenario.load.timeout_s,
                           cacert=str(server.tls.ca) if server.tls is not None else None)  # fmt: skip
    target = Target(scheme="https" if server.tls is not None else "http", host="127.0.0.1", port=server.port)
    return preflight(target, requests, options, bundled=block.app.kind == "bundled")


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
    attempt: int = 1, adapter: str | None = None,
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
    )  # fmt: skip


def _failed(trial: Trial, model: ServerModel, scenario: Scenario, reason: str, log_tail: str) -> TrialResult:
    return failed_trial(_identity(trial, model, scenario), reason=reason, log_tail=log_tail,
                        backend=scenario.engine)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name)
