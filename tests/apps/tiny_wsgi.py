"""A minimal WSGI app, as a user would bring one: answers every path with 200 and a short body."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

BODY = b"tiny wsgi\n"


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer 200 text/plain with BODY (any method, any path)."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]
