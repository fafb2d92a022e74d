"""The Rust-core models: granian, where HTTP parsing, the sockets and the I/O loop are Rust (hyper, tokio)
and Python is called once per request.

`granian` serves the app's ASGI face (Python's asyncio loop for the app's awaits, uvloop when
installed); `granian-wsgi` serves the WSGI face, each request run on one of the worker's blocking
threads (`threads` sets how many; granian's own default otherwise). Both run one worker process by
default, as uvicorn, with the access log off and websockets off.
"""

from __future__ import annotations

import sys

from loadbench.results.family import Family
from loadbench.servers.base import AppSpec, ModelBase, ServerOptions
from loadbench.servers.uvicorn import listen_args

DEFAULT_WORKERS = 1
INSTALL_HINT = "pip install granian  (or: pip install 'loadbench[models]')"


class GranianModel(ModelBase):
    """granian on the ASGI face: a Rust HTTP core calling the app on an asyncio loop per worker."""

    name = "granian"
    family = Family.RUST_CORE
    description = "granian --interface asgi: Rust (hyper/tokio) HTTP core, the app on an asyncio loop"
    requires = (("granian", INSTALL_HINT),)
    install = "pip install 'loadbench[models]'"
    interfaces = ("asgi",)
    unix_socket_capable = True  # --uds PATH

    def interface_args(self, opts: ServerOptions) -> list[str]:
        return ["--interface", "asgi", "--loop", "auto"]

    def command(self, app: AppSpec, opts: ServerOptions, port: int) -> list[str]:
        return [
            sys.executable, "-m", "granian",
            *self.interface_args(opts),
            *listen_args(opts, port, "--uds"),
            "--workers", str(opts.workers or DEFAULT_WORKERS),
            "--http", "1",  # HTTP/1.1 only, as every other model here
            "--no-ws",
            "--no-access-log",
            "--log-level", "warning",
            "--backlog", "2048",
            "--workers-kill-timeout", "2",
            "--no-respawn-failed-workers",  # a crashing app shows as a failed start, not a restart loop
            self.app_target(app),
        ]


class GranianWsgiModel(GranianModel):
    """granian on the WSGI face: the Rust core hands each request to a blocking thread of the worker."""

    name = "granian-wsgi"
    description = "granian --interface wsgi: Rust (hyper/tokio) HTTP core, the app on blocking threads"
    interfaces = ("wsgi",)  # type: ignore[assignment]  # the other face of the same server

    def interface_args(self, opts: ServerOptions) -> list[str]:
        threads = ["--blocking-threads", str(opts.threads)] if opts.threads else []
        return ["--interface", "wsgi", *threads]
