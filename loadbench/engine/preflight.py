"""The strict preflight: one request per endpoint before any load, framing and answers checked.

A server that frames its answers wrongly (a Content-Length that is not the body's length, a broken chunked
encoding) or answers something else than it should would make every figure of a run meaningless: a
load generator may count such answers as successes, or stall on them. `preflight` fetches each distinct
request of a server block once, on its own connection (TLS when the target is https, trusting the run's
CA), with `Connection: close`, reads the answer until the server closes or, for a server that keeps the
connection, until the answer is complete by its own framing plus a short grace for stray bytes, and checks:

- always, the framing: a parseable HTTP/1.x head; with Content-Length, exactly that many body bytes
  before the close (a longer or shorter body is named); with chunked encoding, valid chunks ending with
  the last chunk and nothing after it; a HEAD answer has no body;
- for the bundled app (`bundled`), the status and body against the app's own answer to that request
  (computed in-process by loadbench.app.endpoints), so a server or proxy that mangles answers is caught.

Any other status passes by default (measuring a 404 path on purpose stays possible). Each problem is one
line naming the request and what was wrong.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Sequence

from loadbench.types import DriveOptions, RequestSpec, Target

__all__ = ["preflight"]

MAX_ANSWER_BYTES = 16 * 1024 * 1024
STRAY_GRACE_S = 0.2  # after a complete answer on a kept connection: bytes arriving now are mis-framed
_SHOWN = 40


def preflight(
    target: Target, requests: Sequence[RequestSpec], options: DriveOptions, *, bundled: bool
) -> list[str]:
    """Problems found fetching each distinct request once (empty when every answer is right)."""
    context = None
    if target.scheme == "https":
        from loadbench.engine.tls import client_context

        context = client_context(options)
    problems: list[str] = []
    seen: set[tuple[str, str, tuple[tuple[str, str], ...], bytes]] = set()
    for spec in requests:
        key = (spec.method.upper(), spec.path, spec.headers, spec.body)
        if key in seen:
            continue
        seen.add(key)
        where = f"{spec.method.upper()} {spec.path}"
        if spec.template_dir is not None:  # fetched as the run's first rendering of it would be
            from loadbench.engine.native.templated import first_rendering

            spec = first_rendering(spec, seed=options.seed)
        try:
            raw = _fetch(target, spec, context, options.timeout_s, head_request=spec.method.upper() == "HEAD",
                         unix_socket=options.unix_socket)
            status, body = _frame(raw, head_request=spec.method.upper() == "HEAD")
        except _Bad as exc:
            problems.append(f"{where}: {exc}")
            continue
        except (OSError, ssl.SSLError) as exc:
            problems.append(f"{where}: no answer ({type(exc).__name__}: {exc})")
            continue
        if bundled:
            expected = _bundled_answer(spec)
            if expected is not None:
                problem = _compare(status, body, expected, head_request=spec.method.upper() == "HEAD")
                if problem:
                    problems.append(f"{where}: {problem}")
    return problems


class _Bad(Exception):
    """A framing problem, in words."""


def _fetch(target: Target, spec: RequestSpec, context: ssl.SSLContext | None, timeout_s: float, *,
           head_request: bool, unix_socket: str | None = None) -> bytes:  # fmt: skip
    """Send `spec` with Connection: close; read until the close, or the answer's end + STRAY_GRACE_S."""
    deadline = time.monotonic() + max(timeout_s, 1.0) * 5
    complete_at: float | None = None
    headers = [("Host", target.authority), *spec.headers, ("Connection", "close")]
    if spec.body:
        headers.append(("Content-Length", str(len(spec.body))))
    head = f"{spec.method.upper()} {spec.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    if unix_socket is not None:  # the same request, over the server's Unix socket (options.unix_socket)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout_s * 5)
        try:
            sock.connect(unix_socket)
        except OSError:
            sock.close()
            raise
    else:
        sock = socket.create_connection((target.host, target.port), timeout=timeout_s * 5)
    try:
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname=target.host)
        sock.sendall(head.encode("latin-1") + b"\r\n" + spec.body)
        chunks: list[bytes] = []
        size = 0
        while True:
            if complete_at is None and chunks and _complete(b"".join(chunks), head_request=head_request):
                complete_at = time.monotonic()
            if complete_at is not None and time.monotonic() >= complete_at + STRAY_GRACE_S:
                break
            remaining = deadline - time.monotonic()
            if complete_at is not None:
                remaining = min(remaining, complete_at + STRAY_GRACE_S - time.monotonic())
            if remaining <= 0 and complete_at is None:
                raise _Bad(f"the answer did not end within {max(timeout_s, 1.0) * 5:g} s (no close after "
                           f"{size} bytes: is its length right?)")  # fmt: skip
            sock.settimeout(max(remaining, 0.001))
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except ssl.SSLError as exc:  # a TLS close without close_notify ends the answer too
                if "EOF" in str(exc) or "UNEXPECTED_EOF" in str(exc):
                    break
                raise
            if not data:
                break
            chunks.append(data)
            size += len(data)
            if size > MAX_ANSWER_BYTES:
                raise _Bad(f"answer longer than {MAX_ANSWER_BYTES // (1024 * 1024)} MiB")
        return b"".join(chunks)
    finally:
        sock.close()


def _complete(raw: bytes, *, head_request: bool) -> bool:
    """True when `raw` holds a whole answer by its own framing (or a framing error _frame will name)."""
    try:
        status, fields, rest = _head(raw)
    except _Bad:
        return b"\r\n\r\n" in raw
    if head_request or status in (204, 304) or 100 <= status < 200:
        return True
    if "chunked" in ",".join(fields.get("transfer-encoding", [])).lower():
        try:
            _dechunk(rest)
        except _Bad as exc:
            return "cut off" not in str(exc) and "final CRLF" not in str(exc)
        return True
    lengths = fields.get("content-length", [])
    if lengths:
        return not lengths[0].isdigit() or len(rest) >= int(lengths[0])
    return False  # the body runs until the close


def _head(raw: bytes) -> tuple[int, dict[str, list[str]], bytes]:
    """(status, header fields by lower-case name, the bytes after the head), or _Bad."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        raise _Bad(f"no complete response head ({len(raw)} bytes: {raw[:_SHOWN]!r})")
    lines = raw[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise _Bad(f"not an HTTP/1.x status line: {lines[0][:_SHOWN]!r}")
    status = int(parts[1])
    fields: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise _Bad(f"a header line without ':': {line[:_SHOWN]!r}")
        fields.setdefault(name.strip().lower(), []).append(value.strip())
    return status, fields, raw[end + 4 :]


def _frame(raw: bytes, *, head_request: bool) -> tuple[int, bytes]:
    """(status, body) of one whole answer, or _Bad naming the framing problem."""
    status, fields, rest = _head(raw)
    if head_request or status in (204, 304) or 100 <= status < 200:
        if rest:
            raise _Bad(f"{len(rest)} bytes after a response that has no body")
        return status, b""
    if "chunked" in ",".join(fields.get("transfer-encoding", [])).lower():
        return status, _dechunk(rest)
    lengths = set(fields.get("content-length", []))
    if lengths:
        if len(lengths) > 1 or not next(iter(lengths)).isdigit():
            raise _Bad(f"bad Content-Length {sorted(lengths)}")
        length = int(next(iter(lengths)))
        if len(rest) != length:
            more = "longer" if len(rest) > length else "shorter"
            raise _Bad(f"Content-Length {length} but the body is {len(rest)} bytes ({more}): wrong framing")
        return status, rest
    return status, rest  # no length: the body runs until the close


def _dechunk(data: bytes) -> bytes:
    """A chunked body decoded strictly: valid sizes, CRLFs, the last chunk, trailers, nothing after."""
    body = bytearray()
    pos = 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            raise _Bad("chunked body cut off (no size line)")
        size_text = data[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _Bad(f"chunk size {size_text[:_SHOWN]!r} is not hex: broken chunked encoding") from None
        pos = eol + 2
        if size == 0:
            break
        if len(data) < pos + size + 2:
            raise _Bad("chunked body cut off in a chunk")
        body += data[pos : pos + size]
        if data[pos + size : pos + size + 2] != b"\r\n":
            raise _Bad("chunk data not followed by CRLF: broken chunked encoding")
        pos += size + 2
    while True:  # trailers, then the final CRLF
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            raise _Bad("chunked body without its final CRLF")
        line, pos = data[pos:eol], eol + 2
        if not line:
            break
    if pos != len(data):
        raise _Bad(f"{len(data) - pos} bytes after the end of a chunked body")
    return bytes(body)


def _bundled_answer(spec: RequestSpec) -> tuple[int, bytes] | None:
    """The bundled app's (status, body) for `spec`, computed in-process; None when it cannot be known."""
    from loadbench.app.endpoints import Endpoints, Sleep

    if spec.method.upper() not in ("GET", "HEAD"):
        return None  # a write (POST /order) is not repeated here: its answer depends on the server's state
    path, _, query = spec.path.partition("?")
    answer = Endpoints().route(spec.method.upper(), path, query, spec.body)
    response = answer.response if isinstance(answer, Sleep) else answer
    return response.status, response.body


def _compare(status: int, body: bytes, expected: tuple[int, bytes], *, head_request: bool) -> str:
    want_status, want_body = expected
    if status != want_status:
        return f"status {status}, but the bundled app answers {want_status}"
    if not head_request and body != want_body:
        return (f"body {body[:_SHOWN]!r}{'...' if len(body) > _SHOWN else ''} ({len(body)} bytes) is not the "
                f"bundled app's {want_body[:_SHOWN]!r}{'...' if len(want_body) > _SHOWN else ''} "
                f"({len(want_body)} bytes)")  # fmt: skip
    return ""
