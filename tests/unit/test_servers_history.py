"""The history models without processes: protocol-hop nginx configs, the CGI script, uWSGI, granian and
mod_wsgi command lines and configs, the adapter's app spec, and the family notes of the report."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path

import pytest

from loadbench.analysis.explain import family_class, serving_notes
from loadbench.analysis.summary import Point, median_ci
from loadbench.errors import UsageError
from loadbench.results.family import Family
from loadbench.servers import AppSpec, ServerOptions, get_model
from loadbench.servers.adapter import ADAPTED_TARGET, adapt, adapter_name
from loadbench.servers.apache_wsgi import apache_wsgi_config, wsgi_script
from loadbench.servers.cgi import cgi_script
from loadbench.servers.nginx import nginx_config

RUN = Path("/tmp/loadbench-x")
PORT = 43210


def _nginx(protocol: str, **kwargs: object) -> str:
    return nginx_config(  # type: ignore[arg-type]
        run_dir=RUN, host="127.0.0.1", port=PORT, workers=1, user=None, upstream_socket=RUN / "app.sock",
        upstream_protocol=protocol, **kwargs,
    )


@pytest.mark.parametrize(
    ("protocol", "passes", "keepalive"),
    [("http", "proxy_pass http://app;", True), ("uwsgi", "uwsgi_pass app;", False),
     ("fastcgi", "fastcgi_pass app;", False), ("scgi", "scgi_pass app;", False)],
)
def test_nginx_passes_each_protocol_to_the_unix_socket(protocol: str, passes: str, keepalive: bool) -> None:
    conf = _nginx(protocol)
    assert passes in conf
    assert f"server unix:{RUN}/app.sock;" in conf
    assert ("keepalive 64;" in conf) is keepalive  # only HTTP upstreams keep their connections
    if protocol != "http":
        assert f"{protocol}_param PATH_INFO $document_uri;" in conf
        assert f"{protocol}_param QUERY_STRING $query_string;" in conf
        assert f'{protocol}_param SCRIPT_NAME "";' in conf


def test_scgi_leaves_content_length_to_nginx_and_says_scgi() -> None:
    conf = _nginx("scgi")
    assert "scgi_param CONTENT_LENGTH" not in conf  # nginx sends it first, as SCGI requires
    assert "scgi_param SCGI 1;" in conf


def test_cgi_config_names_the_script() -> None:
    conf = _nginx("fastcgi", cgi_script=RUN / "app.cgi")
    assert f"fastcgi_param SCRIPT_FILENAME {RUN}/app.cgi;" in conf


def test_cgi_script_runs_the_wsgi_app_through_cgihandler() -> None:
    script = cgi_script("pkg.mod:app", python="/venv/bin/python", path_dir="/srv/app", env={"K": "V"})
    assert script.startswith("#!/venv/bin/python\n")
    assert "CGIHandler().run(pkgutil.resolve_name('pkg.mod:app'))" in script
    assert "sys.path.insert(0, '/srv/app')" in script and "os.environ.update({'K': 'V'})" in script
    compile(script, "app.cgi", "exec")


def test_uwsgi_serves_http_itself_without_a_router() -> None:
    argv = get_model("uwsgi").command(AppSpec(), ServerOptions(workers=3), PORT)
    assert argv[:2] == [sys.executable, "-c"]
    assert argv[argv.index("--http-socket") + 1] == f"127.0.0.1:{PORT}"
    assert "--http" not in argv  # the router process
    assert argv[argv.index("--processes") + 1] == "3"
    assert argv[argv.index("--module") + 1] == "loadbench.app.wsgi:application"
    for flag in ("--master", "--die-on-term", "--lazy-apps", "--need-app", "--disable-logging"):
        assert flag in argv
    assert "Connection: close" in argv and "Server: uWSGI" in argv


@pytest.mark.parametrize(
    ("name", "flag"),
    [("nginx-uwsgi", "--socket"), ("nginx-fastcgi", "--fastcgi-socket"), ("nginx-scgi", "--scgi-socket")],
)
def test_the_hop_models_differ_only_in_the_protocol(name: str, flag: str) -> None:
    argv = get_model(name).command(AppSpec(), ServerOptions(), PORT)
    app_server, nginx = json.loads(argv[-1])
    assert app_server[app_server.index(flag) + 1] == "{run_dir}/app.sock"
    assert "--http-socket" not in app_server
    assert nginx[0].endswith("nginx")
    assert get_model(name).family == Family.PROTOCOL_HOP


@pytest.mark.parametrize(
    ("name", "interface", "target"),
    [("granian", "asgi", "loadbench.app.asgi:application"),
     ("granian-wsgi", "wsgi", "loadbench.app.wsgi:application")],
)
def test_granian_commands(name: str, interface: str, target: str) -> None:
    argv = get_model(name).command(AppSpec(), ServerOptions(threads=4), PORT)
    assert argv[argv.index("--interface") + 1] == interface
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and argv[argv.index("--port") + 1] == str(PORT)
    assert "--no-access-log" in argv and argv[-1] == target
    assert ("--blocking-threads" in argv) is (interface == "wsgi")


def test_apache_wsgi_config_is_private_and_embedded() -> None:
    conf = apache_wsgi_config(run_dir=RUN, module_dir=Path("/mods"), host="127.0.0.1", port=PORT, workers=2,
                              threads=16, user=("nobody", "nogroup"))
    assert "LoadModule wsgi_module /mods/mod_wsgi.so" in conf
    assert f'WSGIScriptAlias / "{RUN}/app.wsgi"' in conf and f'WSGIPythonPath "{RUN}/py"' in conf
    assert "WSGIApplicationGroup %{GLOBAL}" in conf and "WSGIDaemonProcess" not in conf  # embedded mode
    assert "User nobody" in conf
    quoted = re.findall(r'"(/[^"]*)"', conf)
    assert quoted and all(path == "/" or path.startswith(str(RUN)) for path in quoted), quoted
    assert "os.environ['LOADBENCH_CACHE_DIR'] = '/d'" in wsgi_script(Path("/d"))


def test_apache_wsgi_refuses_a_users_app() -> None:
    with pytest.raises(UsageError, match="bundled app only"):
        get_model("apache-wsgi").command(AppSpec(kind="import", target="my:app"), ServerOptions(), PORT)


@pytest.mark.parametrize(
    ("to", "middleware"), [("asgi", "a2wsgi.WSGIMiddleware"), ("wsgi", "a2wsgi.ASGIMiddleware")]
)
def test_adapt_points_the_server_at_the_wrapped_app(to: str, middleware: str) -> None:
    app = AppSpec(kind="import", target="my.mod:app", env=(("A", "1"),), cwd="/srv")
    adapted = adapt(app, "uvicorn", to)  # type: ignore[arg-type]
    assert adapted.target == ADAPTED_TARGET and adapted.interface == to and adapted.cwd == "/srv"
    assert dict(adapted.env) == {"A": "1", "LOADBENCH_ADAPT_TARGET": "my.mod:app", "LOADBENCH_ADAPT_TO": to}
    assert adapter_name(to) == middleware  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("family", "cls"),
    [(Family.PROTOCOL_HOP, "protocol-hop"), (Family.EMBEDDED, "embedded"), (Family.RUST_CORE, "rust-core")],
)
def test_the_new_families_have_their_own_class(family: Family, cls: str) -> None:
    assert family_class(family) == cls


def _point(model: str, family: str, workload: str, load: int, rps: float, p50_ms: float) -> Point:
    return Point(
        workload=workload, model=model, family=family, load_label=f"{load}c", load_kind="closed",
        load_value=float(load), repetitions=1, failed=0, saturated=0, rps=median_ci([rps]),
        p50_ms=median_ci([p50_ms]), p99_ms=median_ci([p50_ms * 2]), error_rate=median_ci([0.0]),
        server_cpu_pct=median_ci([100.0]), rss_mb=median_ci([30.0]), client_cpu_pct=median_ci([10.0]),
        errors=(),
    )


def test_serving_notes_set_cgi_beside_the_interpreter_start_up() -> None:
    points = [
        _point("cgi", "process-per-request", "/plaintext", 1, 9.0, 110.0),
        _point("cgi", "process-per-request", "/plaintext", 8, 10.0, 800.0),
        _point("nginx-fastcgi", "protocol-hop", "/plaintext", 1, 1900.0, 0.5),
        _point("granian", "rust-core", "/plaintext", 8, 20000.0, 0.3),
        _point("gunicorn", "pre-fork", "/io?ms=20", 64, 190.0, 21.0),
    ]
    kinds = {"/plaintext": "plain", "/io?ms=20": "io"}
    notes = serving_notes(points, kinds, {"bare": 21.5, "with_app_import": 60.0})
    assert len(notes) == 4
    cgi = notes[0]
    assert cgi.startswith("Process per request (cgi)") and "110" in cgi and "21.5" in cgi
    assert "granian" in cgi  # how far below the fastest
    assert any(n.startswith("Protocol hop (nginx-fastcgi)") for n in notes)
    assert any(n.startswith("Pre-fork (gunicorn)") and "/io?ms=20" in n for n in notes)


def test_serving_notes_stay_out_of_reports_of_the_older_families() -> None:
    points = [_point("gunicorn", "pre-fork", "/plaintext", 1, 900.0, 1.0),
              _point("uvicorn", "event-loop", "/plaintext", 1, 5000.0, 0.2)]
    assert serving_notes(points, {"/plaintext": "plain"}) == ()


def test_dataclass_replace_keeps_the_app_spec_valid() -> None:
    app = AppSpec(kind="import", target="a:b")
    assert dataclasses.replace(app, target=ADAPTED_TARGET).kind == "import"


@pytest.mark.parametrize(
    ("name", "command"),
    [("uwsgi", "pip install 'loadbench[models]'"), ("granian", "pip install 'loadbench[models]'"),
     ("nginx-scgi", "apt-get install nginx && pip install 'loadbench[models]'"),
     ("cgi", "apt-get install nginx fcgiwrap"),
     ("apache-wsgi", "apt-get install apache2 libapache2-mod-wsgi-py3"),
     ("nginx", "apt-get install nginx"), ("gunicorn-gevent", "pip install 'loadbench[gevent]'")],
)
def test_models_prints_the_command_that_makes_an_unavailable_model_available(
    name: str, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from loadbench.cli import cli

    model_class = type(get_model(name))
    monkeypatch.setattr(model_class, "available", lambda self: "missing here")
    assert get_model(name).install_command == command
    output = CliRunner().invoke(cli, ["models"]).output
    (row,) = [line for line in output.splitlines() if line.split()[:1] == [name]]
    assert "no: missing here" in row and command in row
