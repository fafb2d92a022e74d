"""The external server models (nginx, nginx-gunicorn, Apache) as real processes on 127.0.0.1.

Each model must answer like the bundled app, bind loopback only, run pinned, stop with nothing left, and
go away with a SIGKILLed parent. Skipped, with the install command, where the binary is missing
(CI installs nginx and apache2 via apt).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from runner_support import marked_pids

from loadbench.app.endpoints import Endpoints, Response
from loadbench.errors import ServerStartError
from loadbench.servers import AppSpec, ServerOptions, get_model
from loadbench.servers.process import ServerProcess

pytestmark = pytest.mark.integration

MODELS = ["nginx", "nginx-gunicorn", "apache"]
MPM_VARIANTS = ["apache-worker", "apache-prefork"]
STATIC_ONLY = {"nginx", "apache", "apache-worker", "apache-prefork"}
SAME_AS_APP = ["/static/1k.bin", "/static/100k.bin", "/plaintext", "/json", "/health"]
TWO_CPUS = len(os.sched_getaffinity(0)) >= 2


def _model(name: str) -> Any:
    model = get_model(name)
    why_not = model.available()
    if why_not is not None:
        pytest.skip(why_not)
    return model


def _app_answer(path: str) -> Response:
    response = Endpoints(delay_us=0).route("GET", path, "")
    assert isinstance(response, Response)
    return response


def _run_dir(server: ServerProcess) -> Path:
    """The server's private run dir, read off its command line (it holds the config)."""
    for arg in server.command:
        if arg.endswith((".conf", "/gunicorn.sock")):
            return Path(arg).parent
    raise AssertionError(f"no run dir in {server.command}")


def _wait_pids(server: ServerProcess, at_least: int) -> list[int]:
    deadline = time.monotonic() + 5
    while len(server.pids()) < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
    return server.pids()


@pytest.mark.parametrize("name", MODELS + MPM_VARIANTS)
def test_answers_like_the_bundled_app(name: str, http: Callable[..., Any]) -> None:
    with _model(name).start(AppSpec(), ServerOptions(workers=1)) as server:
        for path in SAME_AS_APP:
            expected = _app_answer(path)
            answer = http(server.url, path)
            assert answer.status == 200, (path, answer.status, answer.body[:200])
            assert answer.body == expected.body, path
            assert answer.headers["content-type"] == dict(expected.headers)["Content-Type"], path
        io = http(server.url, "/io?ms=1")
    # Static servers have no Python behind them; the proxy passes /io to gunicorn.
    assert io.status == (404 if name in STATIC_ONLY else 200)


@pytest.mark.skipif(not TWO_CPUS, reason="pinning is only visible with 2+ CPUs")
@pytest.mark.parametrize("name", MODELS)
def test_binds_loopback_only_and_every_process_is_pinned(name: str) -> None:
    with _model(name).start(AppSpec(), ServerOptions(cpus=(0,), workers=2)) as server:
        pids = _wait_pids(server, 3)  # a master and two workers at least
        assert server.guard_pid not in pids and server.pid in pids
        assert {pid: os.sched_getaffinity(pid) for pid in pids} == {pid: {0} for pid in pids}
        listening = {
            (conn.laddr.ip, conn.laddr.port)
            for pid in pids
            for conn in psutil.Process(pid).net_connections(kind="inet")
            if conn.status == psutil.CONN_LISTEN
        }
    assert listening == {("127.0.0.1", server.port)}


@pytest.mark.skipif(os.geteuid() != 0, reason="only root drops its workers to another user")
@pytest.mark.parametrize("name", ["nginx", "apache"])
def test_as_root_the_workers_run_as_nobody(name: str) -> None:
    with _model(name).start(AppSpec(), ServerOptions(workers=2)) as server:
        pids = _wait_pids(server, 3)
        users = {pid: psutil.Process(pid).username() for pid in pids}
    workers = {pid: user for pid, user in users.items() if pid != server.pid}
    assert users[server.pid] == "root" and set(workers.values()) == {"nobody"}, users


@pytest.mark.parametrize("name", MODELS)
def test_stop_leaves_no_process_and_no_file(name: str, processes_gone: Callable[..., list[int]]) -> None:
    server = _model(name).start(AppSpec(), ServerOptions(workers=2))
    pids = [*_wait_pids(server, 3), server.guard_pid]
    run_dir = _run_dir(server)
    assert run_dir.is_dir() and (run_dir.stat().st_mode & 0o077) == 0, "the run dir must be private (0700)"
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5, "stop should not need the SIGKILL fallback"
    assert processes_gone(pids, 5.0) == []
    with pytest.raises(ProcessLookupError):
        os.killpg(server.pgid, 0)
    assert not run_dir.exists()


@pytest.mark.parametrize("name", MODELS)
def test_port_taken_names_the_port(name: str) -> None:
    model = _model(name)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ServerStartError, match=f"port {port} on 127.0.0.1 is already in use"):
            model.start(AppSpec(), ServerOptions(port=port))


def test_nginx_gunicorn_fails_fast_when_the_app_does_not_import(
    processes_gone: Callable[..., list[int]],
) -> None:
    model = _model("nginx-gunicorn")
    marker = uuid.uuid4().hex
    app = AppSpec(kind="import", target="no_such_module_xyz:app", interface="wsgi",
                  env=(("LOADBENCH_TEST_MARK", marker),))
    started = time.monotonic()
    try:
        server = model.start(app, ServerOptions(ready_timeout_s=20))
    except ServerStartError as err:
        message = str(err)
    else:
        server.stop()
        pytest.fail("a proxy answering 502 in front of a dead app was taken as ready")
    assert time.monotonic() - started < 10, "a dead gunicorn must end the start, not a 502 until the deadline"
    assert "exited with code" in message and "no_such_module_xyz" in message
    assert processes_gone(marked_pids(marker), 5.0) == []


