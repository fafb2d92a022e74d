"""The bundled app's endpoints, shared by the WSGI and ASGI faces: (method, path, query) in, a Response out.

Both faces are thin adapters over ``Endpoints.route`` so they cannot drift: every status, body and header
is decided here. An endpoint that waits (``/io``) returns ``Sleep``, and the face waits in its own way
(``time.sleep`` blocks a thread, ``asyncio.sleep`` yields to the event loop), which is the point of it.

Endpoints (GET and HEAD everywhere; POST too on /plaintext, /json and /health, whose body is discarded):

    /plaintext            200 "Hello, World!" text/plain            (TechEmpower plaintext)
    /json                 200 {"message":"Hello, World!"}            (TechEmpower JSON)
    /health               200 "ok"                                   (the readiness probe)
    /static/<name>        200 the deterministic file <name> in STATIC_FILES, application/octet-stream
    /io?ms=N              200 "slept N ms" after waiting N ms, 0 ≤ N ≤ 10000
    /cpu?n=N              200 "cpu n=N result=X", X from N rounds of an LCG holding the GIL, 0 ≤ N ≤ 10^7
    /db?id=N              200 {"id":N,"randomNumber":X} from SQLite, 1 ≤ N ≤ 1000
    POST /order           201 {"order":ID,"item":N,"quantity":Q}: body {"item":N,"quantity":Q} inserted into
                          the orders SQLite table (app/orders.py), 1 ≤ N ≤ 1000; 400 for a bad body

Anything else is 404; a missing or bad parameter is 400 and a method not allowed is 405, each with a
one-line text body saying why. ``LOADBENCH_APP_DELAY_US`` (read once at import) adds that many
microseconds of busy CPU (the thread's CPU time, not wall time) to every request, to make a deliberately
slower candidate for CI-gate tests.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from loadbench.app.data import (
    STATIC_FILES,
    WORLD_ROWS,
    WorldTable,
    cache_dir,
    ensure_static_files,
    ensure_world_db,
)
from loadbench.app.orders import OrdersTable, orders_dir, parse_order
from loadbench.errors import UsageError

__all__ = [
    "CPU_MAX_N",
    "DELAY_ENV",
    "DELAY_US",
    "IO_MAX_MS",
    "Endpoints",
    "Response",
    "Sleep",
    "cpu_work",
]

DELAY_ENV = "LOADBENCH_APP_DELAY_US"
IO_MAX_MS = 10_000
CPU_MAX_N = 10_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """A complete HTTP response, with its WSGI and ASGI forms built once so a face only hands them over.

    ``headers`` always carry Content-Type and Content-Length; servers then have nothing to add to the
    WSGI header list, which is why one list can be shared by every request of a precomputed response.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    wsgi_status: str = field(init=False, repr=False, compare=False)
    wsgi_headers: list[tuple[str, str]] = field(init=False, repr=False, compare=False)
    asgi_start: dict[str, Any] = field(init=False, repr=False, compare=False)
    asgi_body: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        asgi_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers]
        object.__setattr__(self, "wsgi_status", f"{self.status} {HTTPStatus(self.status).phrase}")
        object.__setattr__(self, "wsgi_headers", list(self.headers))
        start = {"type": "http.response.start", "status": self.status, "headers": asgi_headers}
        object.__setattr__(self, "asgi_start", start)
        object.__setattr__(self, "asgi_body", {"type": "http.response.body", "body": self.body})

    def head(self) -> Response:
        """The same response without its body, keeping the Content-Length a GET would carry (RFC 9110)."""
        return Response(status=self.status, headers=self.headers, body=b"")


@dataclass(frozen=True, slots=True, kw_only=True)
class Sleep:
    """Wait ``seconds`` (as a database call would), then send ``response``."""

    seconds: float
    response: Response


def _respond(status: int, body: bytes, content_type: str = "text/plain", *extra: tuple[str, str]) -> Response:
    headers = (("Content-Type", content_type), ("Content-Length", str(len(body))), *extra)
    return Response(status=status, headers=headers, body=body)


def _text(status: int, line: str, *extra: tuple[str, str]) -> Response:
    return _respond(status, line.encode("ascii", "backslashreplace") + b"\n", "text/plain", *extra)


def cpu_work(n: int) -> int:
    """N rounds of a 31-bit linear congruential generator from 1: pure Python that holds the GIL."""
    x = 1
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def _read_delay_us() -> int:
    raw = os.environ.get(DELAY_ENV, "").strip()
    if not raw:
        return 0
    if not (raw.isascii() and raw.isdigit()):
        raise UsageError(
            f"{DELAY_ENV}={raw!r} is not a whole number of microseconds; set it to e.g. 200, or unset it"
        )
    return int(raw)


#: Extra busy microseconds per request, from LOADBENCH_APP_DELAY_US at import (0 when unset).
DELAY_US = _read_delay_us()


def _burn(ns: int) -> None:
    # Busy-wait rather than sleep: the point is a candidate that costs more CPU per request. The clock is
    # this thread's CPU time, not the wall clock, so a request costs `ns` of CPU even when a neighbour
    # takes the core meanwhile (it then takes longer, as real extra work would), and the server's
    # cpu_per_request grows by exactly the delay whatever else the machine is doing.
    end = time.thread_time_ns() + ns
    while time.thread_time_ns() < end:
        pass


_FIXED: dict[str, Response] = {
    "/plaintext": _respond(200, b"Hello, World!"),
    "/json": _respond(200, b'{"message":"Hello, World!"}', "application/json"),
    "/health": _respond(200, b"ok"),
}
_FIXED_HEAD = {path: r.head() for path, r in _FIXED.items()}
_DYNAMIC_PATHS = frozenset({"/io", "/cpu", "/db"})
_ENDPOINT_LIST = (
    "/plaintext /json /health /static/<" + "|".join(STATIC_FILES)
    + "> /io?ms=N /cpu?n=N /db?id=N, POST /order"
)


class Endpoints:
    """Routes requests to responses; holds this process's static-file bytes and database connections.

    Cheap to construct: nothing touches the disk until an endpoint needs its data, or until ``prepare``
    (called at ASGI lifespan startup) makes and loads everything up front.
    """

    def __init__(self, data_dir: Path | None = None, *, delay_us: int = DELAY_US) -> None:
        self._data_dir = data_dir
        self._delay_ns = delay_us * 1000
        self._static: dict[str, Response] = {}
        self._world: WorldTable | None = None
        self._orders: OrdersTable | None = None
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Create the data files if missing and load them, so no request pays for it."""
        for name in STATIC_FILES:
            self._static_response(name)
        self._world_table()

    def route(self, method: str, path: str, query: str, body: bytes = b"") -> Response | Sleep:
        """The response to ``method path?query``; ``query`` is the raw query string without '?', ``body``
        the request body (only POST /order reads it)."""
        if self._delay_ns:
            _burn(self._delay_ns)
        if path == "/order":
            return self._order(body) if method == "POST" else _not_allowed(method, path, "POST")
        fixed = _FIXED.get(path)
        if fixed is not None:
            if method == "GET" or method == "POST":
                return fixed
            if method == "HEAD":
                return _FIXED_HEAD[path]
            return _not_allowed(method, path, "GET, HEAD, POST")
        if method != "GET" and method != "HEAD":
            if path in _DYNAMIC_PATHS or (path.startswith("/static/") and path[8:] in STATIC_FILES):
                return _not_allowed(method, path, "GET, HEAD")
            return _not_found(path)
        result = self._dynamic(path, query)
        if method == "GET":
            return result
        if isinstance(result, Sleep):
            return Sleep(seconds=result.seconds, response=result.response.head())
        return result.head()

    def _dynamic(self, path: str, query: str) -> Response | Sleep:
        if path.startswith("/static/"):
            name = path[8:]
            if name in STATIC_FILES:
                return self._static_response(name)
        elif path == "/io":
            ms = _int_param(query, path, "ms", 0, IO_MAX_MS)
            if isinstance(ms, Response):
                return ms
            return Sleep(seconds=ms / 1000, response=_respond(200, f"slept {ms} ms".encode()))
        elif path == "/cpu":
            n = _int_param(query, path, "n", 0, CPU_MAX_N)
            if isinstance(n, Response):
                return n
            return _respond(200, f"cpu n={n} result={cpu_work(n)}".encode())
        elif path == "/db":
            row_id = _int_param(query, path, "id", 1, WORLD_ROWS)
            if isinstance(row_id, Response):
                return row_id
            number = self._world_table().random_number(row_id)
            body = f'{{"id":{row_id},"randomNumber":{number}}}'.encode()
            return _respond(200, body, "application/json")
        return _not_found(path)

    def _order(self, body: bytes) -> Response:
        parsed = parse_order(body, WORLD_ROWS)
        if isinstance(parsed, str):
            return _text(400, f"bad order on /order: {parsed}")
        item, quantity = parsed
        order_id = self._orders_table().add(item, quantity)
        reply = f'{{"order":{order_id},"item":{item},"quantity":{quantity}}}'.encode()
        return _respond(201, reply, "application/json")

    def _orders_table(self) -> OrdersTable:
        orders = self._orders
        if orders is None:
            with self._lock:
                orders = self._orders or OrdersTable(orders_dir(self.data_dir))
                self._orders = orders
        return orders

    @property
    def data_dir(self) -> Path:
        """Where the data files live: the directory given, else the cache dir (read when needed)."""
        return self._data_dir or cache_dir()

    def _static_response(self, name: str) -> Response:
        response = self._static.get(name)
        if response is None:
            with self._lock:
                directory = ensure_static_files(self.data_dir)
                body = (directory / name).read_bytes()
                response = _respond(200, body, "application/octet-stream")
                self._static[name] = response
        return response

    def _world_table(self) -> WorldTable:
        world = self._world
        if world is None:
            with self._lock:
                world = self._world or WorldTable(ensure_world_db(self.data_dir))
                self._world = world
        return world


def _not_found(path: str) -> Response:
    return _text(404, f"not found: {path[:100]!a}; endpoints: {_ENDPOINT_LIST}")


def _not_allowed(method: str, path: str, allow: str) -> Response:
    return _text(405, f"method {method[:20]!a} not allowed on {path}: use {allow}", ("Allow", allow))


def _int_param(query: str, path: str, name: str, low: int, high: int) -> int | Response:
    """The integer query parameter ``name`` within low..high, or a 400 Response saying what is wrong."""
    raw: str | None = None
    for part in query.split("&"):
        key, _, found = part.partition("=")
        if key == name:
            raw = found
            break
    if raw is None:
        return _text(400, f"missing query parameter '{name}': use {path}?{name}=N with N in {low}..{high}")
    if not (raw.isascii() and raw.isdigit()):
        return _text(400, f"bad query parameter {name}={raw[:30]!a} on {path}: N must be an integer "
                          f"in {low}..{high}")
    # Length first: int() of thousands of digits is slow (and refused past 4300).
    value = int(raw) if len(raw) <= 12 else high + 1
    if not low <= value <= high:
        return _text(400, f"{name}={raw[:30]} on {path} is out of range: the limit is {low}..{high}")
    return value
