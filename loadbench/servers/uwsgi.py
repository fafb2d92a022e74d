"""uWSGI (from the `pyuwsgi` wheel): a master and pre-forked worker processes, speaking HTTP or uwsgi.

`uwsgi` serves HTTP itself on `--http-socket` (each worker parses HTTP; no router process in front), so it
is the pre-fork family beside gunicorn sync. The http-socket answers HTTP/1.1 but closes the connection
after each response without saying so; loadbench adds `Connection: close` (and, like every server the
app is compared with, `Server` and `Date`), so a client reconnects instead of finding a dead connection.

The wheel is uWSGI built as a Python extension: `python -c "import pyuwsgi; pyuwsgi.run()" ARGS` is the
`uwsgi` binary on the venv's own interpreter, so the app imports whatever the venv has. The same command
line, with `--socket`, `--fastcgi-socket` or `--scgi-socket` on a unix socket instead of the HTTP port,
is the app server behind nginx in the protocol-hop models (loadbench/servers/nginx_hop.py).

Options: workers = `--processes` (default: one per pinned CPU, else 2, as gunicorn); threads =
`--threads` per process (default: none, one request at a time per process, as gunicorn sync).
"""

from __future__ import annotations

import sys
from pathlib import Path

from loadbench.results.family import Family
from loadbench.servers.base import AppSpec, ModelBase, ServerOptions
from loadbench.servers.gunicorn import default_workers

INSTALL_HINT = "pip install pyuwsgi  (or: pip install 'loadbench[models]')"
BACKLOG = 2048
_RUN = "import sys, pyuwsgi; sys.exit(pyuwsgi.run())"
#: The headers an HTTP server of its own adds; uWSGI's http-socket adds none of them. httptime[N] is the
#: time N seconds from now in HTTP form; "[ ]" (0, as atoi reads it) keeps "[]" out of the command line,
#: where the loopback check reads a bracketed group as an IPv6 address.
_HTTP_HEADERS = ("--add-header", "Server: uWSGI", "--add-header", "Connection: close",
                 "--route-run", "addheader:Date: ${httptime[ ]}")


def listen_backlog() -> int:
    """BACKLOG, or the kernel's somaxconn when lower: uWSGI refuses to start with a larger `--listen`."""
    try:
        somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    except (OSError, ValueError):
        return 128
    return min(BACKLOG, somaxconn)


def uwsgi_argv(app: AppSpec, target: str, opts: ServerOptions, sockets: list[str]) -> list[str]:
    """uWSGI's command line serving WSGI `target` on `sockets` (e.g. ["--socket", "/run/app.sock"]).

    --die-on-term: SIGTERM (launch's stop, the guard's) shuts down rather than reloads; the mercy
    options keep that shutdown within the guard's grace; --lazy-apps imports the app in each worker;
    --disable-logging drops the per-request log
    line (as uvicorn's --no-access-log); --need-app and --strict turn a bad app or option into an exit.
    """
    argv = [
        sys.executable, "-c", _RUN,
        *sockets,
        "--master",
        "--processes", str(default_workers(opts)),
        "--module", target,
        "--need-app",
        "--strict",
        "--die-on-term",
        "--reload-mercy", "2",
        "--worker-reload-mercy", "2",
        "--disable-logging",
        "--listen", str(listen_backlog()),
        "--single-interpreter",
        # Load the app in each worker after the fork, as gunicorn does without --preload: threads an app
        # starts at import (a2wsgi's event-loop thread, a DB pool) would not survive a fork.
        "--lazy-apps",
        "--vacuum",
        "--no-orphans",
    ]
    if opts.threads:
        argv += ["--threads", str(opts.threads), "--enable-threads"]
    if app.kind == "import":
        argv += ["--pythonpath", "."]  # as gunicorn does: the working directory's modules import
    return argv


class UwsgiModel(ModelBase):
    """uWSGI's own HTTP socket: master + sync worker processes (`--http-socket`, no router process)."""

    name = "uwsgi"
    family = Family.PRE_FORK
    description = "uWSGI --http-socket: master + pre-forked sync workers, each parsing HTTP (no router)"
    requires = (("pyuwsgi", INSTALL_HINT),)
    install = "pip install 'loadbench[models]'"
    interfaces = ("wsgi",)
    unix_socket_capable = True  # --http-socket PATH: HTTP on a Unix socket, parsed by the workers

    def command(self, app: AppSpec, opts: ServerOptions, port: int) -> list[str]:
        path = opts.socket_path
        sockets = ["--http-socket", str(path) if path is not None else f"{opts.bind_host}:{port}"]
        return [*uwsgi_argv(app, self.app_target(app), opts, sockets), *_HTTP_HEADERS]
