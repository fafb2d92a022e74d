"""Server models without processes: registry look-ups, options validation, command lines, guard argv."""

from __future__ import annotations

import sys

import pytest

from loadbench.errors import UsageError
from loadbench.servers import AppSpec, ServerOptions, all_models, get_model, model_names
from loadbench.servers.process import child_env, guard_argv

PORT = 43210


def test_registry_lists_every_model_in_order() -> None:
    assert model_names() == [
        "waitress", "gunicorn", "gunicorn-gthread", "gunicorn-gevent", "uvicorn", "hypercorn",
        "nginx", "nginx-gunicorn", "nginx-uvicorn", "apache", "apache-worker", "apache-prefork",
        "uwsgi", "nginx-uwsgi", "nginx-fastcgi", "nginx-scgi", "cgi", "apache-wsgi",
        "granian", "granian-wsgi", "command",
    ]
    assert [m.name for m in all_models()] == model_names()


@pytest.mark.parametrize(
    ("typed", "suggestion"),
    [("uvicron", "uvicorn"), ("gunicorn-gthreads", "gunicorn-gthread"), ("Waitress", "waitress")],
)
def test_unknown_model_suggests_and_lists(typed: str, suggestion: str) -> None:
    with pytest.raises(UsageError) as err:
        get_model(typed)
    message = str(err.value)
    assert f"did you mean {suggestion!r}" in message
    assert "known models: waitress, gunicorn," in message


def test_unknown_model_without_close_match_lists_known() -> None:
    with pytest.raises(UsageError, match=r"unknown server model 'zzz'; known models: waitress"):
        get_model("zzz")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.2", "::1", "example.com", ""])
def test_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(UsageError, match="not an IPv4 loopback"):
        ServerOptions(host=host)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"port": 70000}, "port 70000 is out of range"),
        ({"workers": 0}, "workers must be at least 1"),
        ({"threads": 0}, "threads must be at least 1"),
        ({"cpus": (9999,)}, "this machine has CPUs"),
        ({"ready_timeout_s": 0}, "must be positive"),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        ServerOptions(**kwargs)  # type: ignore[arg-type]


def test_localhost_binds_ipv4_loopback() -> None:
    assert ServerOptions(host="localhost").bind_host == "127.0.0.1"


def test_waitress_command_listens_on_loopback_with_threads() -> None:
    cmd = get_model("waitress").command(AppSpec(), ServerOptions(threads=16), PORT)
    assert cmd[:3] == [sys.executable, "-m", "loadbench.servers._waitress_main"]
    assert f"--listen=127.0.0.1:{PORT}" in cmd
    assert "--threads=16" in cmd
    assert "--backlog=2048" in cmd
    assert cmd[-1] == "loadbench.app.wsgi:application"


def test_waitress_defaults_to_8_threads() -> None:
    assert "--threads=8" in get_model("waitress").command(AppSpec(), ServerOptions(), PORT)


@pytest.mark.parametrize(
    ("name", "worker_class"),
    [("gunicorn", "sync"), ("gunicorn-gthread", "gthread"), ("gunicorn-gevent", "gevent")],
)
def test_gunicorn_commands_bind_loopback(name: str, worker_class: str) -> None:
    cmd = get_model(name).command(AppSpec(), ServerOptions(workers=3), PORT)
    assert cmd[:3] == [sys.executable, "-m", "gunicorn"]
    assert cmd[cmd.index("--bind") + 1] == f"127.0.0.1:{PORT}"
    assert cmd[cmd.index("--workers") + 1] == "3"
    assert cmd[cmd.index("--worker-class") + 1] == worker_class
    assert "--no-control-socket" in cmd
    assert cmd[-1] == "loadbench.app.wsgi:application"


@pytest.mark.parametrize(
    ("opts", "workers"),
    [(ServerOptions(), "2"), (ServerOptions(cpus=(0,)), "1"), (ServerOptions(workers=5), "5")],
)
def test_gunicorn_default_workers(opts: ServerOptions, workers: str) -> None:
    cmd = get_model("gunicorn").command(AppSpec(), opts, PORT)
    assert cmd[cmd.index("--workers") + 1] == workers


def test_uvicorn_command_serves_asgi_face_without_access_log() -> None:
    cmd = get_model("uvicorn").command(AppSpec(), ServerOptions(), PORT)
    assert cmd[:3] == [sys.executable, "-m", "uvicorn"]
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--port") + 1] == str(PORT)
    assert cmd[cmd.index("--workers") + 1] == "1"
    assert "--no-access-log" in cmd
    assert cmd[-1] == "loadbench.app.asgi:application"


def test_import_app_is_passed_through() -> None:
    app = AppSpec(kind="import", target="mypkg.web:app")
    assert get_model("gunicorn").command(app, ServerOptions(), PORT)[-1] == "mypkg.web:app"


def test_declared_face_mismatch_is_refused() -> None:
    with pytest.raises(UsageError, match="uvicorn serves ASGI apps, but mypkg:app is WSGI"):
        app = AppSpec(kind="import", target="mypkg:app", interface="wsgi")
        get_model("uvicorn").command(app, ServerOptions(), 1)


def test_command_template_is_filled_and_split() -> None:
    app = AppSpec(kind="command", target="myserver --bind '{host}:{port}' --name 'a b'")
    assert get_model("command").command(app, ServerOptions(), PORT) == [
        "myserver", "--bind", f"127.0.0.1:{PORT}", "--name", "a b",
    ]


@pytest.mark.parametrize(
    ("target", "match"),
    [("myserver", r"has no \{port\}"), ("srv {port} {other}", r"only \{host\} and \{port\}")],
)
def test_bad_command_template(target: str, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        get_model("command").command(AppSpec(kind="command", target=target), ServerOptions(), PORT)


def test_python_model_refuses_a_command_app() -> None:
    with pytest.raises(UsageError, match="use the 'command' model"):
        get_model("waitress").command(AppSpec(kind="command", target="x {port}"), ServerOptions(), PORT)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"kind": "import"}, "needs a target"), ({"kind": "import", "target": "nocolon"}, "module:attribute"),
     ({"ready_path": "health"}, "must start with '/'")],
)
def test_bad_app_spec(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        AppSpec(**kwargs)  # type: ignore[arg-type]


def test_child_env_drops_port_and_adds_app_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--bind 0.0.0.0:1")
    env = child_env(AppSpec(env=(("MY_SETTING", "1"),)))
    assert "PORT" not in env and "GUNICORN_CMD_ARGS" not in env
    assert env["MY_SETTING"] == "1"


def test_guard_argv_wraps_command() -> None:
    argv = guard_argv(["srv", "--x"], 7, (0, 1))
    assert argv[0] == sys.executable and argv[2].endswith("guard.py")
    assert argv[argv.index("--lifeline") + 1] == "7"
    assert argv[argv.index("--cpus") + 1] == "0,1"
    assert argv[-3:] == ["--", "srv", "--x"]


def test_models_report_availability_without_importing_servers() -> None:
    before = set(sys.modules)
    for model in all_models():
        why = model.available()
        assert why is None or "pip install" in why or "apt-get install" in why
    assert not {"gunicorn.app.base", "uvicorn.main", "waitress.server"} & (set(sys.modules) - before)


@pytest.mark.parametrize(
    ("name", "listen"),
    [("waitress", ["--unix-socket=/run/x/app.sock", "--unix-socket-perms=600"]),
     ("gunicorn", ["--bind", "unix:/run/x/app.sock"]),
     ("gunicorn-gevent", ["--bind", "unix:/run/x/app.sock"]),
     ("uvicorn", ["--uds", "/run/x/app.sock"]), ("hypercorn", ["--bind", "unix:/run/x/app.sock"]),
     ("uwsgi", ["--http-socket", "/run/x/app.sock"]), ("granian", ["--uds", "/run/x/app.sock"]),
     ("granian-wsgi", ["--uds", "/run/x/app.sock"])],
)
def test_unix_socket_command_lines_bind_the_socket_and_no_port(name: str, listen: list[str]) -> None:
    from pathlib import Path

    argv = get_model(name).command(AppSpec(), ServerOptions(unix_socket=Path("/run/x/app.sock")), 0)
    joined = " ".join(argv)
    assert " ".join(listen) in joined
    assert "127.0.0.1" not in joined and "--port" not in argv and "--host" not in argv


@pytest.mark.parametrize(
    ("options", "message"),
    [({"port": 8000}, "port 8000 and a Unix socket exclude each other"),
     ({"tls": True}, "tls over a Unix socket is not supported")],
)
def test_unix_socket_options_refuse_a_port_and_tls(options: dict[str, object], message: str) -> None:
    from pathlib import Path

    with pytest.raises(UsageError, match=message):
        ServerOptions(unix_socket=Path("/tmp/a.sock"), **options)  # type: ignore[arg-type]


def test_models_that_cannot_listen_on_a_socket_say_which_can() -> None:
    from loadbench.servers.registry import check_unix_socket_support

    for name in ("nginx", "apache", "command", "nginx-uvicorn", "cgi"):
        with pytest.raises(UsageError, match=f"^{name} cannot listen on a Unix socket; models that can: "
                                             "waitress, gunicorn, gunicorn-gthread,"):
            check_unix_socket_support(get_model(name))
