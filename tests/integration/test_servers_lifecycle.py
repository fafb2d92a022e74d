"""Server processes end to end: concurrency per model, start failures, pinning, user apps, orphan-proofing."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from runner_support import marked_pids

from loadbench.errors import ServerStartError
from loadbench.servers import AppSpec, ServerOptions, get_model, model_names
from loadbench.servers.gunicorn import GunicornModel

pytestmark = pytest.mark.integration

IO_MS = 50
CONCURRENT = 8


def _concurrent_io(url: str) -> float:
    """Seconds for CONCURRENT simultaneous GET /io?ms=IO_MS, each on its own connection."""
    host, port = url.removeprefix("http://").split(":")
    barrier = threading.Barrier(CONCURRENT + 1)
    statuses: list[int] = []

    def one() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.connect()
        barrier.wait()
        conn.request("GET", f"/io?ms={IO_MS}")
        statuses.append(conn.getresponse().status)
        conn.close()

    threads = [threading.Thread(target=one) for _ in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    assert statuses == [200] * CONCURRENT
    return elapsed


@pytest.mark.parametrize(
    ("name", "opts", "overlaps"),
    [
        ("gunicorn", ServerOptions(workers=1), False),
        ("uvicorn", ServerOptions(workers=1), True),
        ("waitress", ServerOptions(threads=8), True),
    ],
)
def test_io_wait_concurrency_follows_the_model(name: str, opts: ServerOptions, overlaps: bool) -> None:
    with get_model(name).start(AppSpec(), opts) as server:
        # Best of 3: a loaded machine can only slow a round down, never make serial work overlap.
        elapsed = min(_concurrent_io(server.url) for _ in range(3))
    if overlaps:
        assert elapsed < 4 * IO_MS / 1000, f"{name}: {CONCURRENT} waits took {elapsed * 1000:.0f} ms"
    else:
        assert elapsed >= 0.9 * CONCURRENT * IO_MS / 1000, f"{name}: {elapsed * 1000:.0f} ms, not serialised"


_NO_MODULE = "no_such_module_xyz:app"


class _BadWorkerGunicorn(GunicornModel):
    def worker_args(self, opts: ServerOptions) -> list[str]:
        return ["--worker-class", "no_such_package.NoSuchWorker"]


@pytest.mark.parametrize(
    ("model", "app", "in_log"),
    [
        (_BadWorkerGunicorn(), AppSpec(), "no_such_package"),
        (get_model("gunicorn"), AppSpec(kind="import", target=_NO_MODULE), "no_such_module_xyz"),
        (get_model("uvicorn"), AppSpec(kind="import", target=_NO_MODULE), "no_such_module_xyz"),
        (get_model("waitress"), AppSpec(kind="import", target=_NO_MODULE), "no_such_module_xyz"),
    ],
    ids=["gunicorn-bad-worker-class", "gunicorn-no-module", "uvicorn-no-module", "waitress-no-module"],
)
def test_failed_start_reports_command_and_log_and_leaves_nothing(
    model: Any, app: AppSpec, in_log: str, processes_gone: Callable[..., list[int]]
) -> None:
    marker = uuid.uuid4().hex
    app = AppSpec(kind=app.kind, target=app.target, env=(("LOADBENCH_TEST_MARK", marker),))
    started = time.monotonic()
    with pytest.raises(ServerStartError) as err:
        model.start(app, ServerOptions(ready_timeout_s=20))
    assert time.monotonic() - started < 10, "a server that exits must fail fast, not wait for the deadline"
    message = str(err.value)
    assert "exited with code" in message
    assert "command: " + " ".join(err.value.command) in message
    assert "--bind 127.0.0.1:" in message or "127.0.0.1" in message
    assert in_log in message
    assert processes_gone(marked_pids(marker), 5.0) == []


def test_port_taken_names_the_port(processes_gone: Callable[..., list[int]]) -> None:
    marker = uuid.uuid4().hex
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ServerStartError, match=f"port {port} on 127.0.0.1 is already in use"):
            app = AppSpec(env=(("LOADBENCH_TEST_MARK", marker),))
            get_model("waitress").start(app, ServerOptions(port=port))
    assert processes_gone(marked_pids(marker), 5.0) == []


def test_fixed_port_is_used() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with get_model("uvicorn").start(AppSpec(), ServerOptions(port=port)) as server:
        assert server.port == port and server.url == f"http://127.0.0.1:{port}"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning is only visible with 2+ CPUs")
@pytest.mark.parametrize("name", ["gunicorn", "uvicorn", "waitress"])
def test_cpu_pinning_covers_every_server_process(name: str) -> None:
    with get_model(name).start(AppSpec(), ServerOptions(cpus=(0,), workers=2)) as server:
        deadline = time.monotonic() + 5
        expected = 3 if name == "gunicorn" else 1  # gunicorn: master + 2 workers
        while len(server.pids()) < expected and time.monotonic() < deadline:
            time.sleep(0.02)
        pids = server.pids()
        assert len(pids) >= expected
        assert server.guard_pid not in pids
        assert server.pid in pids
        assert {pid: os.sched_getaffinity(pid) for pid in pids} == {pid: {0} for pid in pids}


def test_stop_is_idempotent_and_leaves_no_process(processes_gone: Callable[..., list[int]]) -> None:
    server = get_model("gunicorn").start(AppSpec(), ServerOptions(workers=2))
    pids = [*server.pids(), server.guard_pid]
    server.stop()
    server.stop()
    assert not server.alive()
    assert processes_gone(pids, 5.0) == []
    with pytest.raises(ProcessLookupError):
        os.killpg(server.pgid, 0)


def test_user_import_app_is_detected_and_served(tmp_path: Path, http: Callable[..., Any]) -> None:
    (tmp_path / "myasgi.py").write_text(
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    await send({'type': 'http.response.start', 'status': 404, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'mine'})\n"
    )
    app = AppSpec(kind="import", target="myasgi:app", cwd=str(tmp_path), ready_path="/")
    # waitress speaks WSGI only: the ASGI app is served through a2wsgi's ASGIMiddleware, and says so.
    with get_model("waitress").start(app, ServerOptions()) as adapted:
        assert adapted.adapter == "a2wsgi.ASGIMiddleware"
        answer = http(adapted.url, "/")
        assert (answer.status, answer.body) == (404, b"mine")
    with get_model("uvicorn").start(app, ServerOptions()) as server:  # any answer, even 404, is ready
        answer = http(server.url, "/")
        assert (answer.status, answer.body) == (404, b"mine")


def test_command_model_runs_a_template(http: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hi")
    template = f"{sys.executable} -m http.server {{port}} --bind {{host}} --directory {tmp_path}"
    app = AppSpec(kind="command", target=template, ready_path="/")
    with get_model("command").start(app, ServerOptions()) as server:
        assert http(server.url, "/hello.txt").body == b"hi"


_ORPHAN_SCRIPT = """
import json, sys, time
from loadbench.servers import AppSpec, ServerOptions, get_model, model_names
server = get_model(sys.argv[1]).start(AppSpec(), ServerOptions(workers=2))
time.sleep(0.3)  # let every worker come up
print(json.dumps({"pids": server.pids(), "guard": server.guard_pid, "pgid": server.pgid,
                  "command": server.command}), flush=True)
time.sleep(60)
"""

# Every registered model joins this test by being registered ("command" needs a user's command).
ORPHAN_MODELS = [name for name in model_names() if name != "command"]


@pytest.mark.parametrize("name", ORPHAN_MODELS)
def test_server_dies_with_a_sigkilled_parent(name: str, processes_gone: Callable[..., list[int]]) -> None:
    why_not = get_model(name).available()
    if why_not is not None:
        pytest.skip(why_not)
    argv = [sys.executable, "-c", _ORPHAN_SCRIPT, name]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as parent:
        try:
            assert parent.stdout is not None
            info = json.loads(parent.stdout.readline())
            assert info["pids"], "the server should have at least one process"
            os.kill(parent.pid, signal.SIGKILL)
            parent.wait(5)
        finally:
            if parent.poll() is None:
                parent.kill()
    assert processes_gone([*info["pids"], info["guard"]], 5.0) == []
    with pytest.raises(ProcessLookupError):
        os.killpg(info["pgid"], 0)
    private = [Path(arg).parent for arg in info["command"] if arg.endswith((".conf", ".sock"))]
    deadline = time.monotonic() + 5  # the guard removes an external server's private run dir too
    while any(d.exists() for d in private) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(d.exists() for d in private)
