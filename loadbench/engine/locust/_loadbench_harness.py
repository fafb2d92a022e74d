"""Locust plugin file: measure one fixed window of a Locust run and write loadbench's JSON.

Package data of loadbench, never imported by loadbench itself: the locust subprocess loads it by path
next to the user's locustfile (`locust -f .../_loadbench_harness.py,user.py`); its odd name keeps it from
clashing with a user's module. It is inert unless LOADBENCH_OUT is set.
Only stdlib + locust + gevent are imported,
because this file runs inside the gevent-monkey-patched locust process, never in loadbench.

Settings (environment variables, read on the master / local process):
  LOADBENCH_OUT         path of the JSON result to write (atomically).
  LOADBENCH_WARMUP_S    seconds after every user spawned before the window opens (default 0).
  LOADBENCH_DURATION_S  seconds of measured window; then the run is stopped (default 5).
  LOADBENCH_USERS       users asked for (default: Locust's -u).
  LOADBENCH_END_GRACE_S how long the master waits for workers' final reports (default 5).
  LOADBENCH_WINDOW_FROM "spawned" (default: warm-up starts once every user has spawned) or "start"
                        (from the test start: a load shape that walks connection stages itself).

The JSON records each window boundary as time.monotonic() of the process that applied it
(master and every worker). On Linux that is CLOCK_MONOTONIC, shared by all processes of
one machine, so a local server can count the requests it received inside the window.

Window protocol (distributed mode). Workers send their stats as *deltas* every
WORKER_REPORT_INTERVAL (3 s) and reset locally after each report, so resetting only the
master would let a delta sent before the reset (but received after it) leak pre-window
requests into the window. Hence an epoch: at window start the master bumps its epoch,
resets, and sends "loadbench_reset" to workers; each worker resets and adopts the epoch;
every worker report carries its epoch and reports of an old epoch are emptied on the
master *before* Locust's own merge listener sees them (ours is registered at import time,
Locust's when the runner is created, and listeners run in registration order).
At window end the master sends "loadbench_end"; each worker immediately sends a last
("final") report with its delta, its CPU seconds and CPU warning flag; later reports are
dropped. So each worker's window is [receipt of reset, receipt of end], which differs from
the master's by one message latency (sub-millisecond on 127.0.0.1).
"""

from __future__ import annotations

import errno
import json
import math
import os
import resource
import socket
import tempfile
import time
from collections import Counter
from typing import Any

import gevent
import locust
from locust import events
from locust.env import Environment
from locust.exception import CatchResponseError
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

MAX_ERROR_MESSAGES = 50
MAX_MESSAGE_CHARS = 300
SCHEMA_VERSION = 1

# Phases a worker report can carry (see module docstring).
PHASE_OPEN = "open"
PHASE_FINAL = "final"
PHASE_AFTER = "after"


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return default if raw in (None, "") else float(raw)


def _cpu_seconds() -> float:
    """User+system CPU of this process (each locust process measures itself)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------- error classes


def _exception_chain(exc: BaseException, limit: int = 12) -> list[BaseException]:
    """The exception plus what it wraps (cause, context, .reason, exception args).

    requests/urllib3 wrap the socket error several levels deep (ConnectionError(MaxRetryError(
    reason=NewConnectionError from ConnectionRefusedError))), so look at all of them.
    """
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < limit:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        # .reason: urllib3 MaxRetryError; .original: geventhttpclient RetriesExceeded.
        linked = [
            current.__cause__,
            current.__context__,
            getattr(current, "reason", None),
            getattr(current, "original", None),
        ]
        linked += [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
        todo += [x for x in linked if isinstance(x, BaseException)]
    return seen


def _class_names(chain: list[BaseException]) -> set[str]:
    # Matched by name so this file needs neither requests nor geventhttpclient imported.
    return {cls.__name__ for e in chain for cls in type(e).__mro__}


def _errnos(chain: list[BaseException]) -> set[int]:
    return {e.errno for e in chain if isinstance(e, OSError) and isinstance(e.errno, int)}


def _raised_while_connecting(chain: list[BaseException]) -> bool:
    """True if any exception in the chain was raised inside a connect-phase function."""
    connect_funcs = {"create_connection", "_create_socket", "_new_conn", "connect", "_connect_socket"}
    for e in chain:
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_name in connect_funcs:
                return True
            tb = tb.tb_next
    return False


def classify_error(exc: BaseException | str | None, status_code: int) -> str | None:
    """loadbench error class of a failed request, or None if it is only an HTTP status.

    status_code is 0 when no HTTP response was received (FastHttpUser's ErrorResponse).
    """
    if exc is None:
        return None
    if isinstance(exc, (str, CatchResponseError)):
        return "check_failed"  # response.failure("...") in a catch_response block
    chain = _exception_chain(exc)
    names, codes = _class_names(chain), _errnos(chain)
    if "ConnectionRefusedError" in names or errno.ECONNREFUSED in codes:
        return "connect_refused"
    if (
        names & {"TimeoutError", "timeout", "Timeout", "ConnectTimeout", "ReadTimeout"}
        or errno.ETIMEDOUT in codes
    ):
        if "ConnectTimeout" in names or _raised_while_connecting(chain):
            return "connect_timeout"
        return "timeout"
    reset_names = {
        "ConnectionResetError",
        "BrokenPipeError",
        "ConnectionAbortedError",
        "HTTPConnectionClosed",
    }
    if names & (reset_names | {"RemoteDisconnected"}) or codes & {errno.ECONNRESET, errno.EPIPE}:
        return "reset"
    if status_code > 0 and names & {"LocustBadStatusCode", "HTTPError"}:
        return None  # HTTP error status: a real response, counted in status codes only
    return "protocol"


# ---------------------------------------------------------------- per-process recorder


class Recorder:
    """Status codes and error classes seen by this process since the last reset/report."""

    def __init__(self) -> None:
        self.status: dict[tuple[str, str], Counter[int]] = {}
        self.error_classes: dict[tuple[str, str], Counter[str]] = {}
        self.messages: Counter[tuple[str, str, str, str]] = Counter()
        self.messages_dropped = 0
        self.frozen = False  # set when the window closes (local mode keeps running users)

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def add_message(self, key: tuple[str, str, str, str], count: int) -> None:
        if key in self.messages or len(self.messages) < MAX_ERROR_MESSAGES:
            self.messages[key] += count
        else:
            self.messages_dropped += count

    def record(self, method: str, name: str, status_code: int, exc: BaseException | str | None) -> None:
        if self.frozen:
            return
        error_class = classify_error(exc, status_code)
        if error_class is None:  # a response (of any status) that counts as one
            self.status.setdefault((method, name), Counter())[status_code] += 1
            return
        self.error_classes.setdefault((method, name), Counter())[error_class] += 1
        self.add_message((error_class, method, name, str(exc)[:MAX_MESSAGE_CHARS]), 1)

    def to_wire(self) -> dict[str, Any]:
        """Msgpack-safe form (lists, str keys) for worker -> master reports."""
        return {
            "status": [[m, n, {str(k): v for k, v in c.items()}] for (m, n), c in self.status.items()],
            "error_classes": [[m, n, dict(c)] for (m, n), c in self.error_classes.items()],
            "messages": [[*k, v] for k, v in self.messages.items()],
            "messages_dropped": self.messages_dropped,
        }

    def merge_wire(self, wire: dict[str, Any]) -> None:
        for method, name, counts in wire["status"]:
            self.status.setdefault((method, name), Counter()).update({int(k): v for k, v in counts.items()})
        for method, name, counts in wire["error_classes"]:
            self.error_classes.setdefault((method, name), Counter()).update(counts)
        for cls, method, name, message, count in wire["messages"]:
            self.add_message((cls, method, name, message), count)
        self.messages_dropped += wire["messages_dropped"]


# ---------------------------------------------------------------- window state


class Window:
    """Everything the master (or local runner) tracks about the measured window."""

    def __init__(self) -> None:
        self.out_path = os.environ.get("LOADBENCH_OUT", "")
        self.warmup_s = _env_float("LOADBENCH_WARMUP_S", 0.0)
        self.duration_s = _env_float("LOADBENCH_DURATION_S", 5.0)
        self.end_grace_s = _env_float("LOADBENCH_END_GRACE_S", 5.0)
        self.users_asked_env = os.environ.get("LOADBENCH_USERS", "")
        self.epoch = 0
        self.state = "waiting"  # waiting -> open -> closing -> closed
        self.started = False
        self.t_start = 0.0
        self.t_end = 0.0
        self.cpu_start = 0.0
        self.cpu_master_s = 0.0
        self.worker_cpu: dict[str, float] = {}
        self.worker_cpu_warning: dict[str, bool] = {}
        self.finals_pending: set[str] = set()
        self.users_asked = 0
        self.users_running_at_start = 0
        self.workers_at_start = 0
        self.timeline: list[dict[str, Any]] = []
        self.worker_windows: dict[str, list[float]] = {}  # client_id -> [start, end] monotonic
        self.written = False
        self.truncated = False
        self.frozen: dict[str, Any] | None = None
        self.untagged_reports = 0


RECORDER = Recorder()
WINDOW = Window()
# Worker-side window bookkeeping (a worker only needs its epoch, phase and CPU start).
WORKER_STATE: dict[str, Any] = {"epoch": 0, "phase": PHASE_OPEN, "cpu_start": 0.0}


def _active() -> bool:
    return bool(os.environ.get("LOADBENCH_OUT"))


# ---------------------------------------------------------------- listeners (every process)


@events.request.add_listener
def _on_request(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    exception: BaseException | str | None = None,
    response: Any = None,
    **_kw: Any,
) -> None:
    status = getattr(response, "status_code", 0) or 0
    RECORDER.record(request_type, name, int(status), exception)


@events.report_to_master.add_listener
def _on_report_to_master(client_id: str, data: dict[str, Any]) -> None:
    """Worker: attach our delta (and the epoch/phase tag) to Locust's periodic report."""
    data["loadbench"] = {"epoch": WORKER_STATE["epoch"], "phase": WORKER_STATE["phase"], **RECORDER.to_wire()}
    RECORDER.reset()


@events.worker_report.add_listener
def _on_worker_report(client_id: str, data: dict[str, Any]) -> None:
    """Master: runs before Locust's merge listener; empties reports outside the window."""
    if not _active():
        return
    tag: dict[str, Any] | None = data.get("loadbench")
    if tag is None:
        WINDOW.untagged_reports += 1  # a worker without the harness: cannot be windowed
    if tag is None or not _accept(tag):
        _empty_stats_report(data)
        return
    RECORDER.merge_wire(tag)
    if tag["phase"] == PHASE_FINAL:
        WINDOW.worker_cpu[client_id] = float(tag.get("cpu_s", 0.0))
        WINDOW.worker_cpu_warning[client_id] = bool(tag.get("cpu_warning", False))
        WINDOW.worker_windows[client_id] = [float(x) for x in tag.get("window", [0.0, 0.0])]
        WINDOW.finals_pending.discard(client_id)


def _accept(tag: dict[str, Any]) -> bool:
    """A worker report belongs to the window if it has the current epoch and was sent
    before that worker's final report, and the master has not closed the window yet."""
    return (
        tag.get("epoch") == WINDOW.epoch
        and tag.get("phase") in (PHASE_OPEN, PHASE_FINAL)
        and WINDOW.state in ("waiting", "open", "closing")
    )


def _empty_stats_report(data: dict[str, Any]) -> None:
    from locust.stats import RequestStats, StatsEntry

    data["stats"] = []
    data["errors"] = {}
    data["stats_total"] = StatsEntry(RequestStats(), "Aggregated", "").serialize()


@events.init.add_listener
def _on_init(environment: Environment, **_kw: Any) -> None:
    if not _active():
        return
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message("loadbench_reset", _worker_on_reset)
        runner.register_message("loadbench_end", _worker_on_end)
    elif isinstance(runner, (MasterRunner, LocalRunner)):
        if os.environ.get("LOADBENCH_WINDOW_FROM", "spawned") == "start":
            environment.events.test_start.add_listener(lambda **kw: _on_spawned(environment))
        else:
            environment.events.spawning_complete.add_listener(lambda user_count: _on_spawned(environment))
        environment.events.quitting.add_listener(lambda environment, **kw: _on_quitting(environment))


# ---------------------------------------------------------------- worker side


def _worker_on_reset(environment: Environment, msg: Any, **_kw: Any) -> None:
    """Worker: drop everything not yet reported, adopt the master's epoch, start CPU clock."""
    environment.stats.reset_all()
    RECORDER.reset()
    WORKER_STATE.update(
        epoch=msg.data["epoch"], phase=PHASE_OPEN, cpu_start=_cpu_seconds(), t_start=time.monotonic()
    )


def _worker_on_end(environment: Environment, msg: Any, **_kw: Any) -> None:
    """Worker: send the last in-window delta now instead of waiting for the 3 s reporter."""
    runner = environment.runner
    assert isinstance(runner, WorkerRunner)
    WORKER_STATE["phase"] = PHASE_FINAL
    data: dict[str, Any] = {}
    environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
    data["loadbench"]["cpu_s"] = _cpu_seconds() - WORKER_STATE["cpu_start"]
    data["loadbench"]["cpu_warning"] = runner.cpu_warning_emitted
    data["loadbench"]["window"] = [WORKER_STATE.get("t_start", 0.0), time.monotonic()]
    WORKER_STATE["phase"] = PHASE_AFTER
    runner.send_message("stats", data)


# ---------------------------------------------------------------- master / local side


def _on_spawned(environment: Environment) -> None:
    # spawning_complete can fire again (e.g. rebalancing); only the first one opens the window.
    if WINDOW.state == "waiting" and not WINDOW.started:
        WINDOW.started = True
        gevent.spawn(_run_window, environment)


def _run_window(environment: Environment) -> None:
    """Greenlet: warm-up, open window, per-second timeline, close, write JSON, quit."""
    gevent.sleep(WINDOW.warmup_s)
    _open_window(environment)
    last_second_start = _tick_timeline(environment)
    _close_window(environment, last_second_start)
    _write_result(environment)
    # quit() from a greenlet outside runner.greenlet, since quit() kills that group.
    gevent.spawn(environment.runner.quit)  # type: ignore[union-attr]


def _open_window(environment: Environment) -> None:
    runner = environment.runner
    assert runner is not None
    WINDOW.epoch += 1
    environment.stats.reset_all()
    RECORDER.reset()
    if isinstance(runner, MasterRunner):
        WINDOW.workers_at_start = runner.worker_count
        runner.send_message("loadbench_reset", {"epoch": WINDOW.epoch})
    WINDOW.users_asked = int(
        WINDOW.users_asked_env or getattr(environment.parsed_options, "num_users", None) or 0
    )
    WINDOW.users_running_at_start = runner.user_count
    WINDOW.cpu_start = _cpu_seconds()
    WINDOW.t_start = time.monotonic()
    WINDOW.state = "open"


# (num_requests, num_failures, response_times copy) of the total entry at one instant.
Snapshot = tuple[int, int, dict[int, int]]


def _snapshot(environment: Environment) -> Snapshot:
    total = environment.stats.total
    return total.num_requests, total.num_failures, dict(total.response_times)


def _percentile(dist: dict[int, int], q: float) -> float | None:
    """Nearest-rank percentile of a {rounded_ms: count} distribution."""
    n = sum(dist.values())
    if n <= 0:
        return None
    rank, seen = max(1, math.ceil(q * n)), 0
    for ms in sorted(dist):
        seen += dist[ms]
        if seen >= rank:
            return float(ms)
    return float(max(dist))


def _timeline_entry(second: int, before: Snapshot, after: Snapshot) -> dict[str, Any]:
    diff = {ms: c - before[2].get(ms, 0) for ms, c in after[2].items() if c - before[2].get(ms, 0) > 0}
    return {
        "second": second,
        "requests": after[0] - before[0],
        "failures": after[1] - before[1],
        "p50_ms": _percentile(diff, 0.50),
        "p99_ms": _percentile(diff, 0.99),
    }


def _tick_timeline(environment: Environment) -> Snapshot:
    """Per-second timeline by diffing snapshots of the master's total entry.

    In distributed mode the master only learns of requests when a worker reports (every
    ~3 s, WORKER_REPORT_INTERVAL), so the seconds are lumpy: most seconds show 0 and
    every third second shows ~3 s worth of requests. Locally it is exact.
    """
    previous: Snapshot = (0, 0, {})  # stats were reset when the window opened
    second = 0
    while True:
        second += 1
        target = WINDOW.t_start + min(second, WINDOW.duration_s)
        gevent.sleep(max(0.0, target - time.monotonic()))
        current = _snapshot(environment)
        WINDOW.timeline.append(_timeline_entry(second, previous, current))
        if second >= WINDOW.duration_s or WINDOW.state != "open":
            return previous  # start of the last second
        previous = current


def _close_window(environment: Environment, last_second_start: Snapshot | None) -> None:
    """End the window: local = freeze now; master = tell workers, then wait for finals."""
    runner = environment.runner
    WINDOW.t_end = time.monotonic()
    WINDOW.cpu_master_s = _cpu_seconds() - WINDOW.cpu_start
    WINDOW.state = "closing"
    if not isinstance(runner, MasterRunner):
        # Local: users keep running until quit; freeze the numbers at the window's end.
        _freeze(environment)
        WINDOW.state = "closed"
        return
    WINDOW.finals_pending = {c.id for c in runner.clients.all}
    runner.send_message("loadbench_end")  # each worker's window ends on receipt
    deadline = time.monotonic() + WINDOW.end_grace_s
    while WINDOW.finals_pending and time.monotonic() < deadline:
        gevent.sleep(0.02)
    # Requests the master only learned of from the final reports belong to the last
    # second: recompute it from the snapshot taken at that second's start.
    if WINDOW.timeline and last_second_start is not None:
        second = WINDOW.timeline[-1]["second"]
        WINDOW.timeline[-1] = _timeline_entry(second, last_second_start, _snapshot(environment))
    _freeze(environment)
    WINDOW.state = "closed"


def _freeze(environment: Environment) -> None:
    """Capture the window's request numbers now; later requests no longer count."""
    RECORDER.frozen = True
    WINDOW.frozen = _stats_part(environment)


# ---------------------------------------------------------------- result


def _entry_json(entry: Any, method: str, name: str) -> dict[str, Any]:
    key = (method, name)
    status = RECORDER.status.get(key, Counter()) if name != "Aggregated" else _sum_counters(RECORDER.status)
    classes = (
        RECORDER.error_classes.get(key, Counter())
        if name != "Aggregated"
        else _sum_counters(RECORDER.error_classes)
    )
    return {
        "name": name,
        "method": method,
        "num_requests": entry.num_requests,
        "num_failures": entry.num_failures,
        "num_none_requests": entry.num_none_requests,
        "response_times": {str(k): v for k, v in sorted(entry.response_times.items())},
        "total_response_time_ms": entry.total_response_time,
        "min_response_time_ms": entry.min_response_time,
        "max_response_time_ms": entry.max_response_time,
        "total_content_length": entry.total_content_length,
        "status_codes": {str(k): v for k, v in sorted(status.items())},
        "error_classes": dict(sorted(classes.items())),
    }


def _sum_counters(by_key: dict[Any, Counter[Any]]) -> Counter[Any]:
    total: Counter[Any] = Counter()
    for c in by_key.values():
        total.update(c)
    return total


def _stats_part(environment: Environment) -> dict[str, Any]:
    """Per-name stats, total and errors as they are right now."""
    stats = environment.stats
    return {
        "entries": [
            _entry_json(e, e.method, e.name)
            for e in stats.entries.values()
            if e.num_requests or e.num_failures
        ],
        "total": _entry_json(stats.total, "", "Aggregated"),
        "errors": {
            "by_class": dict(_sum_counters(RECORDER.error_classes)),
            "messages": [
                {"error_class": c, "method": m, "name": n, "message": msg, "count": k}
                for (c, m, n, msg), k in RECORDER.messages.most_common()
            ],
            "messages_dropped": RECORDER.messages_dropped,
        },
    }


def build_result(environment: Environment) -> dict[str, Any]:
    """The JSON document the master writes (schema parsed by readback.py)."""
    runner = environment.runner
    is_master = isinstance(runner, MasterRunner)
    measured = (WINDOW.t_end or time.monotonic()) - WINDOW.t_start if WINDOW.t_start else 0.0
    workers_cpu = sorted(WINDOW.worker_cpu.values())
    return {
        **(WINDOW.frozen or _stats_part(environment)),
        "schema": SCHEMA_VERSION,
        "complete": WINDOW.state == "closed" and not WINDOW.truncated,
        "locust_version": locust.__version__,
        "mode": "master" if is_master else "local",
        "workers": runner.worker_count if isinstance(runner, MasterRunner) else 0,
        "window": {
            "warmup_s": WINDOW.warmup_s,
            "duration_s_requested": WINDOW.duration_s,
            "measured_s": measured,
            "opened": WINDOW.t_start > 0,
            "workers_at_start": WINDOW.workers_at_start,
            "workers_missing_final": len(WINDOW.finals_pending),
            "untagged_worker_reports_dropped": WINDOW.untagged_reports,
        },
        "timeline": WINDOW.timeline,
        "cpu": {
            "master_s": WINDOW.cpu_master_s,
            "workers_s": workers_cpu,
            "total_s": WINDOW.cpu_master_s + sum(workers_cpu),
        },
        "saturation": {
            "cpu_warning": bool(runner.cpu_warning_emitted) if runner else False,
            "worker_cpu_warning": bool(getattr(runner, "worker_cpu_warning_emitted", False))
            or any(WINDOW.worker_cpu_warning.values()),
            "users_asked": WINDOW.users_asked,
            "users_running_at_start": WINDOW.users_running_at_start,
            # Locust checks CPU only every CPU_MONITOR_INTERVAL (10 s), so its warning rarely
            # fires in a short window; the busiest process's CPU share of the window is the
            # direct signal (near 1.0 = that locust process was the bottleneck).
            "max_process_cpu_fraction": max([WINDOW.cpu_master_s, *workers_cpu]) / measured
            if measured > 0
            else 0.0,
        },
        "clock": {
            # time.monotonic() of the window boundaries, as applied by each process.
            "master": [WINDOW.t_start, WINDOW.t_end],
            "workers": sorted(WINDOW.worker_windows.values()),
        },
        "host": socket.gethostname(),
    }


def _write_atomically(path: str, payload: dict[str, Any]) -> None:
    """Temp file in the same directory + rename, so a reader never sees half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".loadbench-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _write_result(environment: Environment) -> None:
    if WINDOW.written:
        return
    WINDOW.written = True
    _write_atomically(WINDOW.out_path, build_result(environment))


def _on_quitting(environment: Environment) -> None:
    """Locust is shutting down (normally after our own quit). If the window never closed
    (Locust's -t, Ctrl-C, no users spawned), still write what we have, marked incomplete."""
    if WINDOW.written:
        return
    WINDOW.truncated = True
    if WINDOW.state == "open":
        WINDOW.t_end = time.monotonic()
        WINDOW.cpu_master_s = _cpu_seconds() - WINDOW.cpu_start
    _write_result(environment)
