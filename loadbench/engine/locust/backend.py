"""The `locust` backend: Locust run as subprocesses under the guard, read back as loadbench Recordings.

loadbench never imports locust or gevent (importing locust monkey-patches the whole process): it runs
`python -m locust --headless` (alone, or a master plus N local workers), each process under its own guard
(launch/spawn.py), so none outlives loadbench, even after kill -9. The harness plugin (package data,
`_loadbench_harness.py`) measures one window, from all users spawned + warm-up, and writes one JSON that
convert.py turns into a Recording per request name plus the `journey`.

Settings (a scenario's [locust] table, or bench's --locustfile / --locust-* options):
  file             the locustfile (absolute path); without it one is generated from the requests
  spawn_rate       users started per second (default: all users within about a second)
  workers          0: one process; N: a master and N local workers
  remote_workers   workers started by hand on other machines that the master waits for too
  workers_timeout  seconds to wait for the N workers to connect (default 30)
  bind             the master's bind address (default 127.0.0.1; other machines' workers need another)
  master_port      the master's port (default: a free one)
"""

from __future__ import annotations

import importlib.util
import re
import socket
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadbench.engine.backend import BackendResult, TickSink
from loadbench.errors import EngineError, UsageError

if TYPE_CHECKING:
    from loadbench.engine.locust.command import LocustRun
    from loadbench.launch.spawn import GuardedProcess
    from loadbench.types import DriveOptions, Load, RequestSpec, Target

__all__ = ["SETTINGS", "LocustBackend"]

SETTINGS = ("file", "spawn_rate", "workers", "remote_workers", "workers_timeout", "bind", "master_port")
INSTALL_HINT = "Locust is not installed; pip install 'loadbench[locust]'"
_STARTUP_S = 15.0  # Locust's import and start-up, and the end of the run (final reports, writing the JSON)
_CONNECTED = re.compile(r"(\d+) workers? connected|(\d+) of \d+ connected")


class LocustBackend:
    """Locust (FastHttpUser or your own locustfile) through loadbench: closed loop users, journeys,
    master/workers."""

    name = "locust"
    description = "Locust as a subprocess: user journeys from a locustfile, local master/workers; closed loop"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise UsageError(f"unknown Locust setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
        self.file: str | None = _opt_str(settings, "file")
        self.spawn_rate: float | None = _opt_number(settings, "spawn_rate", minimum=0.001)
        self.workers = int(_opt_number(settings, "workers", minimum=0) or 0)
        self.remote_workers = int(_opt_number(settings, "remote_workers", minimum=0) or 0)
        self.workers_timeout_s = float(_opt_number(settings, "workers_timeout", minimum=0.1) or 30.0)
        self.bind = _opt_str(settings, "bind") or "127.0.0.1"
        self.master_port = int(_opt_number(settings, "master_port", minimum=1) or 0)

    def available(self) -> str | None:
        if importlib.util.find_spec("locust") is None:  # finds it without importing it
            return INSTALL_HINT
        return None

    def drive(
        self, target: Target, requests: Sequence[RequestSpec], load: Load, options: DriveOptions, *,
        workload: str, on_tick: TickSink | None = None,
    ) -> BackendResult:  # fmt: skip
        from loadbench.engine.locust.command import local_python
        from loadbench.engine.locust.convert import to_backend_result
        from loadbench.engine.locust.readback import load_result

        users, window_from, duration_s = _users_of(load, options)
        with tempfile.TemporaryDirectory(prefix="loadbench-locust-") as tmp:
            run_dir = Path(tmp)
            files = self._files(run_dir, requests, load, options)
            spawn_rate = self.spawn_rate or float(max(users, 1))
            run = _make_run(
                files=files, host=target.base_url, users=users, spawn_rate=spawn_rate,
                out_json=str(run_dir / "result.json"), duration_s=duration_s, warmup_s=options.warmup_s,
                workers=self.workers, remote_workers=self.remote_workers, master_port=self.master_port or _free_port(self.bind),  # noqa: E501
                bind_host=self.bind, workers_timeout_s=self.workers_timeout_s, python=local_python(),
                window_from=window_from,
                hard_timeout_s=(self.workers_timeout_s + users / spawn_rate + options.warmup_s + duration_s
                                + 30),
            )  # fmt: skip
            self._run_processes(run, run_dir, options, on_tick)
            result_path = Path(run.out_json)
            try:
                result = load_result(result_path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise EngineError(f"Locust's measurement could not be read: {exc}") from None
        extras: dict[str, Any] = {"locustfile": self.file or "(generated: FastHttpUser, no wait)"}
        return to_backend_result(result, load=load, cpus=options.cpus, extras=extras)

    def _files(self, run_dir: Path, requests: Sequence[RequestSpec], load: Load,
               options: DriveOptions) -> tuple[str, ...]:  # fmt: skip
        from loadbench.engine.locust.command import stages_shape_source
        from loadbench.engine.locust.generate import generate_locustfile
        from loadbench.types import Stages

        files: list[str] = []
        if self.file is not None:
            if not Path(self.file).is_file():
                raise UsageError(f"locustfile {self.file}: no such file")
            files.append(self.file)
        else:
            generated = run_dir / "loadbench_locustfile.py"
            try:
                text = generate_locustfile(requests, timeout_s=options.timeout_s, keepalive=options.keepalive)
            except ValueError as exc:
                raise UsageError(f"cannot send these requests with Locust: {exc}") from None
            generated.write_text(text, encoding="utf-8")
            files.append(str(generated))
        if isinstance(load, Stages):
            shape = run_dir / "loadbench_shape.py"
            stages = [(s.duration_s, s.target) for s in load.stages]
            shape.write_text(stages_shape_source(stages, options.warmup_s, self.spawn_rate or 1000.0))
            files.append(str(shape))
        return tuple(files)

    def _run_processes(self, run: LocustRun, run_dir: Path, options: DriveOptions,
                       on_tick: TickSink | None) -> None:  # fmt: skip
        """Start master (or the one process) and workers under guards; wait for the run to end on its own,
        bounded; stop every process whatever happens; raise EngineError on Locust's own failures."""
        from loadbench.engine.locust.command import commands, harness_env
        from loadbench.launch.spawn import spawn_guarded

        env = harness_env(run)
        procs: list[GuardedProcess] = []
        started = time.monotonic()
        spawn_s = run.users / run.spawn_rate
        budget = run.workers_timeout_s + spawn_s + run.warmup_s + run.duration_s + _STARTUP_S
        try:
            for index, argv in enumerate(commands(run)):
                role = "master" if index == 0 else f"worker-{index}"
                proc = spawn_guarded(argv, log_path=run_dir / f"{role}.log", deadline=started + 10,
                                     cpus=options.cpus, env=env, cwd=run_dir)  # fmt: skip
                procs.append(proc)
                if proc.pid < 0:
                    raise EngineError(f"could not start Locust ({' '.join(argv[:3])}): {proc.log_tail(5)}")
            driver = procs[0]
            code = _wait(driver, started + budget, started, run, on_tick)
        finally:
            for proc in reversed(procs):
                proc.stop(grace_s=3.0)
        if code is None:
            tail = driver.log_tail(10)
            raise EngineError(f"Locust did not finish within {budget:.0f} s; last lines:\n{tail}")
        if code != 0 or not Path(run.out_json).exists():
            raise EngineError(_failure_message(code, procs, run))


def _wait(driver: GuardedProcess, deadline: float, started: float, run: LocustRun,
          on_tick: TickSink | None) -> int | None:  # fmt: skip
    from loadbench.results.metrics import TickInfo

    while True:
        code = driver.wait(min(1.0, max(0.0, deadline - time.monotonic())))
        if code is not None or time.monotonic() >= deadline:
            return code
        if on_tick is not None:
            elapsed = time.monotonic() - started
            on_tick(TickInfo(phase="measure" if elapsed > run.warmup_s else "warmup", elapsed_s=elapsed,
                             duration_s=run.duration_s, requests=0, rps=0.0, errors=0))  # fmt: skip


def _failure_message(code: int | None, procs: list[GuardedProcess], run: LocustRun) -> str:
    """Why Locust failed, in words a user can act on: the locustfile's file:line, the workers that did not
    come, or Locust's last lines."""
    from loadbench.engine.locust.readback import locustfile_problem

    driver = procs[0]
    log = driver.log_tail(400)
    user_file = next((f for f in run.files if not Path(f).name.startswith("loadbench_")), run.files[0])
    problem = locustfile_problem(log, user_file)
    expected = run.workers + run.remote_workers
    if problem is None and len(procs) > 1:
        for worker in procs[1:]:
            problem = locustfile_problem(worker.log_tail(400), user_file)
            if problem is not None:
                break
    if problem is not None:
        return f"the locustfile cannot be used: {problem}"
    if "Gave up waiting for workers" in log:
        counts = [int(a or b) for a, b in _CONNECTED.findall(log)]
        came = counts[-1] if counts else 0
        return (f"only {came} of {expected} Locust workers connected within {run.workers_timeout_s:g} s "
                f"(--workers-timeout); workers connect to {run.bind_host}:{run.master_port}")  # fmt: skip
    last = "\n".join(line for line in driver.log_tail(10).splitlines() if line.strip())
    return f"Locust exited with code {code} and wrote no measurement; its last lines:\n{last}"


def _users_of(load: Load, options: DriveOptions) -> tuple[int, str, float]:
    """(users, harness window start, measured seconds) for a load, or a one-line UsageError."""
    from loadbench.types import Closed, Stages

    if isinstance(load, Stages) and load.kind == "connections":
        return max(1, round(max(s.target for s in load.stages))), "start", load.duration_s
    if not isinstance(load, Closed):
        raise UsageError("Locust has no open loop: -r and rate stages cannot run with --engine locust; use "
                         "-c N users or connection stages (10s:64c)")  # fmt: skip
    if options.duration_s is None:
        raise UsageError("--engine locust runs for a duration; give -d instead of -n")
    return load.connections, "spawned", options.duration_s


def _make_run(**kwargs: Any) -> LocustRun:
    from loadbench.engine.locust.command import LocustRun

    return LocustRun(**kwargs)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host if host not in ("", "*") else "0.0.0.0", 0))
        port: int = sock.getsockname()[1]
        return port


def _opt_str(settings: Mapping[str, Any], key: str) -> str | None:
    value = settings.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise UsageError(f"Locust setting {key}: {value!r} must be a non-empty string")
    return value


def _opt_number(settings: Mapping[str, Any], key: str, *, minimum: float) -> float | None:
    value = settings.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise UsageError(f"Locust setting {key}: {value!r} must be a number of at least {minimum:g}")
    return float(value)
