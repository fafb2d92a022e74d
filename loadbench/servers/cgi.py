"""The CGI model: a fresh Python interpreter for every request, as the web served Python in 1997.

nginx speaks no CGI, so the classic way to give it CGI is fcgiwrap: a small C FastCGI server that,
for every request nginx passes it, forks and execs the CGI script and relays its output. The script
is the app's CGI face: `#!<this Python>` plus `wsgiref.handlers.CGIHandler().run(app)` (the standard
library's WSGI-to-CGI bridge), so every request pays an interpreter start-up, the app's imports and
the app's set-up, which is what CGI costs and what this model measures. Nothing is cached between
requests; nginx does not even serve /static/ itself here, so every path is a process.

    nginx ──FastCGI, unix socket──► fcgiwrap (N processes) ──fork+exec per request──► python app.cgi

fcgiwrap runs as the user loadbench runs as (so the CGI interpreter can read this virtual
environment); as root, nginx's workers run as nobody and reach fcgiwrap's socket inside the private
0700 run dir handed to nobody. Both run under one guard through loadbench/servers/_pair.py.
Options: workers = fcgiwrap processes, the CGI requests in flight at once (default 8).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from loadbench.results.family import Family
from loadbench.servers.base import BUNDLED_WSGI, AppSpec, ServerOptions
from loadbench.servers.external import find_binary, run_user, share_run_dir
from loadbench.servers.nginx import PAIR_PATH, NginxModel, config_path, nginx_config

DEFAULT_WORKERS = 8
SOCKET_NAME = "fcgiwrap.sock"
SCRIPT_NAME = "app.cgi"
INSTALL_HINT = "apt-get install nginx fcgiwrap"
# fcgiwrap makes its socket with the umask's mode; nginx's workers (nobody, as root) must connect to it.
_UMASK_EXEC = 'umask 000 && exec "$0" "$@"'


def cgi_script(target: str, *, python: str, path_dir: str, env: dict[str, str]) -> str:
    """The CGI script serving WSGI `target` ("module:attr") through wsgiref's CGIHandler.

    `python` is the interpreter in the #! line, `path_dir` goes first on sys.path (the app's working
    directory: fcgiwrap runs the script in its own directory) and `env` is set before the app imports.
    """
    return (
        f"#!{python}\n"
        "# Written by loadbench for one server start (loadbench/servers/cgi.py): one process per request.\n"
        "import os, pkgutil, sys\n"
        f"sys.path.insert(0, {path_dir!r})\n"
        f"os.environ.update({env!r})\n"
        "from wsgiref.handlers import CGIHandler\n"
        f"CGIHandler().run(pkgutil.resolve_name({target!r}))\n"
    )


class CgiModel(NginxModel):
    """nginx + fcgiwrap: every request forks and execs a fresh Python on the app's CGI face."""

    name = "cgi"
    family = Family.PROCESS_PER_REQUEST
    description = "CGI: nginx → fcgiwrap, a fresh Python interpreter (wsgiref CGIHandler) per request"
    binaries = ("nginx",)
    install_hint = INSTALL_HINT
    install = "apt-get install nginx fcgiwrap"
    interfaces = ("wsgi",)
    serves_import_apps = True
    not_ready_statuses = frozenset({502, 503, 504})  # nginx is up, fcgiwrap not yet
    tls_capable = False  # prepare() writes a plain-HTTP server block
    http2_capable = False
    unprofiled_reason = (
        "every CGI request runs in a fresh Python that lives for one request (about 0.1 s): there is no "
        "long-lived interpreter for py-spy to sample, and nginx and fcgiwrap run no Python"
    )

    def available(self) -> str | None:
        if find_binary(("fcgiwrap",)) is None:
            return f"cgi needs fcgiwrap (and nginx), not found in PATH or /usr/sbin; install: {INSTALL_HINT}"
        return super().available()

    def argv(self, app: AppSpec, opts: ServerOptions, port: int, run_dir: Path) -> list[str]:
        socket_path = run_dir / SOCKET_NAME
        fcgiwrap = find_binary(("fcgiwrap",)) or "fcgiwrap"
        wrapper = ["/bin/sh", "-c", _UMASK_EXEC, fcgiwrap, "-c", str(opts.workers or DEFAULT_WORKERS),
                   "-s", f"unix:{socket_path}"]
        commands = [wrapper, self.nginx_argv(opts, port, run_dir)]
        return [sys.executable, "-S", str(PAIR_PATH), "--wait-for", str(socket_path), json.dumps(commands)]

    def prepare(self, app: AppSpec, opts: ServerOptions, port: int, run_dir: Path) -> list[str]:
        from loadbench.app.data import CACHE_DIR_ENV, cache_dir

        self.check_app(app)
        (run_dir / SOCKET_NAME).unlink(missing_ok=True)  # a killed attempt's would fool --wait-for
        target = BUNDLED_WSGI if app.kind == "bundled" else self.app_target(app)
        env = {CACHE_DIR_ENV: str(cache_dir()), **dict(app.env)}
        script = run_dir / SCRIPT_NAME
        script.write_text(cgi_script(target, python=sys.executable, path_dir=app.cwd or os.getcwd(), env=env))
        script.chmod(0o755)
        config = nginx_config(
            run_dir=run_dir, host=opts.bind_host, port=port, workers=1, user=run_user(),
            upstream_socket=run_dir / SOCKET_NAME, upstream_protocol="fastcgi", cgi_script=script,
        )
        config_path(run_dir, opts, port).write_text(config)
        share_run_dir(run_dir)
        return self.argv(app, opts, port, run_dir)
