"""HTTP/1.1 on the wire: requests encoded once, response heads and chunked bodies framed with bytes.find.

The engine keeps one request in flight per connection, so framing only has to find where each
response ends: after the head, Content-Length bytes, a chunked body up to its last chunk and
trailers, or the connection's close. The engine first compares a response with the last one it
framed (≈35 ns for a 250-byte nginx response, measured here): benchmark responses repeat byte for
byte within a Date second, so this parser runs about once per second per distinct response. On such
a miss it costs ≈1.5–2.7 µs against ≈0.5 µs for httptools' llhttp (same machine, shared and noisy);
moving the miss path to httptools is the next step for servers whose every response differs.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from loadbench.engine.base import RequestSpec, Target
from loadbench.errors import UsageError

MAX_HEAD_BYTES = 64 * 1024
BODY_UNTIL_CLOSE = -1
BODY_CHUNKED = -2
USER_AGENT = "loadbench/0.1"
# Status line "HTTP/1.x NNN" → NNN, looked up by the three digit bytes (no int() per response).
STATUS_CODES: dict[bytes, int] = {str(code).encode(): code for code in range(100, 600)}


class ProtocolError(Exception):
    """A response that is not valid HTTP/1.x (the engine counts it as a `protocol` error)."""


def encode_request(spec: RequestSpec, target: Target, *, keepalive: bool) -> bytes:
    """The request's bytes, with Host, User-Agent and Content-Length added unless given."""
    method = spec.method.upper()
    if not method.isascii() or not method.isalpha():
        raise UsageError(f"method {spec.method!r} is not an HTTP method; use one like GET or POST")
    path = spec.path or "/"
    if not path.startswith("/") or any(c in path for c in " \r\n"):
        raise UsageError(f"request path {path!r} must start with / and contain no spaces or line breaks")
    names = set()
    lines = [f"{method} {path} HTTP/1.1"]
    for name, value in spec.headers:
        if not name or any(c in name for c in " :\r\n") or any(c in value for c in "\r\n"):
            raise UsageError(f"header {name!r}: {value!r} is malformed; write it like 'Accept: text/plain'")
        names.add(name.lower())
    if "host" not in names:
        lines.append(f"Host: {target.authority}")
    if "user-agent" not in names:
        lines.append(f"User-Agent: {USER_AGENT}")
    lines.extend(f"{name}: {value}" for name, value in spec.headers)
    if spec.body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(spec.body)}")
    if not keepalive and "connection" not in names:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + spec.body


def mix_sequence(specs: Sequence[RequestSpec], *, seed: int = 0, length: int = 1000) -> list[int]:
    """Indices into `specs` in a seeded, shuffled order whose shares follow the weights.

    A single spec gives [0]. Otherwise each spec gets round(weight share × length) slots (at least
    one when its weight is positive), so a mix of 1:3 sends 250 and 750 in every 1000 requests.
    """
    if not specs:
        raise UsageError("no requests to send; give at least one path")
    if any(s.weight < 0 for s in specs) or sum(s.weight for s in specs) <= 0:
        raise UsageError("request weights must be non-negative and add up to more than 0")
    if len(specs) == 1:
        return [0]
    total = sum(s.weight for s in specs)
    order: list[int] = []
    for i, spec in enumerate(specs):
        if spec.weight > 0:
            order.extend([i] * max(1, round(spec.weight / total * length)))
    random.Random(seed).shuffle(order)
    return order


def parse_head(data: bytes, end: int, *, head_request: bool = False) -> tuple[int, int, bool]:
    """Parse the response head in data[:end] (end = index of the blank line's CRLFCRLF).

    Returns (status, body length or BODY_CHUNKED / BODY_UNTIL_CLOSE, close after this response).
    Raises ProtocolError for anything that is not an HTTP/1.x response head.
    """
    version = data[:9]
    status = STATUS_CODES.get(data[9:12])
    if status is None or (version != b"HTTP/1.1 " and version != b"HTTP/1.0 ") or data[12:13] not in b" \r":
        raise ProtocolError(f"bad status line {bytes(data[: min(end, 40)])!r}")
    head = data[:end].lower()
    close = version == b"HTTP/1.0 "
    i = head.find(b"\r\nconnection:")
    if i >= 0:
        j = head.find(b"\r\n", i + 13)
        value = head[i + 13 : j if j >= 0 else end]
        close = b"close" in value or (close and b"keep-alive" not in value)
    if status < 200 or status in (204, 304) or head_request:
        return status, 0, close
    i = head.find(b"\r\ntransfer-encoding:")
    if i >= 0:
        j = head.find(b"\r\n", i + 20)
        if b"chunked" in head[i + 20 : j if j >= 0 else end]:
            return status, BODY_CHUNKED, close
    i = head.find(b"\r\ncontent-length:")
    if i >= 0:
        j = head.find(b"\r\n", i + 17)
        try:
            length = int(head[i + 17 : j if j >= 0 else end])
        except ValueError:
            raise ProtocolError(f"bad Content-Length in {bytes(head[i + 2 : j])!r}") from None
        if length < 0:
            raise ProtocolError(f"negative Content-Length {length}")
        return status, length, close
    return status, BODY_UNTIL_CLOSE, True


def chunked_end(buf: bytes | bytearray, pos: int) -> tuple[int, int]:
    """Scan a chunked body from `pos` (the start of a chunk-size line).

    Returns (next_pos, end): `end` is the index just past the body's final CRLF (after trailers)
    when the body is complete, else -1 and `next_pos` is where to resume when more bytes arrive.
    """
    size_line_end = buf.find(b"\r\n", pos)
    while size_line_end >= 0:
        size_text = bytes(buf[pos:size_line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
        if size < 0:
            raise ProtocolError(f"bad chunk size {size_text[:20]!r}")
        if size == 0:
            # Last chunk: optional trailer lines, then an empty line.
            if buf[size_line_end + 2 : size_line_end + 4] == b"\r\n":
                return pos, size_line_end + 4
            trailers_end = buf.find(b"\r\n\r\n", size_line_end)
            return (pos, trailers_end + 4) if trailers_end >= 0 else (pos, -1)
        data_end = size_line_end + 2 + size
        if len(buf) < data_end + 2:
            return pos, -1
        if buf[data_end : data_end + 2] != b"\r\n":
            raise ProtocolError("chunk data not followed by CRLF")
        pos = data_end + 2
        size_line_end = buf.find(b"\r\n", pos)
    if len(buf) - pos > 1024:
        raise ProtocolError("chunk size line longer than 1 KiB")
    return pos, -1
