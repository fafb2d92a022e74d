"""The bundled app: both faces, called in-process, answer every endpoint identically and correctly."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loadbench.app import asgi, data, endpoints, wsgi
from loadbench.app.data import STATIC_FILES, WorldTable, ensure_static_files, ensure_world_db
from loadbench.app.endpoints import Endpoints, Response, Sleep, cpu_work
from loadbench.errors import UsageError


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def essentials(self) -> tuple[int, bytes, str | None, str | None]:
        return self.status, self.body, self.headers.get("content-type"), self.headers.get("content-length")


def call_wsgi(app: wsgi.WSGIApp, method: str, path: str, query: str = "", body: bytes = b"",
              environ_extra: dict[str, Any] | None = None) -> Reply:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)) if body else "",
        **(environ_extra or {}),
    }
    seen: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        seen.append((status, headers))

    chunks = b"".join(app(environ, start_response))
    assert len(seen) == 1
    status, headers = seen[0]
    return Reply(int(status.split()[0]), {k.lower(): v for k, v in headers}, chunks)


def call_asgi(app: asgi.ASGIApp, method: str, path: str, query: str = "", body: bytes = b"") -> Reply:
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "path": path, "raw_path": path.encode(), "query_string": query.encode("latin-1"),
             "headers": [], "scheme": "http", "server": ("127.0.0.1", 8000)}
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return Reply(sent[0]["status"], headers, sent[1]["body"])


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOADBENCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def faces(cache: Path) -> tuple[wsgi.WSGIApp, asgi.ASGIApp]:
    # Built after the env points at the tmp dir, with no delay whatever the environment says.
    return wsgi.create_app(delay_us=0), asgi.create_app(delay_us=0)


CASES = [
    ("GET", "/plaintext", "", 200),
    ("POST", "/plaintext", "", 200),
    ("HEAD", "/plaintext", "", 200),
    ("GET", "/json", "", 200),
    ("POST", "/json", "", 200),
    ("GET", "/health", "", 200),
    ("POST", "/health", "", 200),
    ("GET", "/static/1k.bin", "", 200),
    ("GET", "/static/100k.bin", "", 200),
    ("GET", "/static/1m.bin", "", 200),
    ("HEAD", "/static/1m.bin", "", 200),
    ("GET", "/io", "ms=0", 200),
    ("GET", "/cpu", "n=1000", 200),
    ("GET", "/cpu", "x=1&n=0", 200),
    ("GET", "/db", "id=1", 200),
    ("GET", "/db", "id=1000", 200),
    ("HEAD", "/db", "id=7", 200),
    ("GET", "/io", "", 400),
    ("GET", "/io", "ms=abc", 400),
    ("GET", "/io", "ms=-1", 400),
    ("GET", "/io", "ms=10001", 400),
    ("GET", "/io", "ms=" + "9" * 5000, 400),
    ("GET", "/cpu", "n=10000001", 400),
    ("GET", "/db", "id=0", 400),
    ("GET", "/db", "id=1001", 400),
    ("GET", "/db", "id=1.5", 400),
    ("GET", "/", "", 404),
    ("GET", "/static/", "", 404),
    ("GET", "/static/../etc/passwd", "", 404),
    ("POST", "/nope", "", 404),
    ("PUT", "/plaintext", "", 405),
    ("DELETE", "/json", "", 405),
    ("POST", "/io", "ms=1", 405),
    ("POST", "/cpu", "n=10000000", 405),
    ("OPTIONS", "/static/1k.bin", "", 405),
]


@pytest.mark.parametrize(("method", "path", "query", "status"), CASES,
                         ids=[f"{m} {p}?{q}"[:60] for m, p, q, _ in CASES])
def test_both_faces_answer_the_same(faces: tuple[wsgi.WSGIApp, asgi.ASGIApp], method: str, path: str,
                                    query: str, status: int) -> None:
    body = b"payload" if method == "POST" else b""
    from_wsgi = call_wsgi(faces[0], method, path, query, body)
    from_asgi = call_asgi(faces[1], method, path, query, body)
    assert from_wsgi.status == status
    assert from_wsgi.essentials == from_asgi.essentials
    if method == "HEAD":
        assert from_wsgi.body == b""
        full = call_wsgi(faces[0], "GET", path, query)
        assert from_wsgi.headers["content-length"] == str(len(full.body)) != "0"
    else:
        assert from_wsgi.headers["content-length"] == str(len(from_wsgi.body))
    if status != 200:
        assert from_wsgi.body.endswith(b"\n") and from_wsgi.body.count(b"\n") == 1
        assert from_wsgi.headers["content-type"] == "text/plain"


@pytest.mark.parametrize(("path", "query", "content_type", "expected"), [
    ("/plaintext", "", "text/plain", b"Hello, World!"),
    ("/json", "", "application/json", b'{"message":"Hello, World!"}'),
    ("/health", "", "text/plain", b"ok"),
    ("/io", "ms=0", "text/plain", b"slept 0 ms"),
    ("/cpu", "n=10000", "text/plain", f"cpu n=10000 result={cpu_work(10000)}".encode()),
])
def test_endpoint_bodies(faces: tuple[wsgi.WSGIApp, asgi.ASGIApp], path: str, query: str,
                         content_type: str, expected: bytes) -> None:
    reply = call_asgi(faces[1], "GET", path, query)
    assert (reply.status, reply.headers["content-type"], reply.body) == (200, content_type, expected)


def test_cpu_work_is_a_deterministic_lcg() -> None:
    assert cpu_work(0) == 1
    assert cpu_work(1) == (1103515245 + 12345) & 0x7FFFFFFF
    assert cpu_work(3) == cpu_work(3) != cpu_work(2)


def test_static_files_are_served_from_the_cache_dir(faces: tuple[wsgi.WSGIApp, asgi.ASGIApp],
                                                    cache: Path) -> None:
    assert not cache.exists()  # nothing made before the first need
    for name, size in STATIC_FILES.items():
        reply = call_wsgi(faces[0], "GET", f"/static/{name}")
        assert len(reply.body) == size
        assert reply.headers["content-type"] == "application/octet-stream"
        assert reply.body == (cache / name).read_bytes() == data.static_bytes(name)
    assert len(set(data.static_bytes(n)[:64] for n in STATIC_FILES)) == len(STATIC_FILES)


def test_db_returns_the_row_from_sqlite(faces: tuple[wsgi.WSGIApp, asgi.ASGIApp], cache: Path) -> None:
    reply = call_wsgi(faces[0], "GET", "/db", "id=42")
    row = json.loads(reply.body)
    con = sqlite3.connect(cache / "world-v1.sqlite3")
    try:
        (expected,) = con.execute("SELECT randomNumber FROM world WHERE id = 42").fetchone()
        assert con.execute("SELECT count(*) FROM world").fetchone() == (1000,)
    finally:
        con.close()
    assert row == {"id": 42, "randomNumber": expected} and 1 <= expected <= 10000
    assert reply.headers["content-type"] == "application/json"


def test_world_table_is_read_only_with_one_connection_per_thread(tmp_path: Path) -> None:
    table = WorldTable(ensure_world_db(tmp_path))
    connections: list[sqlite3.Connection] = []

    def look_up() -> None:
        assert table.random_number(1) is not None
        assert table.random_number(5000) is None
        connections.append(table._local.con)

    threads = [threading.Thread(target=look_up) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    look_up()
    assert len({id(c) for c in connections}) == 3
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        connections[-1].execute("UPDATE world SET randomNumber = 0")


def test_data_files_are_made_once_and_repaired(tmp_path: Path) -> None:
    directory = ensure_static_files(tmp_path)
    db = ensure_world_db(tmp_path)
    stamp = db.stat().st_mtime_ns
    (tmp_path / "1k.bin").write_bytes(b"truncated")
    assert ensure_static_files(tmp_path) == directory == tmp_path
    assert ensure_world_db(tmp_path) == db and db.stat().st_mtime_ns == stamp
    assert (tmp_path / "1k.bin").read_bytes() == data.static_bytes("1k.bin")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*STATIC_FILES, db.name])  # no temp left
    assert (tmp_path / "1m.bin").stat().st_mode & 0o044 == 0o044  # readable by nginx/apache workers


def test_io_returns_a_sleep_and_each_face_waits_its_own_way(faces: tuple[wsgi.WSGIApp, asgi.ASGIApp],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    result = Endpoints(delay_us=0).route("GET", "/io", "ms=250")
    assert isinstance(result, Sleep) and result.seconds == 0.25
    assert result.response.body == b"slept 250 ms"
    waits: list[tuple[str, float]] = []

    async def fake_async_sleep(seconds: float) -> None:
        waits.append(("asyncio", seconds))

    monkeypatch.setattr(wsgi.time, "sleep", lambda seconds: waits.append(("time", seconds)))
    monkeypatch.setattr(asgi.asyncio, "sleep", fake_async_sleep)
    assert call_wsgi(faces[0], "GET", "/io", "ms=250").body == b"slept 250 ms"
    assert call_asgi(faces[1], "GET", "/io", "ms=250").body == b"slept 250 ms"
    assert waits == [("time", 0.25), ("asyncio", 0.25)]


def test_error_bodies_say_why_and_the_limit(faces: tuple[wsgi.WSGIApp, asgi.ASGIApp]) -> None:
    assert b"0..10000" in call_wsgi(faces[0], "GET", "/io", "ms=20000").body
    assert b"missing query parameter 'n'" in call_wsgi(faces[0], "GET", "/cpu").body
    assert b"1..1000" in call_wsgi(faces[0], "GET", "/db", "id=x").body
    refused = call_wsgi(faces[0], "PATCH", "/plaintext")
    assert refused.headers["allow"] == "GET, HEAD, POST" and b"'PATCH'" in refused.body
    assert b"/plaintext" in call_wsgi(faces[0], "GET", "/missing").body  # 404 lists the endpoints


def test_non_ascii_and_control_paths_match(faces: tuple[wsgi.WSGIApp, asgi.ASGIApp]) -> None:
    raw = "/caf\u00e9\n"
    from_wsgi = call_wsgi(faces[0], "GET", raw.encode().decode("latin-1"))  # as PEP 3333 servers pass it
    from_asgi = call_asgi(faces[1], "GET", raw)
    assert from_wsgi.essentials == from_asgi.essentials
    assert from_wsgi.status == 404 and from_wsgi.body.isascii() and from_wsgi.body.count(b"\n") == 1


def test_post_bodies_are_read_to_the_end(faces: tuple[wsgi.WSGIApp, asgi.ASGIApp]) -> None:
    stream = io.BytesIO(b"x" * 200_000)
    call_wsgi(faces[0], "POST", "/json", environ_extra={"wsgi.input": stream, "CONTENT_LENGTH": "200000"})
    assert stream.tell() == 200_000
    chunked = io.BytesIO(b"y" * 70_000)
    call_wsgi(faces[0], "POST", "/json",
              environ_extra={"wsgi.input": chunked, "HTTP_TRANSFER_ENCODING": "chunked"})
    assert chunked.tell() == 70_000

    incoming = [{"type": "http.request", "body": b"a", "more_body": True},
                {"type": "http.request", "body": b"b", "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/health", "query_string": b""}
    asyncio.run(faces[1](scope, receive, send))  # type: ignore[arg-type]
    assert incoming == [] and sent[1]["body"] == b"ok"


def run_lifespan(app: asgi.ASGIApp) -> list[dict[str, Any]]:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))  # type: ignore[arg-type]
    return sent


def test_asgi_lifespan_prepares_the_data(faces: tuple[wsgi.WSGIApp, asgi.ASGIApp], cache: Path) -> None:
    sent = run_lifespan(faces[1])
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert {p.name for p in cache.iterdir()} == {*STATIC_FILES, "world-v1.sqlite3"}


def test_asgi_lifespan_reports_a_failed_startup(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    sent = run_lifespan(asgi.create_app(blocker, delay_us=0))
    assert sent[0]["type"] == "lifespan.startup.failed" and "not-a-dir" in sent[0]["message"]


def test_asgi_closes_websockets(faces: tuple[wsgi.WSGIApp, asgi.ASGIApp]) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(faces[1]({"type": "websocket", "path": "/"}, receive, send))  # type: ignore[arg-type]
    assert sent == [{"type": "websocket.close", "code": 1003}]


@pytest.mark.parametrize(("value", "expected"), [("", 0), ("250", 250), (" 7 ", 7)])
def test_delay_knob_reads_microseconds(monkeypatch: pytest.MonkeyPatch, value: str, expected: int) -> None:
    monkeypatch.setenv(endpoints.DELAY_ENV, value)
    assert endpoints._read_delay_us() == expected


def test_delay_knob_rejects_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(endpoints.DELAY_ENV, "2ms")
    with pytest.raises(UsageError, match=r"LOADBENCH_APP_DELAY_US='2ms'.*e\.g\. 200"):
        endpoints._read_delay_us()


def test_hot_responses_are_precomputed() -> None:
    app = Endpoints(delay_us=0)
    first, second = app.route("GET", "/plaintext", ""), app.route("GET", "/plaintext", "")
    assert first is second and isinstance(first, Response)
    assert first.wsgi_status == "200 OK"
    assert first.wsgi_headers == [("Content-Type", "text/plain"), ("Content-Length", "13")]
    assert first.asgi_start["headers"] == [(b"content-type", b"text/plain"), (b"content-length", b"13")]


def test_importing_the_faces_makes_no_files(tmp_path: Path) -> None:
    target = tmp_path / "untouched"
    code = "import loadbench.app.wsgi, loadbench.app.asgi, loadbench.app"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60,
                   env={"LOADBENCH_CACHE_DIR": str(target), "PATH": "/usr/bin:/bin"})
    assert not target.exists()


# -- POST /order: the journey's write, the same in both faces ------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b'{"item": 12, "quantity": 2}', 201, b'"item":12,"quantity":2'),
        (b'{"item": 1000}', 201, b'"quantity":1'),
        (b'{"item": 0, "quantity": 1}', 400, b"item must be an integer in 1..1000"),
        (b'{"item": true}', 400, b"item must be an integer"),
        (b'{"item": 3, "quantity": 1001}', 400, b"quantity must be an integer in 1..1000"),
        (b"not json", 400, b"the body must be JSON"),
        (b"[1, 2]", 400, b"must be a JSON object"),
        (b'{"item": 1, "pad": "' + b"x" * 5000 + b'"}', 400, b"at most 4096 bytes"),
    ],
    ids=["ok", "default-quantity", "item-0", "item-bool", "quantity-big", "not-json", "list", "too-big"],
)
def test_order_post_answers_the_same_in_both_faces(
    faces: tuple[wsgi.WSGIApp, asgi.ASGIApp], body: bytes, status: int, says: bytes
) -> None:
    wsgi_app, asgi_app = faces
    replies = (call_wsgi(wsgi_app, "POST", "/order", body=body),
               call_asgi(asgi_app, "POST", "/order", body=body))
    for reply in replies:
        assert reply.status == status, reply.body
        assert says in reply.body
        assert reply.headers["content-length"] == str(len(reply.body))


def test_orders_are_written_to_sqlite_by_both_faces(
    faces: tuple[wsgi.WSGIApp, asgi.ASGIApp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOADBENCH_ORDERS_DIR", str(tmp_path / "orders"))
    wsgi_app, asgi_app = wsgi.create_app(delay_us=0), asgi.create_app(delay_us=0)
    first = json.loads(call_wsgi(wsgi_app, "POST", "/order", body=b'{"item": 5, "quantity": 3}').body)
    second = json.loads(call_asgi(asgi_app, "POST", "/order", body=b'{"item": 6}').body)
    assert second["order"] > first["order"] >= 1
    con = sqlite3.connect(tmp_path / "orders" / "orders.sqlite3")
    try:
        rows = con.execute("SELECT item, quantity FROM orders ORDER BY id").fetchall()
    finally:
        con.close()
    assert rows == [(5, 3), (6, 1)]


@pytest.mark.parametrize("method", ["GET", "PUT", "HEAD"])
def test_order_is_post_only(faces: tuple[wsgi.WSGIApp, asgi.ASGIApp], method: str) -> None:
    for reply in (call_wsgi(faces[0], method, "/order"), call_asgi(faces[1], method, "/order")):
        assert reply.status == 405 and reply.headers["allow"] == "POST"


def test_orders_dir_falls_back_when_the_data_dir_is_read_only(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from loadbench.app.orders import orders_dir

    monkeypatch.delenv("LOADBENCH_ORDERS_DIR", raising=False)
    monkeypatch.setattr("os.access", lambda path, mode: False)
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    assert orders_dir(tmp_path / "data") == tmp_path / f"loadbench-orders-{os.getuid()}"
