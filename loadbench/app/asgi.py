"""The bundled app's ASGI 3 face (``loadbench.app.asgi:application``): a thin adapter over Endpoints.

Handles ``lifespan`` (startup makes and loads the data files, so no request pays for it) and closes
websocket connections, which the app does not offer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from loadbench.app.data import CACHE_DIR_ENV
from loadbench.app.endpoints import Endpoints, Sleep
from loadbench.app.orders import ORDER_MAX_BYTES

__all__ = ["ASGIApp", "application", "create_app"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def create_app(data_dir: Path | None = None, *, delay_us: int | None = None) -> ASGIApp:
    """An ASGI 3 application serving the endpoints, its data in ``data_dir`` (default: the cache dir)."""
    endpoints = Endpoints(data_dir) if delay_us is None else Endpoints(data_dir, delay_us=delay_us)
    route = endpoints.route

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            method: str = scope["method"]
            path: str = scope["path"]
            body = b""
            if method != "GET" and method != "HEAD":
                body = await _read_body(receive, ORDER_MAX_BYTES + 1 if path == "/order" else 0)
            raw_query: bytes = scope["query_string"]
            # route() runs inline, /db's SQLite query included: a primary-key lookup in a 1000-row table
            # with a warm page cache takes a few microseconds, far less than a hop to a worker thread
            # (tens of microseconds), so blocking the loop for it costs less than avoiding the block.
            result = route(method, path, raw_query.decode("latin-1") if raw_query else "", body)
            if isinstance(result, Sleep):
                await asyncio.sleep(result.seconds)
                result = result.response
            await send(result.asgi_start)
            await send(result.asgi_body)
        elif kind == "lifespan":
            await _lifespan(endpoints, receive, send)
        elif kind == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1003})
        else:
            raise ValueError(f"loadbench app: unsupported ASGI scope type {kind!r}; it serves http only")

    return application


async def _read_body(receive: Receive, keep: int) -> bytes:
    """Receive the request body to its end, keeping its first `keep` bytes."""
    kept = bytearray()
    while True:
        message = await receive()
        if len(kept) < keep:
            kept += message.get("body", b"")[: keep - len(kept)]
        if message["type"] != "http.request" or not message.get("more_body", False):
            return bytes(kept)


async def _lifespan(endpoints: Endpoints, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                # Blocking file I/O is fine here: the server accepts no request until startup completes.
                endpoints.prepare()
            except Exception as exc:  # reported to the server, which logs it and exits
                problem = (
                    f"loadbench app: could not prepare its data files in {endpoints.data_dir}: {exc}; "
                    f"set {CACHE_DIR_ENV} to a writable directory"
                )
                await send({"type": "lifespan.startup.failed", "message": problem})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


application = create_app()
