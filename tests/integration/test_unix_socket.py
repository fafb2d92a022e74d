"""Servers on Unix sockets (issue 17 item 5): each capable model answers real HTTP over AF_UNIX, `serve
--unix-socket` refuses bad paths in one line and removes its socket, a run drives `unix_socket = true`
servers over their socket, and the nginx fronts reach their app server over one.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from runner_support import small_scenario, watched_run
from schema_check import check_results_file

from loadbench.cli import main
from loadbench.errors import UsageError
from loadbench.results.file import read_results
from loadbench.servers.base import AppSpec, ServerOptions
from loadbench.servers.registry import get_model, unix_socket_models
from loadbench.servers.unixsock import UnixHTTPConnection

pytestmark = pytest.mark.integration

SOCKET_MODELS = ["waitress", "gunicorn", "gunicorn-gthread", "gunicorn-gevent", "uvicorn", "hypercorn",
                 "uwsgi", "granian", "granian-wsgi"]
_READY = re.compile(r"^uvicorn \(event-loop\) ready at unix:(\S+), pid (\d+), in \d+ ms; Ctrl-C stops it$")


def _get(path: Path, url_path: str) -> tuple[int, bytes]:
    conn = UnixHTTPConnection(path, timeout=10)
    try:
        conn.request("GET", url_path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _model(name: str):  # type: ignore[no-untyped-def]
    model = get_model(name)
    if model.available() is not None:
        pytest.skip(str(model.available()))
    return model


def test_the_capable_models_are_the_ones_tested() -> None:
    assert unix_socket_models() == SOCKET_MODELS


@pytest.mark.parametrize("name", SOCKET_MODELS)
def test_each_model_answers_http_over_its_socket_and_removes_it(name: str, tmp_path: Path) -> None:
    path = tmp_path / "app.sock"
    with _model(name).start(AppSpec(), ServerOptions(unix_socket=path)) as server:
        assert server.unix_socket == path and server.where == f"unix:{path}" and server.port == 0
        assert os.path.exists(path)
        assert _get(path, "/plaintext") == (200, b"Hello, World!")
        pids = server.pids()
    assert not os.path.lexists(path), "the socket file the server made must go with it"
    assert psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], timeout=5)[1] == []


def test_private_socket_lives_in_a_private_dir_removed_at_stop() -> None:
    with _model("uvicorn").start(AppSpec(), ServerOptions(unix_socket="private")) as server:
        assert server.unix_socket is not None
        directory = server.unix_socket.parent
        assert directory.stat().st_mode & 0o777 == 0o700
        assert _get(server.unix_socket, "/health")[0] == 200
    assert not directory.exists()


def test_a_stale_socket_of_ours_is_replaced_a_live_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.sock"
    with socket.socket(socket.AF_UNIX) as stale:  # bound, closed: the file stays, nothing listens
        stale.bind(str(path))
    with _model("waitress").start(AppSpec(), ServerOptions(unix_socket=path)) as server:
        assert _get(path, "/health")[0] == 200
        with pytest.raises(UsageError, match="a server is already listening on that socket"):
            get_model("uvicorn").start(AppSpec(), ServerOptions(unix_socket=path))
        assert server.alive() and _get(path, "/health")[0] == 200  # the refused start touched nothing
    assert not os.path.lexists(path)


def test_a_server_that_fails_on_a_socket_shows_its_log(tmp_path: Path) -> None:
    from loadbench.errors import ServerStartError

    app = AppSpec(kind="import", target="no_such_module_xyz:app", interface="asgi")
    with pytest.raises(ServerStartError, match="before it was ready on unix:") as err:
        _model("uvicorn").start(app, ServerOptions(unix_socket=tmp_path / "app.sock"))
    assert "no_such_module_xyz" in err.value.log_tail
    assert not os.path.lexists(tmp_path / "app.sock")


def _run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(argv)
    return int(done.value.code or 0), capsys.readouterr().err


def test_serve_refuses_bad_socket_paths_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "notes.txt"
    plain.write_text("keep me")
    cases = [
        (["uvicorn", "--unix-socket", str(tmp_path / "missing" / "a.sock")],
         f"--unix-socket {tmp_path}/missing/a.sock: directory {tmp_path}/missing does not exist; create it "
         "first or choose a path in an existing directory"),
        (["uvicorn", "--unix-socket", str(plain)],
         f"--unix-socket {plain}: already exists and is a file that is not a socket; loadbench will not "
         "replace it, choose another path"),
        (["uvicorn", "--unix-socket", str(tmp_path)], "already exists and is a directory"),
        (["nginx", "--unix-socket", str(tmp_path / "a.sock")],
         "nginx cannot listen on a Unix socket; models that can: waitress, gunicorn,"),
        (["uvicorn", "--unix-socket", str(tmp_path / "a.sock"), "--port", "8000"],
         "--port and --unix-socket exclude each other"),
        (["uvicorn", "--unix-socket", str(tmp_path / ("x" * 120))], "more than a Unix socket path can hold"),
    ]
    for args, message in cases:
        code, err = _run_main(["serve", *args], capsys)
        assert code == 2, (args, err)
        assert err.startswith("Error: ") and message in err and err.count("\n") == 1, (args, err)
    assert plain.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_serve_cli_on_a_socket_until_signalled(
    tmp_path: Path, processes_gone: Callable[..., list[int]]
) -> None:
    path = tmp_path / "serve.sock"
    argv = [sys.executable, "-m", "loadbench", "serve", "uvicorn", "--unix-socket", str(path)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as serve:
        try:
            assert serve.stdout is not None
            line = serve.stdout.readline().strip()
            match = _READY.match(line)
            assert match and match[1] == str(path), line
            assert f"--unix-socket {path}" in serve.stdout.readline()
            assert _get(path, "/json")[0] == 200
            pids = [p.pid for p in psutil.Process(serve.pid).children(recursive=True)]
            serve.send_signal(signal.SIGINT)
            assert serve.wait(15) == 0
        finally:
            if serve.poll() is None:
                serve.kill()
    assert processes_gone(pids) == []
    assert not os.path.lexists(path)


def test_run_drives_a_unix_socket_server_over_its_socket(tmp_path: Path) -> None:
    scenario = small_scenario(tmp_path, "unix", servers=("uvicorn",), connections=(4,))
    text = scenario.read_text().replace('model = "uvicorn"\n', 'model = "uvicorn"\nunix_socket = true\n')
    scenario.write_text(text)
    with watched_run([str(scenario), "--no-report"], tmp_path / "run") as run:
        code = run.proc.wait(120)
        run.watcher.stop()
    assert code == 0, run.output()
    check_results_file(run.results)
    (trial,) = read_results(run.results).trials
    assert trial.status_ok, trial.failure
    assert trial.unix_socket is True and trial.target is not None
    socket_path = Path(trial.target.removeprefix("unix:"))
    assert trial.target.startswith("unix:/") and socket_path.name == "server.sock"
    assert trial.requests > 0 and trial.error_count == 0 and trial.status == {"200": trial.requests}
    assert not socket_path.parent.exists(), "the private socket dir goes with the server"
    assert run.watcher.wait_gone(5.0) == []
    raw = json.loads(run.results.read_text().splitlines()[1])
    assert raw["unix_socket"] is True and raw["target"] == trial.target


def test_run_refuses_a_unix_socket_server_whose_model_cannot(tmp_path: Path) -> None:
    scenario = small_scenario(tmp_path, "unix-nginx", servers=("nginx",))
    text = scenario.read_text().replace('model = "nginx"\n', 'model = "nginx"\nunix_socket = true\n')
    scenario.write_text(text)
    with watched_run([str(scenario), "--no-report"], tmp_path / "run") as run:
        code = run.proc.wait(60)
        run.watcher.stop()
    assert code == 2, run.output()
    assert "[[servers]] nginx: unix_socket = true: nginx cannot listen on a Unix socket" in run.output()


@pytest.mark.parametrize(("name", "upstream", "flag"), [("nginx-gunicorn", "gunicorn", "unix:"),
                                                        ("nginx-uvicorn", "uvicorn", "--uds")])
def test_nginx_fronts_proxy_to_their_app_server_over_a_unix_socket(
    name: str, upstream: str, flag: str, http: Callable[..., object]
) -> None:
    """nginx on TCP in front of gunicorn/uvicorn on a Unix socket: the common production layout."""
    model = _model(name)
    with model.start(AppSpec(), ServerOptions()) as server:
        run_dir = server._run_dir
        assert run_dir is not None
        socket_path = run_dir / f"{upstream}.sock"
        assert socket_path.is_socket()
        config = next(run_dir.glob("nginx-*.conf")).read_text()
        assert f"server unix:{socket_path};" in config and "proxy_pass http://app;" in config
        app_servers = [p for p in psutil.Process(server.pid).children(recursive=True)
                       if upstream in " ".join(p.cmdline())]
        assert any(str(socket_path) in " ".join(p.cmdline()) for p in app_servers)
        assert any(flag in " ".join(p.cmdline()) for p in app_servers)
        # /json is no static file: nginx passes it over the socket; the app answers there directly too
        answer = http(server.url, "/json")
        assert answer.status == 200 and b"Hello, World!" in answer.body  # type: ignore[attr-defined]
        assert _get(socket_path, "/json") == (200, answer.body)  # type: ignore[attr-defined]
    assert not run_dir.exists()
