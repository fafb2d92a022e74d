"""The locust backend with real Locust: counts against a counting server, journeys, workers, errors, orphans.

Every run here is short (a 1-2 s window) and aims at 127.0.0.1 only; each bench runs as a subprocess or
through the CLI in-process, and Locust always runs in processes of its own under the guard.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from runner_support import TreeWatcher, loadbench_argv
from servers_for_tests import test_server

from loadbench.cli import main
from loadbench.results.file import read_results

# Found, never imported: importing locust would monkey-patch this test process with gevent.
pytestmark = [
    pytest.mark.integration, pytest.mark.timeout(90),
    pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="pip install 'loadbench[locust]'"),
]  # fmt: skip

ROOT = Path(__file__).resolve().parents[2]


def _bench(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(["bench", *args])
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def _in_flight_slack(users: int, workers: int) -> int:
    # The server counts a request when its head arrives, Locust when its response completes: at each edge
    # of the window at most one request per user is on the wire. A worker's window follows the master's
    # by one message on 127.0.0.1.
    return 2 * users + 50 * workers


@pytest.mark.parametrize("workers", [0, 2], ids=["local", "2-workers"])
def test_bench_locust_counts_match_the_server(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              workers: int) -> None:  # fmt: skip
    out_json = tmp_path / "bench.json"
    with test_server("ok") as server:
        args = [f"{server.url}/", "--engine", "locust", "-c", "4", "-d", "2s", "--warmup", "0.5s",
                "--mix", "/a=1", "--mix", "/b=2", "--json", str(out_json)]  # fmt: skip
        if workers:
            args += ["--locust-workers", str(workers)]
        code, out, _ = _bench(args, capsys)
        records = [json.loads(line) for line in out_json.read_text().splitlines()]  # JSON lines
        journey = records[-1]
        window = tuple(journey["backend_extras"]["window_monotonic"])
        served = server.count(window)  # type: ignore[arg-type]
    assert code == 0, out
    assert [r["workload"] for r in records] == ["/a", "/b", "journey"]
    assert journey["requests"] == records[0]["requests"] + records[1]["requests"] > 1000
    assert abs(served - journey["requests"]) <= _in_flight_slack(4, workers), (served, journey["requests"])
    assert journey["backend"] == "locust" and journey["backend_extras"]["locust_workers"] == workers
    assert journey["errors"] == dict.fromkeys(journey["errors"], 0) and "check_failed" in journey["errors"]
    assert "Locust rounds: 1 ms below 100 ms" in out
    assert journey["client_cpu_s"] > 0


def test_journey_scenario_end_to_end_quick(tmp_path: Path) -> None:
    """The shipped journeys scenario (shop.py on waitress, gunicorn, uvicorn) at --quick."""
    proc = subprocess.run(
        loadbench_argv("run", str(ROOT / "scenarios" / "journeys.toml"), "--quick", "--no-report", "--out",
                       str(tmp_path / "run")),
        capture_output=True, text=True, timeout=80,
        env={**_env(), "LOADBENCH_ORDERS_DIR": str(tmp_path / "orders")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = read_results(tmp_path / "run" / "results.jsonl")
    assert all(t.status_ok for t in results.trials), [t.failure for t in results.trials]
    workloads = {t.workload for t in results.trials}
    assert {"journey", "/json", "/db?id=[id]", "POST /order"} <= workloads
    assert {t.model for t in results.trials} == {"waitress", "gunicorn", "uvicorn"}
    orders = [t for t in results.trials if t.workload == "POST /order"]
    assert sum(t.requests for t in orders) >= 1
    assert all(t.status.get("201", 0) == t.requests for t in orders)
    assert "no finer than their own rounding" in proc.stdout


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


@pytest.mark.parametrize(
    ("source", "line", "what"),
    [
        ("from locust import HttpUser, task\n\nclass U(HttpUser):\n    @task\n    def t(self)\n"
         "        pass\n", 5, "SyntaxError"),
        ("import json\n\nraise RuntimeError('boom at import')\n", 3, "RuntimeError: boom at import"),
        ("x = 1\n", None, "No User class found"),
    ],
    ids=["syntax-error", "raises-at-import", "no-user-class"],
)
def test_bad_locustfile_is_reported_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, line: int | None, what: str
) -> None:
    locustfile = tmp_path / "broken.py"
    locustfile.write_text(source)
    with test_server("ok") as server:
        code, _, err = _bench([f"{server.url}/", "--engine", "locust", "--locustfile", str(locustfile),
                                 "-c", "1", "-d", "1s"], capsys)  # fmt: skip
    assert code == 1
    assert err.startswith("Error: the locustfile cannot be used: ")
    location = f"{locustfile}:{line}:" if line is not None else f"{locustfile}:"
    assert location in err and what in err
    assert "Traceback" not in err


def _locust_pids(watcher: TreeWatcher) -> set[int]:
    found = set()
    for pid in watcher.seen:
        try:
            cmdline = psutil.Process(pid).cmdline()
            if "locust" in cmdline and "bench" not in cmdline:
                found.add(pid)
        except psutil.Error:
            continue
    return found


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_no_locust_process_outlives_loadbench(sig: signal.Signals) -> None:
    with test_server("ok") as server:
        argv = loadbench_argv("bench", f"{server.url}/", "--engine", "locust", "-c", "2", "-d", "30s",
                              "--locust-workers", "1")  # fmt: skip
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as bench:
            watcher = TreeWatcher(bench.pid).start()
            try:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and (len(_locust_pids(watcher)) < 2 or server.count() < 50):
                    time.sleep(0.2)
                    watcher.sample()
                locust = _locust_pids(watcher)
                assert len(locust) >= 2, "no master and worker were seen: the test would prove nothing"
                bench.send_signal(sig)
                code = bench.wait(20)
            finally:
                if bench.poll() is None:
                    bench.kill()
                watcher.stop()
            stderr = bench.stderr.read() if bench.stderr else ""
        assert watcher.wait_gone(5.0) == []
        if sig == signal.SIGINT:
            assert code == 130, stderr
        quiet = server.count()
        time.sleep(0.5)
        assert server.count() == quiet, "requests still arrive: a Locust process is still sending"
