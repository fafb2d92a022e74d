"""loadbench.serve(model, app=None, ...): a server model serving an app on 127.0.0.1, as a context manager.

The server starts under loadbench's guard (no server outlives the process, even after SIGKILL) and is
stopped when the `with` block ends, normally or by an exception. The guard's death signal is tied to
the thread that starts it, so serve() runs on the main thread only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from loadbench.errors import UsageError

if TYPE_CHECKING:
    from loadbench.scenario.types import AppSpec


@contextmanager
def serve(
    model: str, app: str | None = None, *, interface: Literal["auto", "wsgi", "asgi"] = "auto",
    command: str | None = None, port: int = 0, workers: int | None = None, threads: int | None = None,
    cpus: str | list[int] | None = None, ready_timeout: float | str = 15.0, ready_path: str | None = None,
    env: dict[str, str] | None = None, cwd: str | None = None, unix_socket: str | None = None,
) -> Iterator[str]:  # fmt: skip
    """Start `model` serving `app` and yield its base URL (http://127.0.0.1:PORT); stop it on exit.

    With `unix_socket` PATH it listens there instead of a port (as `serve --unix-socket`: any existing
    path is refused, the socket is made 0600 and removed at stop) and yields http://localhost, the URL to
    pair with the path: `bench(url + "/plaintext", unix_socket=PATH)`.

    `app` is "package.module:attribute" (your WSGI or ASGI app; `interface` says which, "auto" detects
    it); None serves loadbench's bundled app. With model "command", `command` is the server's command
    line with {host} and {port}. `port` 0 picks a free port. `workers`/`threads` default to the model's
    own; `cpus` pins the server ("0", "0-1" or a list). Raises ServerStartError (with the server's log
    tail) when it does not become ready within `ready_timeout`, ServerUnavailableError when the model
    cannot run here, and UsageError, in one line, when called off the main thread.
    """
    from loadbench.servers.base import ServerOptions
    from loadbench.servers.registry import get_model
    from loadbench.units import parse_cpus, parse_duration

    if threading.current_thread() is not threading.main_thread():
        raise UsageError(
            "loadbench.serve() must run on the main thread: the guard that stops the server when this "
            "process dies is tied to the thread that starts it; start servers before spawning threads"
        )
    spec = _app_spec(app, interface, command, ready_path, env, cwd)
    server_model = get_model(model)
    options = ServerOptions(
        port=port, workers=workers, threads=threads,
        cpus=parse_cpus(cpus, what="cpus") if cpus is not None else None,
        ready_timeout_s=parse_duration(ready_timeout, what="ready_timeout"),
        unix_socket=Path(unix_socket) if unix_socket is not None else None,
    )  # fmt: skip
    server = server_model.start(spec, options)
    try:
        yield server.url
    finally:
        server.stop()


def _app_spec(app: str | None, interface: str, command: str | None, ready_path: str | None,
              env: dict[str, str] | None, cwd: str | None) -> AppSpec:  # fmt: skip
    from loadbench.scenario.types import AppSpec

    if interface not in ("auto", "wsgi", "asgi"):
        raise UsageError(f"interface: {interface!r} is not 'auto', 'wsgi' or 'asgi'")
    pairs = tuple((str(k), str(v)) for k, v in (env or {}).items())
    if app is not None and command is not None:
        raise UsageError("app and command exclude each other: serve a Python app or run a command")
    if command is not None:
        return AppSpec(kind="command", target=command, ready_path=ready_path or "/", env=pairs, cwd=cwd)
    if app is not None:
        if ":" not in app:
            raise UsageError(f"app: {app!r} is not 'package.module:attribute' (e.g. 'myproject.asgi:app')")
        return AppSpec(kind="import", target=app, interface=interface, ready_path=ready_path or "/",  # type: ignore[arg-type]
                       env=pairs, cwd=cwd)
    return AppSpec(ready_path=ready_path or "/health", env=pairs, cwd=cwd)


__all__ = ["serve"]
