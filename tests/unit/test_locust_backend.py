"""The locust backend without running Locust: command lines, the generated files, reading the harness JSON,
turning it into Recordings, Locust's own error output, and that loadbench never imports locust or gevent."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loadbench.engine.backend import BackendResult
from loadbench.engine.locust.backend import LocustBackend, _failure_message
from loadbench.engine.locust.command import HARNESS_PATH, LocustRun, commands, stages_shape_source
from loadbench.engine.locust.convert import JOURNEY, MAX_NAMES, histogram_of, to_backend_result
from loadbench.engine.locust.generate import generate_locustfile
from loadbench.engine.locust.readback import load_result, locustfile_problem, parse_result
from loadbench.errors import EngineError, UsageError
from loadbench.types import Closed, RequestSpec


def test_importing_the_backend_imports_neither_locust_nor_gevent() -> None:
    code = (
        "import sys\n"
        "import loadbench.engine.locust.backend, loadbench.engine.locust.convert, loadbench.cli.bench\n"
        "from loadbench.engine.registry import get_backend\n"
        "backend = get_backend('locust')\n"
        "assert backend.available() in (None, \"Locust is not installed; pip install 'loadbench[locust]'\")\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent', 'greenlet', 'zmq'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_harness_is_package_data_named_so_it_cannot_clash() -> None:
    assert HARNESS_PATH.is_file() and HARNESS_PATH.name == "_loadbench_harness.py"
    ast.parse(HARNESS_PATH.read_text())


def _run(**overrides: Any) -> LocustRun:
    values: dict[str, Any] = {
        "files": ("/x/shop.py",), "host": "http://127.0.0.1:8000", "users": 10, "spawn_rate": 10.0,
        "out_json": "/tmp/out.json", "duration_s": 5.0, "master_port": 5999, "python": "py",
    }  # fmt: skip
    values.update(overrides)
    return LocustRun(**values)


def test_one_process_command() -> None:
    [argv] = commands(_run())
    assert argv[:4] == ["py", "-m", "locust", "-f"] and argv[4] == f"{HARNESS_PATH},/x/shop.py"
    assert "--headless" in argv and "--master" not in argv
    assert argv[argv.index("-u") + 1] == "10" and argv[argv.index("--exit-code-on-error") + 1] == "0"


def test_master_and_workers_bind_loopback_and_wait_for_all() -> None:
    master, *workers = commands(_run(workers=2, remote_workers=1, workers_timeout_s=7))
    assert len(workers) == 2
    assert master[master.index("--master-bind-host") + 1] == "127.0.0.1"
    assert master[master.index("--expect-workers") + 1] == "3"
    assert master[master.index("--expect-workers-max-wait") + 1] == "7"
    for worker in workers:
        assert "--worker" in worker and worker[worker.index("--master-port") + 1] == "5999"
        assert worker[worker.index("--master-host") + 1] == "127.0.0.1"


def test_stage_shape_is_valid_python_with_literal_stages() -> None:
    source = stages_shape_source([(2.0, 16), (3.0, 64)], warmup_s=1.0, spawn_rate=100)
    tree = ast.parse(source)
    assert any(isinstance(node, ast.ClassDef) and node.name == "LoadbenchStages" for node in tree.body)
    assert "STAGES = [(2.0, 16.0), (3.0, 64.0)]" in source
    with pytest.raises(ValueError, match="bad stage"):
        stages_shape_source([(0.0, 4)], warmup_s=0, spawn_rate=1)


def test_generated_locustfile_embeds_hostile_values_as_data() -> None:
    hostile = RequestSpec(method="POST", path="/a\"'); import os; os.system('x')#",
                          headers=(("X-Q", "'''\"\"\"\n"),), body=b"\x00'\"", weight=2.5)
    source = generate_locustfile([hostile, RequestSpec(path="/b")], timeout_s=2.0, keepalive=False)
    tree = ast.parse(source)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "system"]
    assert calls == []  # the path stayed a string
    assert "'Connection': 'close'" in source and "network_timeout = 2.0" in source


@pytest.mark.parametrize("spec", [RequestSpec(method="BREW"), RequestSpec(path="nope"),
                                  RequestSpec(weight=0.0)])  # fmt: skip
def test_generated_locustfile_refuses_what_it_cannot_send(spec: RequestSpec) -> None:
    with pytest.raises(ValueError):
        generate_locustfile([spec], timeout_s=1.0)


def _entry(name: str, method: str = "GET", times: dict[str, int] | None = None, status: dict[str, int] | None = None,  # noqa: E501
           classes: dict[str, int] | None = None) -> dict[str, Any]:  # fmt: skip
    times = times if times is not None else {"1": 3, "12": 1}
    return {
        "name": name, "method": method, "num_requests": sum(times.values()), "num_failures": 0,
        "num_none_requests": 0, "response_times": times, "total_response_time_ms": 1.0,
        "min_response_time_ms": 1.0, "max_response_time_ms": 12.0, "total_content_length": 8,
        "status_codes": status if status is not None else {"200": sum(times.values())},
        "error_classes": classes or {},
    }  # fmt: skip


def _doc(entries: list[dict[str, Any]], total: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:  # noqa: E501
    doc: dict[str, Any] = {
        "schema": 1, "complete": True, "locust_version": "2.47.0", "mode": "local", "workers": 0,
        "entries": entries, "total": total or _entry("Aggregated", "", {"1": 6, "12": 2}),
        "errors": {"by_class": {}, "messages": [], "messages_dropped": 0},
        "window": {"warmup_s": 1.0, "measured_s": 2.0}, "timeline": [
            {"second": 1, "requests": 4, "failures": 0, "p50_ms": 1.0, "p99_ms": 12.0}],
        "cpu": {"master_s": 0.5, "workers_s": [], "total_s": 0.5},
        "saturation": {"cpu_warning": False, "worker_cpu_warning": False, "users_asked": 4,
                       "users_running_at_start": 4, "max_process_cpu_fraction": 0.25},
        "clock": {"master": [10.0, 12.0], "workers": []},
    }  # fmt: skip
    doc.update(changes)
    return doc


def _convert(doc: dict[str, Any]) -> BackendResult:
    return to_backend_result(parse_result(doc), load=Closed(connections=4), cpus=(1,), extras={})


def test_a_recording_per_name_plus_the_journey() -> None:
    result = _convert(_doc([_entry("/b"), _entry("/a")]))
    assert list(result.recordings) == ["/a", "/b", JOURNEY]
    journey = result.recordings[JOURNEY]
    assert journey.requests == 8 and journey.ok == 8 and journey.backend == "locust"
    assert journey.latency.count == 8 and journey.rps == 4.0
    assert journey.client_cpu_pct == pytest.approx(25.0)
    assert [p.requests for p in journey.timeline] == [4] and result.recordings["/a"].timeline == ()
    assert "Locust rounds" in result.extras["latency_precision"]
    assert result.extras["window_monotonic"] == [10.0, 12.0]


def test_histogram_is_rebuilt_from_locust_counts_not_percentiles() -> None:
    h = histogram_of(((0, 2), (1, 5), (150, 2), (2000, 1)))
    assert h.count == 10
    assert h.percentile(10) <= 250_000 * 1.001  # bucket 0 ("below 0.5 ms") at its middle
    assert 0.999e6 <= h.percentile(50) <= 1.001e6
    assert h.max_ns == pytest.approx(2e9, rel=1e-3)


def test_check_failed_and_transport_errors_are_errors_not_responses() -> None:
    entry = _entry("POST /order", "POST", {"3": 10}, status={"201": 7, "500": 1},
                   classes={"check_failed": 1, "reset": 1})
    total = _entry("Aggregated", "", {"3": 10}, status={"201": 7, "500": 1},
                   classes={"check_failed": 1, "reset": 1})
    rec = _convert(_doc([entry], total)).recordings["POST /order"]
    assert rec.requests == 8 and rec.ok == 7 and rec.status == {201: 7, 500: 1}
    assert rec.errors["check_failed"] == 1 and rec.errors["reset"] == 1 and rec.error_count == 2


def test_same_name_with_two_methods_gets_the_method_in_front() -> None:
    result = _convert(_doc([_entry("/x", "GET"), _entry("/x", "POST")]))
    assert list(result.recordings) == ["GET /x", "POST /x", JOURNEY]


def test_more_than_100_names_points_to_name_grouping() -> None:
    entries = [_entry(f"/item/{i}") for i in range(MAX_NAMES + 1)]
    with pytest.raises(EngineError, match=r"101 request names .* name="):
        _convert(_doc(entries))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"saturation": {"cpu_warning": True, "worker_cpu_warning": False, "users_asked": 4,
                         "users_running_at_start": 4, "max_process_cpu_fraction": 0.2}}, "its own saturation"),  # noqa: E501
        ({"saturation": {"cpu_warning": False, "worker_cpu_warning": False, "users_asked": 8,
                         "users_running_at_start": 4, "max_process_cpu_fraction": 0.2}}, "users asked 8, running 4"),  # noqa: E501
        ({"saturation": {"cpu_warning": False, "worker_cpu_warning": False, "users_asked": 4,
                         "users_running_at_start": 4, "max_process_cpu_fraction": 0.97}}, "97% of a core"),
    ],
    ids=["locust-cpu-warning", "users-short", "busiest-process"],
)
def test_saturation_both_ways(changes: dict[str, Any], reason: str) -> None:
    rec = _convert(_doc([_entry("/a")], **changes)).recordings[JOURNEY]
    assert rec.saturated and any(reason in r for r in rec.saturation_reasons)


def test_incomplete_window_is_an_error() -> None:
    with pytest.raises(EngineError, match="before the measured window closed"):
        _convert(_doc([_entry("/a")], complete=False))


def test_malformed_json_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"entries\[0\]: response_times counts"):
        parse_result(_doc([{**_entry("/a"), "num_requests": 99}]))
    with pytest.raises(ValueError, match="not JSON"):
        load_result("{")
    assert load_result(json.dumps(_doc([]))).total.num_requests == 8


SYNTAX_LOG = """Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/locust/main.py", line 167, in main
  File "/home/u/shop.py", line 7
    def t(self)
               ^
SyntaxError: expected ':'
"""


def test_locustfile_problem_gives_file_and_line() -> None:
    assert locustfile_problem(SYNTAX_LOG, "/home/u/shop.py") == "/home/u/shop.py:7: SyntaxError: expected ':'"
    logged = "[2026] host/ERROR/locust.main: No User class found!\n"
    assert locustfile_problem(logged, "/home/u/shop.py") == "/home/u/shop.py: No User class found!"
    assert locustfile_problem("all fine\n", "/home/u/shop.py") is None


class _FakeProc:
    def __init__(self, log: str) -> None:
        self._log = log

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self._log.splitlines()[-lines:])


def test_workers_that_never_come_say_how_many_did() -> None:
    log = ("[x] INFO/locust.runners: w1 (index 0) reported as ready. 1 workers connected.\n"
           "[x] ERROR/locust.main: Gave up waiting for workers to connect\n")  # fmt: skip
    run = _run(workers=3, workers_timeout_s=2)
    message = _failure_message(1, [_FakeProc(log)], run)  # type: ignore[list-item]
    assert message.startswith("only 1 of 3 Locust workers connected within 2 s")


def test_locust_exiting_non_zero_shows_its_last_lines() -> None:
    message = _failure_message(2, [_FakeProc("starting\nsomething odd happened\n")], _run())  # type: ignore[list-item]
    assert "exited with code 2" in message and "something odd happened" in message


def test_settings_are_checked() -> None:
    with pytest.raises(UsageError, match="unknown Locust setting"):
        LocustBackend({"wokers": 2})
    with pytest.raises(UsageError, match="workers"):
        LocustBackend({"workers": -1})
    backend = LocustBackend({"file": "/x.py", "workers": 2, "bind": "0.0.0.0"})
    assert (backend.file, backend.workers, backend.bind) == ("/x.py", 2, "0.0.0.0")


def test_open_loop_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from loadbench.cli import main

    with pytest.raises(SystemExit) as done:
        main(["bench", "http://127.0.0.1:9/", "--engine", "locust", "-r", "100/s"])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.count("\n") == 1 and "no open loop" in err


def test_locust_options_need_the_locust_engine(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from loadbench.cli import main

    with pytest.raises(SystemExit) as done:
        main(["bench", "http://127.0.0.1:9/", "--locust-workers", "2"])
    assert done.value.code == 2 and "only apply to --engine locust" in capsys.readouterr().err
