"""HTTP/1.1 on the wire: requests encoded once, response heads and chunked bodies framed with bytes.find.

The engine keeps one request in flight per connection, so framing only has to find where each
response ends: after the head, Content-Length bytes, a chunked body up to its last chunk and
trailers, or the connection's close. The engine first compares a response with the last one it
framed (≈35 ns for a 250-byte nginx response, measured here): benchmark responses repeat byte for
byte within a Date second. A response that differs but arrived whole in one read (the usual case for
dynamic pages) goes to FastFramer, httptools' llhttp in C (≈0.4 µs against ≈2.3 µs for parse_head
and ≈6.8 µs for a chunked body through ChunkedBody, measured here). Everything else (split reads,
bodies until close, HEAD requests, anything llhttp declines) is framed by the pure-Python parse_head
and ChunkedBody, which stay the authority: FastFramer only ever accepts, never rejects.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from loadbench.errors import UsageError
from loadbench.safe.limits import request_problem
from loadbench.types import RequestSpec, Target

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
    path = spec.path or "/"
    problem = request_problem(spec.method, path, spec.headers)  # the one rule, shared with validation
    if problem is not None:
        raise UsageError(problem)
    names = {name.lower() for name, _value in spec.headers}
    lines = [f"{method} {path} HTTP/1.1"]
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


class FastFramer:
    """Frames a read holding exactly one whole response with httptools (llhttp, C); see the docstring.

    One instance serves every connection of a run: it is used only on reads that start a response
    and is replaced whenever a read leaves it anywhere but between two responses.
    """

    __slots__ = ("_begun", "_done", "_error", "_keep", "_new", "_parser")

    def __init__(self) -> None:
        import httptools

        self._new: Callable[[Any], Any] = httptools.HttpResponseParser
        self._error = (httptools.HttpParserError, httptools.HttpParserUpgrade)
        self._parser = self._new(self)
        self._begun = 0
        self._done = False
        self._keep = True

    def on_message_begin(self) -> None:
        self._begun += 1

    def on_message_complete(self) -> None:
        self._done = True
        self._keep = self._parser.should_keep_alive()  # valid only inside this callback

    def frame(self, data: bytes) -> int:
        """The final status of the one whole response in `data`, negated when the server will close
        after it; 0 when `data` is anything else (partial, several, 1xx, not HTTP/1.x, malformed)."""
        self._begun = 0
        self._done = False
        if data[:7] == b"HTTP/1.":
            try:
                self._parser.feed_data(data)
            except self._error:
                pass
            else:
                if self._done and self._begun == 1:
                    status: int = self._parser.get_status_code()
                    if status >= 200 and self._keep:
                        return status
                    if status >= 200:  # llhttp refuses bytes after a close: the next use needs a new one
                        self._parser = self._new(self)
                        return -status
        self._parser = self._new(self)
        return 0


def fast_framer() -> FastFramer | None:
    """A FastFramer, or None when httptools is not installed (the Python framing then does it all)."""
    try:
        return FastFramer()
    except ImportError:
        return None


def check_status_start(buf: bytes) -> None:
    """Raise ProtocolError as soon as the start of a still incomplete head cannot be an HTTP/1.x status
    line, so a server speaking something else fails at once instead of at the deadline."""
    version = buf[:9]
    if not (b"HTTP/1.1 ".startswith(version) or b"HTTP/1.0 ".startswith(version)) or (
        len(buf) >= 12 and STATUS_CODES.get(buf[9:12]) is None
    ) or buf[12:13] not in b" \r":
        raise ProtocolError(f"bad status line {bytes(buf[:40])!r}")


_SIZE, _DATA, _DATA_CRLF, _TRAILER = 0, 1, 2, 3
_HEX = frozenset(b"0123456789abcdefABCDEF")
MAX_CHUNK_LINE = 1024


class ChunkedBody:
    """Frames one chunked body incrementally in bounded memory: chunk data is counted and skipped, never
    kept; only a size line (≤ 1 KiB), a CRLF and trailer lines (≤ MAX_HEAD_BYTES in all) are held."""

    __slots__ = ("left", "pending", "state", "trailer_bytes")

    def __init__(self) -> None:
        self.state = _SIZE
        self.left = 0  # chunk data bytes still to skip
        self.pending = b""  # a partial line (or half of a CRLF) carried to the next read
        self.trailer_bytes = 0

    def feed(self, data: bytes, pos: int = 0) -> int:
        """Consume data[pos:]; return the index just past the body's end, or -1 when more is needed."""
        n = len(data)
        while pos < n:
            if self.state == _DATA:
                take = min(self.left, n - pos)
                self.left -= take
                pos += take
                if self.left:
                    return -1
                self.state = _DATA_CRLF
            elif self.state == _DATA_CRLF:
                piece = data[pos : pos + 2 - len(self.pending)]
                self.pending += piece
                pos += len(piece)
                if len(self.pending) < 2:
                    return -1
                if self.pending != b"\r\n":
                    raise ProtocolError("chunk data not followed by CRLF")
                self.pending = b""
                self.state = _SIZE
            else:
                line, pos = self._line(data, pos)
                if line is None:
                    return -1
                if self.state == _SIZE:
                    size_text = line.split(b";", 1)[0].strip()
                    if not size_text or len(size_text) > 16 or not _HEX.issuperset(size_text):
                        raise ProtocolError(f"bad chunk size {size_text[:20]!r}")
                    self.left = int(size_text, 16)
                    self.state = _DATA if self.left else _TRAILER
                elif not line:
                    return pos  # the empty line after the last chunk (and any trailers)
                else:
                    self.trailer_bytes += len(line) + 2
                    if self.trailer_bytes > MAX_HEAD_BYTES:
                        raise ProtocolError(f"chunked trailers longer than {MAX_HEAD_BYTES} bytes")
        return -1

    def _line(self, data: bytes, pos: int) -> tuple[bytes | None, int]:
        """The next CRLF-terminated line (without the CRLF) and the position after it, or (None, end)."""
        limit = MAX_CHUNK_LINE if self.state == _SIZE else MAX_HEAD_BYTES
        i = data.find(b"\n", pos)
        if i < 0:
            self.pending += data[pos:]
            if len(self.pending) > limit:
                raise ProtocolError(f"chunk size or trailer line longer than {limit} bytes")
            return None, len(data)
        line = self.pending + data[pos : i + 1] if self.pending else data[pos : i + 1]
        self.pending = b""
        if len(line) > limit + 2 or not line.endswith(b"\r\n"):
            raise ProtocolError(f"bad chunk size or trailer line {line[:20]!r}")
        return line[:-2], i + 1
