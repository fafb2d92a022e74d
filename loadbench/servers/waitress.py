"""The threaded model: waitress, one process with a pool of worker threads (like Apache's worker MPM)."""

from __future__ import annotations

import sys

from loadbench.results.family import Family
from loadbench.servers.base import AppSpec, ModelBase, ServerOptions

DEFAULT_THREADS = 8


def _listen(opts: ServerOptions, port: int) -> list[str]:
    """--listen=HOST:PORT (waitress's default is 0.0.0.0:8080), or its Unix socket (mode 600: ours only)."""
    path = opts.socket_path
    if path is not None:
        return [f"--unix-socket={path}", "--unix-socket-perms=600"]
    return [f"--listen={opts.bind_host}:{port}"]


class WaitressModel(ModelBase):
    """waitress-serve on 127.0.0.1, `threads` worker threads (default 8); `workers` does not apply."""

    name = "waitress"
    family = Family.THREADED
    description = "waitress: one process, a pool of threads (like Apache's worker MPM)"
    requires = (("waitress", "pip install waitress"),)
    interfaces = ("wsgi",)
    unix_socket_capable = True  # --unix-socket=PATH

    def command(self, app: AppSpec, opts: ServerOptions, port: int) -> list[str]:
        threads = opts.threads or DEFAULT_THREADS
        return [
            sys.executable, "-m", "loadbench.servers._waitress_main",
            *_listen(opts, port),
            f"--threads={threads}",
            "--connection-limit=16000",  # default 100 refuses a benchmark's (and a C10K sweep's) connections
            "--asyncore-use-poll",  # select() fails past fd 1024: thousands of idle connections need poll()
            "--backlog=2048",
            "--channel-timeout=30",
            "--ident=loadbench-waitress",
            self.app_target(app),
        ]
