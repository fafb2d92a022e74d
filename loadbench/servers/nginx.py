"""The nginx models: real nginx serving the bundled app's static files, and nginx in front of gunicorn.

`nginx` serves /static/<file> from a copy of the app's files, and /health, /plaintext and /json as fixed
`return 200` answers with the app's bodies and Content-Types. It has no Python behind it, so /io, /cpu
and /db answer 404: compare it with the Python models on static files and fixed answers only.

`nginx-gunicorn` is the classic deployment: nginx on the public port (it serves /static/ itself, for the
bundled app), proxying everything else over a unix socket to gunicorn sync workers, with upstream
keep-alive; `nginx-uvicorn` the same in front of uvicorn (ASGI). With `tls` (and `http2`) nginx
terminates TLS (and HTTP/2) and speaks plain HTTP/1.1 to the app server. Both run under one guard: the
guard's command is loadbench/servers/_pair.py, which starts
gunicorn and nginx in the guard's process group and ends both as soon as either ends.

Each start runs a private nginx: `nginx -p RUN_DIR -c RUN_DIR/nginx-HOST-PORT.conf -e stderr` (the name
shows in `ps` which instance listens where) with `daemon off`,
every path (pid file, *_temp_path) inside the run dir, and the error log on stderr, which the launcher
sends to the server's log file.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from loadbench.results.family import Family
from loadbench.servers.base import AppSpec, ServerOptions
from loadbench.servers.external import (
    ExternalModel,
    FixedResponse,
    fixed_responses,
    run_user,
    share_run_dir,
    write_docroot,
)
from loadbench.servers.gunicorn import GunicornModel
from loadbench.servers.uvicorn import UvicornModel

if TYPE_CHECKING:
    from loadbench.servers.certs import TlsFiles

DEFAULT_WORKERS = 1
UPSTREAM_KEEPALIVE = 64  # idle connections nginx keeps to gunicorn (sync workers close theirs anyway)
PAIR_PATH = Path(__file__).with_name("_pair.py")
_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def config_path(run_dir: Path, opts: ServerOptions, port: int) -> Path:
    """Where the config goes: named after the address it listens on."""
    return run_dir / f"nginx-{opts.bind_host}-{port}.conf"


def nginx_string(text: str) -> str:
    """`text` as a single-quoted nginx config string; ValueError for what a literal cannot hold."""
    if "$" in text or "\n" in text:
        raise ValueError(f"{text!r}: nginx would expand '$' and a return body here is one line")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fixed_location(answer: FixedResponse) -> str:
    body = nginx_string(answer.body.decode("utf-8"))
    return (
        f"        location = {answer.path} {{\n"
        f"            default_type {answer.content_type};\n"
        f"            return 200 {body};\n"
        f"        }}\n"
    )


def nginx_config(
    *, run_dir: Path, host: str, port: int, workers: int, user: tuple[str, str] | None,
    fixed: tuple[FixedResponse, ...] = (), static_root: Path | None = None,
    upstream_socket: Path | None = None, upstream_protocol: UpstreamProtocol = "http",
    cgi_script: Path | None = None, tls: TlsFiles | None = None, http2: bool = False,
) -> str:
    """The whole nginx.conf: a private, foreground nginx on host:port, everything under `run_dir`.

    `tls`: terminate TLS with that certificate; `http2`: offer HTTP/2 too (ALPN h2, with tls).

    `fixed`: exact-path locations answering a fixed body. `static_root`: serve /static/<file> from
    static_root/static/. `upstream_socket`: pass every other path to that unix socket (else 404), over
    `upstream_protocol` (HTTP/1.1 with keep-alive, or uwsgi / FastCGI / SCGI with the CGI variables;
    `cgi_script` names the script a FastCGI wrapper such as fcgiwrap runs for every request).
    `user`: (user, group) workers run as; only when nginx starts as root.
    """
    temp_paths = "".join(f"    {kind}_temp_path {run_dir}/{kind}_temp;\n" for kind in _TEMP_PATHS)
    locations = "".join(_fixed_location(answer) for answer in fixed)
    if static_root is not None:
        locations += (
            "        location /static/ {\n"
            f"            root {static_root};\n"
            "            try_files $uri =404;\n"
            "        }\n"
        )
    if upstream_socket is not None:
        # Only HTTP upstreams keep connections here: uWSGI's uwsgi, SCGI and FastCGI sockets and fcgiwrap
        # close theirs after each response, so each request pays the hop's connect (that is the hop).
        keepalive = f"        keepalive {UPSTREAM_KEEPALIVE};\n" if upstream_protocol == "http" else ""
        upstream = f"    upstream app {{\n        server unix:{upstream_socket};\n{keepalive}    }}\n"
        locations += _upstream_location(upstream_protocol, cgi_script)
    else:
        upstream = ""
        locations += "        location / {\n            return 404;\n        }\n"
    user_line = f"user {user[0]} {user[1]};\n" if user else ""
    listen_flags = (" ssl" + (" http2" if http2 else "")) if tls is not None else ""
    tls_lines = (
        f"        ssl_certificate {tls.cert};\n"
        f"        ssl_certificate_key {tls.key};\n"
        "        ssl_protocols TLSv1.2 TLSv1.3;\n"
    ) if tls is not None else ""  # fmt: skip
    return (
        "# Written by loadbench for one server start (loadbench/servers/nginx.py); removed when it stops.\n"
        f"{user_line}"
        f"worker_processes {workers};\n"
        "daemon off;\n"
        "master_process on;\n"
        f"pid {run_dir}/nginx.pid;\n"
        "error_log stderr notice;\n"
        "events {\n"
        "    worker_connections 16384;\n"  # a C10K sweep's idle connections plus the load, per worker
        "}\n"
        "http {\n"
        "    access_log off;\n"
        "    server_tokens off;\n"
        "    sendfile on;\n"
        "    tcp_nopush on;\n"
        "    tcp_nodelay on;\n"
        "    keepalive_timeout 75s;\n"
        "    keepalive_requests 100000;\n"
        "    types { }\n"
        "    default_type application/octet-stream;\n"
        f"{temp_paths}"
        f"{upstream}"
        "    server {\n"
        f"        listen {host}:{port}{listen_flags} backlog=2048;\n"
        "        server_name _;\n"
        f"{tls_lines}"
        f"{locations}"
        "    }\n"
        "}\n"
    )


UpstreamProtocol = Literal["http", "uwsgi", "fastcgi", "scgi"]

#: The CGI meta-variables (RFC 3875) nginx sends over uwsgi, FastCGI and SCGI: what a WSGI server builds
#: its environ from. PATH_INFO is the decoded path, as a WSGI server's own HTTP parser would give it.
_CGI_PARAMS = (
    ("REQUEST_METHOD", "$request_method"), ("QUERY_STRING", "$query_string"),
    ("CONTENT_TYPE", "$content_type"), ("CONTENT_LENGTH", "$content_length"),
    ("REQUEST_URI", "$request_uri"), ("PATH_INFO", "$document_uri"), ("SCRIPT_NAME", ""),
    ("DOCUMENT_ROOT", "$document_root"), ("SERVER_PROTOCOL", "$server_protocol"),
    ("GATEWAY_INTERFACE", "CGI/1.1"), ("SERVER_SOFTWARE", "nginx"), ("REMOTE_ADDR", "$remote_addr"),
    ("REMOTE_PORT", "$remote_port"), ("SERVER_ADDR", "$server_addr"), ("SERVER_PORT", "$server_port"),
    ("SERVER_NAME", "$server_name"),
)
_PASS = {"uwsgi": "uwsgi", "fastcgi": "fastcgi", "scgi": "scgi"}


def _upstream_location(protocol: UpstreamProtocol, cgi_script: Path | None) -> str:
    """`location /` passing every request to the upstream `app` over `protocol`."""
    if protocol == "http":
        return (
            "        location / {\n"
            "            proxy_pass http://app;\n"
            "            proxy_http_version 1.1;\n"
            '            proxy_set_header Connection "";\n'
            "            proxy_set_header Host $http_host;\n"
            "        }\n"
        )
    kind = _PASS[protocol]
    params = list(_CGI_PARAMS)  # nginx adds the request headers (HTTP_HOST, ...) itself
    if protocol == "scgi":  # nginx puts CONTENT_LENGTH first itself, as SCGI requires; SCGI=1 is ours
        params = [(name, value) for name, value in params if name != "CONTENT_LENGTH"] + [("SCGI", "1")]
    if cgi_script is not None:
        params.append(("SCRIPT_FILENAME", str(cgi_script)))
    lines = "".join(
        f"            {kind}_param {name} {value or chr(34) * 2};\n" for name, value in params
    )
    return f"        location / {{\n            {kind}_pass app;\n{lines}        }}\n"


class NginxModel(ExternalModel):
    """nginx serving the bundled app's static files and fixed answers; worker_processes = workers (def. 1)."""

    name = "nginx"
    family = Family.EVENT_LOOP_EXTERNAL
    description = "real nginx: event loop per worker process, static files + fixed answers (no /io /cpu /db)"
    binaries = ("nginx",)
    install_hint = "apt-get install nginx"
    tls_capable = True
    http2_capable = True
    unprofiled_reason: str | None = (
        "nginx is written in C and runs no Python: py-spy reads a CPython interpreter's frames, and nginx "
        "has none (a native profiler such as perf sees inside it)"
    )

    def nginx_argv(self, opts: ServerOptions, port: int, run_dir: Path) -> list[str]:
        binary = self.binary() or self.binaries[0]
        return [binary, "-p", f"{run_dir}/", "-c", str(config_path(run_dir, opts, port)), "-e", "stderr"]

    def argv(self, app: AppSpec, opts: ServerOptions, port: int, run_dir: Path) -> list[str]:
        return self.nginx_argv(opts, port, run_dir)

    def prepare(self, app: AppSpec, opts: ServerOptions, port: int, run_dir: Path) -> list[str]:
        self.check_app(app)
        docroot = write_docroot(run_dir, fixed_files=False)
        config = nginx_config(
            run_dir=run_dir, host=opts.bind_host, port=port, workers=opts.workers or DEFAULT_WORKERS,
            user=run_user(), fixed=fixed_responses(), static_root=docroot, tls=opts.tls_files,
            http2=opts.http2,
        )
        config_path(run_dir, opts, port).write_text(config)
        share_run_dir(run_dir)
        return self.argv(app, opts, port, run_dir)


class NginxGunicornModel(NginxModel):
    """nginx (1 worker) as reverse proxy in front of gunicorn sync workers on a unix socket."""

    name = "nginx-gunicorn"
    family = Family.TOPOLOGY
    description = "nginx reverse proxy (upstream keep-alive; serves /static/) before gunicorn sync workers"
    requires: tuple[tuple[str, str], ...] = (("gunicorn", "pip install gunicorn"),)
    interfaces: tuple[Literal["wsgi", "asgi"], ...] = ("wsgi",)
    serves_import_apps = True
    not_ready_statuses = frozenset({502, 503, 504})  # nginx is up, gunicorn's workers not yet
    unprofiled_reason = None  # py-spy samples the gunicorn processes behind nginx (and skips nginx)

    upstream_name = "gunicorn"

    def upstream_argv(self, app: AppSpec, opts: ServerOptions, socket_path: Path) -> list[str]:
        """GunicornModel's own command line behind nginx, on the Unix socket `socket_path` (plain HTTP:
        nginx ends TLS), as `loadbench serve gunicorn --unix-socket` would run it."""
        return GunicornModel().command(app, _upstream(opts, socket_path), 0)

    def argv(self, app: AppSpec, opts: ServerOptions, port: int, run_dir: Path) -> list[str]:
        socket_path = run_dir / f"{self.upstream_name}.sock"
        commands = [self.upstream_argv(app, opts, socket_path), self.nginx_argv(opts, port, run_dir)]
        return [sys.executable, "-S", str(PAIR_PATH), "--wait-for", str(socket_path), json.dumps(commands)]

    def prepare(self, app: AppSpec, opts: ServerOptions, port: int, run_dir: Path) -> list[str]:
        self.check_app(app)
        socket_path = run_dir / f"{self.upstream_name}.sock"
        socket_path.unlink(missing_ok=True)  # a killed attempt's would fool --wait-for
        bundled = app.kind == "bundled"
        static_root = write_docroot(run_dir, fixed_files=False) if bundled else None
        config = nginx_config(
            run_dir=run_dir, host=opts.bind_host, port=port, workers=1, user=run_user(),
            static_root=static_root, upstream_socket=socket_path, tls=opts.tls_files, http2=opts.http2,
        )
        config_path(run_dir, opts, port).write_text(config)
        share_run_dir(run_dir)
        return self.argv(app, opts, port, run_dir)


class NginxUvicornModel(NginxGunicornModel):
    """nginx (1 worker) as reverse proxy in front of uvicorn on a unix socket: the common ASGI layout."""

    name = "nginx-uvicorn"
    description = "nginx reverse proxy (upstream keep-alive; serves /static/) before uvicorn (ASGI)"
    requires = (("uvicorn", "pip install uvicorn"),)
    interfaces = ("asgi",)
    upstream_name = "uvicorn"

    def upstream_argv(self, app: AppSpec, opts: ServerOptions, socket_path: Path) -> list[str]:
        """UvicornModel's own command line, on the Unix socket `socket_path` (its --uds)."""
        return UvicornModel().command(app, _upstream(opts, socket_path), 0)


def _upstream(opts: ServerOptions, socket_path: Path) -> ServerOptions:
    """The options of the app server behind nginx: on `socket_path`, plain HTTP (nginx terminates TLS)."""
    return dataclasses.replace(opts, tls=False, http2=False, tls_files=None, port=0, unix_socket=socket_path)
