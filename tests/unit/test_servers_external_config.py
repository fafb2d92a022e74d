"""External server models without processes: generated nginx and Apache configs, command lines, refusals."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from loadbench.errors import UsageError
from loadbench.servers import AppSpec, ServerOptions, get_model
from loadbench.servers.apache import ApacheModel, apache_config, mpm_directives
from loadbench.servers.external import FIXED_PATHS, fixed_responses
from loadbench.servers.nginx import NginxModel, nginx_config, nginx_string

RUN = Path("/tmp/loadbench-x")
PORT = 43210


def _nginx(**kwargs: object) -> str:
    args: dict[str, object] = {"run_dir": RUN, "host": "127.0.0.1", "port": PORT, "workers": 3, "user": None}
    return nginx_config(**{**args, **kwargs})  # type: ignore[arg-type]


def _apache(**kwargs: object) -> str:
    args: dict[str, object] = {
        "run_dir": RUN, "docroot": RUN / "htdocs", "module_dir": Path("/mods"), "host": "127.0.0.1",
        "port": PORT, "mpm": "event", "workers": 2, "threads": 32, "user": None,
    }
    return apache_config(**{**args, **kwargs})  # type: ignore[arg-type]


def test_fixed_responses_are_the_apps() -> None:
    answers = {a.path: (a.body, a.content_type) for a in fixed_responses()}
    assert answers == {
        "/health": (b"ok", "text/plain"),
        "/plaintext": (b"Hello, World!", "text/plain"),
        "/json": (b'{"message":"Hello, World!"}', "application/json"),
    }
    assert tuple(answers) == FIXED_PATHS


def test_nginx_config_is_private_foreground_and_loopback() -> None:
    conf = _nginx(fixed=fixed_responses(), static_root=RUN / "htdocs")
    for line in [
        "daemon off;", "master_process on;", "worker_processes 3;", f"pid {RUN}/nginx.pid;",
        "error_log stderr notice;", "access_log off;", "sendfile on;", "keepalive_requests 100000;",
        f"listen 127.0.0.1:{PORT} backlog=2048;",
    ]:
        assert line in conf, line
    temp = re.findall(r"(\w+_temp_path) (\S+);", conf)
    assert {name for name, _ in temp} == {f"{k}_temp_path" for k in ("client_body", "proxy", "fastcgi",
                                                                         "uwsgi", "scgi")}
    assert all(path.startswith(f"{RUN}/") for _, path in temp)
    assert re.findall(r"listen (\S+)", conf) == [f"127.0.0.1:{PORT}"]
    assert "user " not in conf


def test_nginx_fixed_answers_keep_the_apps_bodies_and_types() -> None:
    conf = _nginx(fixed=fixed_responses())
    assert "location = /json {\n            default_type application/json;\n" in conf
    assert """return 200 '{"message":"Hello, World!"}';""" in conf
    assert "return 200 'Hello, World!';" in conf
    assert "location / {\n            return 404;" in conf


def test_nginx_proxy_config_keeps_upstream_connections() -> None:
    conf = _nginx(upstream_socket=RUN / "gunicorn.sock")
    assert f"server unix:{RUN}/gunicorn.sock;" in conf
    assert "keepalive 64;" in conf and "proxy_http_version 1.1;" in conf
    assert 'proxy_set_header Connection "";' in conf
    assert "return 404" not in conf


def test_nginx_config_as_root_names_the_worker_user() -> None:
    assert _nginx(user=("nobody", "nogroup")).startswith("# Written by loadbench")
    assert "\nuser nobody nogroup;\n" in _nginx(user=("nobody", "nogroup"))


@pytest.mark.parametrize(
    ("text", "quoted"),
    [("plain", "'plain'"), ("it's", r"'it\'s'"), ("a\\b", r"'a\\b'"), ('{"a":1}', """'{"a":1}'""")],
)
def test_nginx_string_quotes(text: str, quoted: str) -> None:
    assert nginx_string(text) == quoted


@pytest.mark.parametrize("text", ["$host", "two\nlines"])
def test_nginx_string_refuses_what_nginx_would_change(text: str) -> None:
    with pytest.raises(ValueError, match="nginx would expand"):
        nginx_string(text)


def test_apache_config_is_private_foreground_and_loopback() -> None:
    conf = _apache()
    for line in [
        f"Listen 127.0.0.1:{PORT}", f'PidFile "{RUN}/httpd.pid"', f'DefaultRuntimeDir "{RUN}"',
        f"Mutex file:{RUN} default", "ErrorLog /dev/stderr", "KeepAlive On", "MaxKeepAliveRequests 0",
        "LoadModule mpm_event_module /mods/mod_mpm_event.so", "ThreadsPerChild 32", "MaxRequestWorkers 64",
    ]:
        assert f"{line}\n" in conf, line
    assert re.findall(r"^Listen (\S+)$", conf, re.MULTILINE) == [f"127.0.0.1:{PORT}"]
    assert "\nUser " not in conf and "\nGroup " not in conf
    assert '<Location "/json">\n    ForceType application/json\n</Location>' in conf


def test_apache_config_as_root_names_user_and_group() -> None:
    conf = _apache(user=("nobody", "nogroup"))
    assert "\nUser nobody\nGroup nogroup\n" in conf


@pytest.mark.parametrize(
    ("mpm", "workers", "threads", "expected"),
    [
        ("event", 2, 64, {"StartServers": 2, "ServerLimit": 2, "ThreadsPerChild": 64,
                          "MaxRequestWorkers": 128}),
        ("worker", 3, 10, {"ServerLimit": 3, "ThreadLimit": 10, "MaxRequestWorkers": 30,
                           "MaxSpareThreads": 40}),
        ("prefork", 5, 1, {"StartServers": 5, "ServerLimit": 5, "MaxRequestWorkers": 5,
                           "MaxSpareServers": 5}),
    ],
)
def test_mpm_directives_fix_the_process_and_thread_counts(
    mpm: str, workers: int, threads: int, expected: dict[str, int]
) -> None:
    got = dict(line.split() for line in mpm_directives(mpm, workers, threads).splitlines())
    assert {key: int(got[key]) for key in expected} == expected


def test_commands_show_the_run_dir_placeholder() -> None:
    nginx = get_model("nginx").command(AppSpec(), ServerOptions(), PORT)
    assert nginx[1:] == ["-p", "{run_dir}/", "-c", f"{{run_dir}}/nginx-127.0.0.1-{PORT}.conf", "-e", "stderr"]
    apache = get_model("apache").command(AppSpec(), ServerOptions(), PORT)
    assert apache[1:] == ["-f", f"{{run_dir}}/httpd-127.0.0.1-{PORT}.conf", "-DFOREGROUND"]


def test_nginx_gunicorn_command_pairs_gunicorn_on_a_socket_with_nginx() -> None:
    argv = get_model("nginx-gunicorn").command(AppSpec(), ServerOptions(workers=3), PORT)
    assert argv[:2] == [sys.executable, "-S"] and argv[2].endswith("_pair.py")
    assert argv[3:5] == ["--wait-for", "{run_dir}/gunicorn.sock"]
    gunicorn, nginx = json.loads(argv[5])
    assert gunicorn[gunicorn.index("--bind") + 1] == "unix:{run_dir}/gunicorn.sock"
    assert gunicorn[gunicorn.index("--workers") + 1] == "3"
    assert nginx[1:3] == ["-p", "{run_dir}/"]


@pytest.mark.parametrize("name", ["nginx", "apache"])
def test_static_models_refuse_a_python_app(name: str) -> None:
    with pytest.raises(UsageError, match="use nginx-gunicorn for your WSGI app"):
        get_model(name).command(AppSpec(kind="import", target="mypkg:app"), ServerOptions(), PORT)


def test_nginx_gunicorn_passes_a_python_app_to_gunicorn() -> None:
    argv = get_model("nginx-gunicorn").command(AppSpec(kind="import", target="mypkg:app"), ServerOptions(), 1)
    assert json.loads(argv[-1])[0][-1] == "mypkg:app"


@pytest.mark.parametrize(("cls", "hint"), [(NginxModel, "apt-get install nginx"),
                                           (ApacheModel, "apt-get install apache2")])
def test_missing_binary_says_how_to_install(cls: type[NginxModel | ApacheModel], hint: str) -> None:
    class Missing(cls):  # type: ignore[valid-type,misc]
        binaries = ("no-such-server-binary-xyz",)

    why_not = Missing().available()
    assert why_not is not None and hint in why_not and "no-such-server-binary-xyz" in why_not
