"""The event-loop model: uvicorn serving the ASGI face, on uvloop + httptools when they are installed."""

from __future__ import annotations

import importlib.util
import sys

from loadbench.results.family import Family
from loadbench.servers.base import AppSpec, ModelBase, ServerOptions

DEFAULT_WORKERS = 1


def _fast_parts() -> tuple[str, str]:
    """(loop, http): uvloop and httptools when importable, else asyncio and h11 (several times slower)."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") is not None else "h11"
    return loop, http


class UvicornModel(ModelBase):
    """uvicorn: one asyncio event loop per worker process (default 1 worker), like nginx's model."""

    name = "uvicorn"
    family = Family.EVENT_LOOP
    requires = (("uvicorn", "pip install uvicorn"),)
    interfaces = ("asgi",)
    tls_capable = True  # HTTP/1.1 only: uvicorn speaks no HTTP/2
    unix_socket_capable = True  # --uds PATH

    @property
    def description(self) -> str:  # type: ignore[override]
        loop, http = _fast_parts()
        text = f"uvicorn: asyncio event loop per process, ASGI ({loop} + {http}"
        if (loop, http) != ("uvloop", "httptools"):
            text += "; pip install uvloop httptools for the fast path"
        return text + ")"

    def command(self, app: AppSpec, opts: ServerOptions, port: int) -> list[str]:
        loop, http = _fast_parts()
        return [
            sys.executable, "-m", "uvicorn",
            *listen_args(opts, port, "--uds"),
            "--workers", str(opts.workers or DEFAULT_WORKERS),
            "--loop", loop,
            "--http", http,
            "--no-access-log",  # costs ~3x throughput
            "--timeout-keep-alive", "75",  # as nginx and Apache here; uvicorn's 5 s would drop idle clients
            "--backlog", "2048",
            "--timeout-graceful-shutdown", "2",
            "--lifespan", "auto",
            *tls_args(opts, "--ssl-certfile", "--ssl-keyfile"),
            self.app_target(app),
        ]


def listen_args(opts: ServerOptions, port: int, socket_flag: str) -> list[str]:
    """--host H --port P, or `socket_flag` PATH on a Unix socket (uvicorn's --uds, granian's --uds)."""
    path = opts.socket_path
    return [socket_flag, str(path)] if path is not None else ["--host", opts.bind_host, "--port", str(port)]


def tls_args(opts: ServerOptions, cert_flag: str, key_flag: str) -> list[str]:
    """The certificate flags of a Python server serving TLS (empty without opts.tls_files)."""
    files = opts.tls_files
    return [] if files is None else [cert_flag, str(files.cert), key_flag, str(files.key)]
