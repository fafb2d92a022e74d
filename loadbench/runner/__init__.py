"""The orchestration loop of `loadbench run`: server blocks, trials, monitor, results appended per trial.

For each block of the plan a fresh server starts (pinned to the scenario's server CPUs); each of the
block's trials warms up and drives it (the engine pinned to the client CPUs) while the monitor samples the
server tree; every trial's result is appended to results.jsonl and flushed before the next one starts.
A server that fails to start or dies is recorded as failed trials with its own log, and the run goes on
(an adaptive run then starts that server no more: runner/adaptive.py).
Ctrl-C (KeyboardInterrupt) stops the server, keeps the results so far, and ends the run as interrupted.
With profiling on, chosen trials run once more under py-spy after their block (profiling.py).

The runner never prints: it reports through a RunEvents sink (the CLI's progress bar, or nothing).

This module holds the run and its block and round loop; its parts each do one job:

    events.py     RunEvents, QuietEvents, RunOutcome: what the runner tells its caller and returns
    pool.py       _ServerPool: servers a paired or adaptive run keeps from one block to the next
    adaptive.py   an adaptive run's rounds: each load point repeated until its claim is decided
    trial.py      one trial measured on a running server (monitor, counters, crowd, drive, abort)
    profiling.py  the run's ProfileSession and a trial rerun under py-spy
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from loadbench.errors import ServerStartError, ServerUnavailableError, UsageError
from loadbench.runner.adaptive import run_adaptive
from loadbench.runner.events import QuietEvents, RunEvents, RunOutcome
from loadbench.runner.pool import _ServerPool
from loadbench.runner.profiling import _profile, _profiler
from loadbench.runner.trial import _failed, _measure, engine_settings, server_target

if TYPE_CHECKING:
    from loadbench.plan import Block, Plan, Trial
    from loadbench.profile import ProfileSession
    from loadbench.results.claims import ClaimRecord
    from loadbench.results.file import ResultsWriter
    from loadbench.results.records import TrialResult
    from loadbench.scenario import Scenario
    from loadbench.servers.base import AppSpec, ServerModel
    from loadbench.servers.process import ServerProcess

__all__ = ["QuietEvents", "RunEvents", "RunOutcome", "engine_settings", "run_plan", "unavailable_models"]


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

    started_s = time.monotonic()  # an adaptive run's budget counts from here, server starts included
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
    _check_unix_sockets(blocks)
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
    adaptive = scenario.load.adaptive is not None
    profiler = _profiler(plan, run_dir, sink, warnings)
    pool = _ServerPool(keep=paired or adaptive, all_entries=adaptive)
    with ResultsWriter(results_path, header) as writer, pool:
        progress = _Sink(writer=writer, events=sink, scenario=scenario, pool=pool, run_dir=run_dir,
                         profiler=profiler, profile_plan=profile_trials(plan, scenario.profile))
        sink.started(plan, results_path, sorted(missing))
        try:
            if adaptive:
                servers = [server for server in scenario.servers if server.name not in missing]
                run_adaptive(scenario, servers, run_block=lambda block: _run_block(block, progress),
                             write_claim=progress.claim, clock=time.monotonic, started_s=started_s,
                             start_failures=progress.start_failures)  # fmt: skip
            else:
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
    start_failures: dict[str, str] = field(default_factory=dict)  # server name -> why it did not start

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

    def claim(self, claim: ClaimRecord) -> None:
        """Write an adaptive run's claim line, stamped like the trials (run id, scenario sha256)."""
        header = self.writer.header
        self.writer.append_claim(replace(claim, run_id=header.run_id,
                                         scenario_sha256=header.scenario.get("sha256")))  # fmt: skip


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
    def fail(trial: Trial, message: str, log_tail: str, unix_socket: Path | None = None) -> None:
        results.append(out.record(trial, _failed(trial, model, scenario, message, log_tail, unix_socket)))

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
                    out.start_failures[block.server.name] = str(exc)  # an adaptive run starts it no more
                    if start_attempts >= 2:
                        start_failure = exc
                    fail(trial, str(exc), exc.log_tail)
                    continue
                except UsageError as exc:  # e.g. an ASGI app under a WSGI-only model: no retry helps
                    start_failure = ServerStartError(str(exc))
                    out.start_failures[block.server.name] = str(exc)
                    fail(trial, str(exc), "")
                    continue
                problems = _preflight(block, scenario, server)
                if problems:  # wrong answers: no trial of this block is measured, the run goes on
                    reason = "preflight failed before any load: " + "; ".join(problems)
                    log_tail = server.log_tail()
                    start_failure = ServerStartError(reason)
                    out.start_failures[block.server.name] = reason
                    server.stop()
                    fail(trial, reason, log_tail, server.unix_socket)
                    server = None
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
    from loadbench.servers.base import PRIVATE_SOCKET, ServerOptions

    options = ServerOptions(
        workers=block.server.workers, threads=block.server.threads, cpus=scenario.cpus.server,
        log_dir=log_dir, tls=block.server.tls, http2=block.server.http2,
        unix_socket=PRIVATE_SOCKET if block.server.unix_socket else None,  # in a private dir, gone at stop
    )
    return model.start(app, options)



def _check_unix_sockets(blocks: list[Block]) -> None:
    """UsageError, before any server starts, when a `unix_socket = true` server cannot listen on one."""
    from loadbench.servers.registry import check_unix_socket_support, get_model
    from loadbench.servers.unixsock import check_private_room

    on_sockets = {b.server.name: b.server.model for b in blocks if b.server.unix_socket}
    for name, model in on_sockets.items():
        try:
            check_unix_socket_support(get_model(model))
        except UsageError as exc:
            raise UsageError(f"[[servers]] {name}: unix_socket = true: {exc}") from None
    if on_sockets:  # once per run, not per block: TMPDIR is the same for every server
        check_private_room(model_names=on_sockets.values())


def _check_limits(plan: Plan) -> None:
    """Refuse a plan whose connections cannot fit, before any server starts (engine/crowd/limits.py)."""
    from loadbench.engine.crowd.limits import check_trials

    check_trials((t.crowd, t.load.connection_limit, f"trial {t.trial_id}") for t in plan.trials)



def _preflight(block: Block, scenario: Scenario, server: ServerProcess) -> list[str]:
    """One request per distinct endpoint of the block, checked (loadbench.engine.preflight); [] when off."""
    if not scenario.load.preflight or not scenario.endpoints:
        return []
    from loadbench.engine.preflight import preflight
    from loadbench.types import DriveOptions

    requests = list(dict.fromkeys(r for trial in block.trials for r in trial.workload.requests))
    target, unix_socket = server_target(server)
    options = DriveOptions(timeout_s=scenario.load.timeout_s, unix_socket=unix_socket,
                           cacert=str(server.tls.ca) if server.tls is not None else None)  # fmt: skip
    return preflight(target, requests, options, bundled=block.app.kind == "bundled")



def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name)
