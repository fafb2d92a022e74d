"""The protocol-hop models: nginx in front, the app behind a uwsgi, FastCGI or SCGI socket.

This is how Python was served between CGI and the HTTP app servers: the web server parses HTTP and
hands each request to a long-lived Python process over a small protocol on a local socket (FastCGI,
1996; SCGI, 2001; uWSGI's own binary "uwsgi" protocol, 2009, the classic `uwsgi_pass` pairing).

    nginx-uwsgi     nginx uwsgi_pass    → uWSGI --socket          (uwsgi protocol)
    nginx-fastcgi   nginx fastcgi_pass  → uWSGI --fastcgi-socket  (FastCGI)
    nginx-scgi      nginx scgi_pass     → uWSGI --scgi-socket     (SCGI)

All three app servers are uWSGI, chosen over flup: flup's last release is from 2018 and it runs its
protocol parsing in pure Python threads, so a flup FastCGI figure would measure flup; uWSGI is maintained,
parses every protocol in C, and the same master, workers and options behind each socket leave the
protocol as the only difference between the three models (and between nginx-uwsgi and `uwsgi` alone,
the hop). None of the three keeps the upstream connection open (uWSGI closes it after each response),
so each request pays a unix-socket connect behind nginx: that is the hop being measured.

nginx serves /static/ itself, as the classic deployment does (for the bundled app). Both run under one
guard through loadbench/servers/_pair.py, which starts uWSGI, waits for its socket, then starts nginx.
Options: workers and threads are uWSGI's (see loadbench/servers/uwsgi.py); nginx runs one worker.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from loadbench.results.family import Family
from loadbench.servers.base import AppSpec, ServerOptions
from loadbench.servers.external import run_user, share_run_dir, write_docroot
from loadbench.servers.nginx import PAIR_PATH, NginxModel, UpstreamProtocol, config_path, nginx_config
from loadbench.servers.uwsgi import INSTALL_HINT, uwsgi_argv

SOCKET_NAME = "app.sock"


class NginxUwsgiModel(NginxModel):
    """nginx → uWSGI over the uwsgi protocol on a unix socket (the classic `uwsgi_pass` pairing)."""

    name = "nginx-uwsgi"
    family = Family.PROTOCOL_HOP
    description = "nginx uwsgi_pass → uWSGI workers over the uwsgi binary protocol (unix socket)"
    requires: tuple[tuple[str, str], ...] = (("pyuwsgi", INSTALL_HINT),)
    install = "apt-get install nginx && pip install 'loadbench[models]'"
    interfaces = ("wsgi",)
    serves_import_apps = True
    not_ready_statuses = frozenset({502, 503, 504})  # nginx is up, the app server not yet
    protocol: UpstreamProtocol = "uwsgi"
    tls_capable = False  # prepare() writes a plain-HTTP server block (TLS in front: the nginx models)
    http2_capable = False
    unprofiled_reason = None  # py-spy samples the uWSGI workers behind nginx (and skips nginx)
    socket_flag = "--socket"

    def app_argv(self, app: AppSpec, opts: ServerOptions, socket_path: Path) -> list[str]:
        """The app server's command line, listening on `socket_path` (mode 666 inside the 0700 run dir)."""
        sockets = [self.socket_flag, str(socket_path), "--chmod-socket=666"]
        return uwsgi_argv(app, self.app_target(app), opts, sockets)

    def argv(self, app: AppSpec, opts: ServerOptions, port: int, run_dir: Path) -> list[str]:
        socket_path = run_dir / SOCKET_NAME
        commands = [self.app_argv(app, opts, socket_path), self.nginx_argv(opts, port, run_dir)]
        return [sys.executable, "-S", str(PAIR_PATH), "--wait-for", str(socket_path), json.dumps(commands)]

    def prepare(self, app: AppSpec, opts: ServerOptions, port: int, run_dir: Path) -> list[str]:
        self.check_app(app)
        (run_dir / SOCKET_NAME).unlink(missing_ok=True)  # a killed attempt's would fool --wait-for
        static_root = write_docroot(run_dir, fixed_files=False) if app.kind == "bundled" else None
        config = nginx_config(
            run_dir=run_dir, host=opts.bind_host, port=port, workers=1, user=run_user(),
            static_root=static_root, upstream_socket=run_dir / SOCKET_NAME, upstream_protocol=self.protocol,
        )
        config_path(run_dir, opts, port).write_text(config)
        share_run_dir(run_dir)
        return self.argv(app, opts, port, run_dir)


class NginxFastcgiModel(NginxUwsgiModel):
    """nginx → uWSGI's FastCGI socket (the FastCGI chapter, on a maintained server)."""

    name = "nginx-fastcgi"
    description = "nginx fastcgi_pass → uWSGI --fastcgi-socket workers over FastCGI (unix socket)"
    protocol = "fastcgi"
    socket_flag = "--fastcgi-socket"


class NginxScgiModel(NginxUwsgiModel):
    """nginx → uWSGI's SCGI socket."""

    name = "nginx-scgi"
    description = "nginx scgi_pass → uWSGI --scgi-socket workers over SCGI (unix socket)"
    protocol = "scgi"
    socket_flag = "--scgi-socket"
