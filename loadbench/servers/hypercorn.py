"""The hypercorn model: an ASGI server speaking HTTP/1.1 and HTTP/2 (h2 over TLS, h2c in the clear).

With `tls` it serves https with the throwaway certificate and offers HTTP/2 by ALPN ("h2", then
"http/1.1"): a client that offers only http/1.1 (the native engine, httpx without --http2) gets
HTTP/1.1. Workers are asyncio event loops (uvloop when installed). Its per-connection request limit
(1,000 by default) is lifted by the config module below, so keep-alive connections are not recycled
in the middle of a measurement; its access log is off, as every model's.
"""

from __future__ import annotations

import importlib.util
import sys

from loadbench.results.family import Family
from loadbench.servers.base import AppSpec, ModelBase, ServerOptions
from loadbench.servers.gunicorn import bind_address
from loadbench.servers.uvicorn import tls_args

DEFAULT_WORKERS = 1
CONFIG = "python:loadbench.servers._hypercorn_config"


class HypercornModel(ModelBase):
    """hypercorn: asyncio event loop per worker process, ASGI, HTTP/2 over TLS."""

    name = "hypercorn"
    family = Family.EVENT_LOOP
    requires = (("hypercorn", "pip install 'loadbench[http2]' (or pip install hypercorn)"),)
    interfaces = ("asgi",)
    tls_capable = True
    http2_capable = True
    unix_socket_capable = True  # --bind unix:PATH (plain HTTP/1.1 and h2c there)

    @property
    def description(self) -> str:  # type: ignore[override]
        loop = _worker_class()
        return f"hypercorn: asyncio ({loop}) event loop per process, ASGI, HTTP/1.1 and HTTP/2 (h2)"

    def command(self, app: AppSpec, opts: ServerOptions, port: int) -> list[str]:
        return [
            sys.executable, "-m", "hypercorn",
            "--config", CONFIG,
            "--bind", bind_address(opts, port),
            "--workers", str(opts.workers or DEFAULT_WORKERS),
            "--worker-class", _worker_class(),
            "--backlog", "2048",
            "--graceful-timeout", "2",
            *tls_args(opts, "--certfile", "--keyfile"),
            self.app_target(app),
        ]


def _worker_class() -> str:
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
