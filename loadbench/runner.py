"""The orchestration loop of `loadbench run`: server blocks, trials, monitor, results appended per trial.

For each block of the plan a fresh server starts (pinned to the scenario's server CPUs); each of the
block's trials warms up and drives it (the engine pinned to the client CPUs) while the monitor samples the
server tree; every trial's result is appended to results.jsonl and flushed before the next one starts.
A server that fails to start or dies is recorded as failed trials with its own log, and the run goes on.
Ctrl-C (KeyboardInterrupt) stops the server, keeps the results so far, and ends the run as interrupted.

The runner never prints: it reports through a RunEvents sink (the CLI's progress bar, or nothing).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from loadbench.errors import ServerStartError, ServerUnavailableError, UsageError
from loadbench.results.build import failed_trial

if TYPE_CHECKING:
    from loadbench.plan import Block, Plan, Trial
    from loadbench.results.build import TrialIdentity
    from loadbench.results.file import ResultsWriter
    from loadbench.results.metrics import TickInfo
    from loadbench.results.records import TrialResult
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
    from loadbench.results.env import collect_env, measure_python_startup_ms
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

    results_path = run_dir / "results.jsonl"
    env = collect_env(server_cpus=scenario.cpus.server, client_cpus=scenario.cpus.client)
    if any(get_model(block.server.model).family == Family.PROCESS_PER_REQUEST for block in blocks):
        # What a CGI request pays before the app runs, measured here and now, for the report to set beside
        # its latency (analysis/explain.py, family_notes).
        env["python_startup_ms"] = measure_python_startup_ms()
    header = make_header(
        scenario_name=scenario.name, scenario_path=scenario.path or None, scenario_text=scenario.text,
        thresholds=scenario.thresholds, quick=scenario.quick, overrides=scenario.overrides, env=env,
    )
    interrupted = False
    paired = bool(scenario.variants)
    with ResultsWriter(results_path, header) as writer, _ServerPool(keep=paired) as pool:
        progress = _Sink(writer=writer, events=sink, scenario=scenario, pool=pool, run_dir=run_dir)
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
    written: int = 0
    failed: int = 0

    def record(self, trial: Trial, result: TrialResult) -> TrialResult:
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
        key = (block.server.name, first.workload.name, first.load.label, first.round)
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
        f"{first.load.label}; running that round once more"
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
    from loadbench.engine import run_backend
    from loadbench.monitor import ProcessMonitor
    from loadbench.results.build import measured_trial
    from loadbench.types import DriveOptions, Target

    started = datetime.now(UTC)
    options = DriveOptions(
        duration_s=trial.duration_s, warmup_s=trial.warmup_s, timeout_s=trial.timeout_s,
        cpus=scenario.cpus.client, cacert=str(server.tls.ca) if server.tls is not None else None,
    )  # the run trusts its own throwaway CA: no --insecure
    target = Target(scheme="https" if server.tls is not None else "http", host="127.0.0.1", port=server.port)
    monitor = ProcessMonitor(server.pids)
    with _after_warmup(monitor.start, trial.warmup_s) as monitor_started:
        measured = run_backend(
            scenario.engine, target, trial.workload.requests, trial.load, options,
            workload=trial.workload.name, settings=engine_settings(scenario, server),
            on_tick=lambda info: sink.tick(trial, info),
        )  # fmt: skip
    summary = monitor.stop() if monitor_started.is_set() else None
    identity = _identity(trial, model, scenario, started=started, attempt=attempt, adapter=server.adapter)
    if not server.alive():
        reason = f"{model.name} died during the trial (exit code {server.returncode})"
        return [failed_trial(identity, reason=reason, log_tail=server.log_tail(), backend=scenario.engine)]
    several = len(measured.recordings) > 1
    return [
        measured_trial(identity.for_workload(workload, workload if several else ""), recording,
                       monitor=summary, backend_extras=measured.extras)
        for workload, recording in measured.recordings.items()
    ]  # fmt: skip


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
        cpus={"server": scenario.cpus.server, "client": scenario.cpus.client},
    )  # fmt: skip


def _failed(trial: Trial, model: ServerModel, scenario: Scenario, reason: str, log_tail: str) -> TrialResult:
    return failed_trial(_identity(trial, model, scenario), reason=reason, log_tail=log_tail,
                        backend=scenario.engine)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name)
