"""The bundled app's WSGI face (``loadbench.app.wsgi:application``): a thin adapter over Endpoints.

Importing it is cheap and touches no file: the static files and the database are made on first need.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from loadbench.app.endpoints import Endpoints, Sleep
from loadbench.app.orders import ORDER_MAX_BYTES

__all__ = ["WSGIApp", "application", "create_app"]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_CHUNK = 64 * 1024


def create_app(data_dir: Path | None = None, *, delay_us: int | None = None) -> WSGIApp:
    """A WSGI application serving the endpoints, its data in ``data_dir`` (default: the cache dir)."""
    endpoints = Endpoints(data_dir) if delay_us is None else Endpoints(data_dir, delay_us=delay_us)
    route = endpoints.route

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method: str = environ["REQUEST_METHOD"]
        body = b""
        path: str = environ.get("PATH_INFO") or "/"
        if method != "GET" and method != "HEAD":
            body = _read_body(environ, ORDER_MAX_BYTES + 1 if path == "/order" else 0)
        if not path.isascii():
            # PEP 3333 hands the raw bytes over as latin-1; ASGI servers decode them as UTF-8. Match them.
            path = path.encode("latin-1").decode("utf-8", "replace")
        result = route(method, path, environ.get("QUERY_STRING", ""), body)
        if isinstance(result, Sleep):
            time.sleep(result.seconds)
            result = result.response
        start_response(result.wsgi_status, result.wsgi_headers)
        return [result.body]

    return application


def _read_body(environ: dict[str, Any], keep: int) -> bytes:
    """Read the request body to its end (so the connection is ready for the next request), keeping its
    first `keep` bytes."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    kept = bytearray()
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        remaining = int(length)
        while remaining > 0:
            chunk = stream.read(min(remaining, _CHUNK))
            if not chunk:
                break
            remaining -= len(chunk)
            if len(kept) < keep:
                kept += chunk[: keep - len(kept)]
    elif "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        while chunk := stream.read(_CHUNK):
            if len(kept) < keep:
                kept += chunk[: keep - len(kept)]
    return bytes(kept)


application = create_app()
