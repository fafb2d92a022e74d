"""A minimal ASGI app, as a user would bring one: answers every path with 200 and a short body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

BODY = b"tiny asgi\n"


async def app(
    scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """Answer 200 text/plain with BODY; accept the lifespan protocol so servers start quietly."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})
