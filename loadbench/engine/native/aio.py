"""The own asyncio engine for one process: connections as asyncio Protocols, closed and open loops.

One request is in flight per connection. Requests are encoded once; responses are framed with
bytes.find (engine/http1.py). Latency is taken with perf_counter_ns: in the closed loop from the send
(from the connect for a connection's first request), in the open loop from the scheduled send time,
with the service time from the actual send kept beside it. Deadlines are total per request (connect,
send and the whole response) and are enforced by a sweeper that scans busy connections a few dozen
times per deadline, so no timer is created per request and a trickling server still times out on time.

Cost (profiled against nginx with perf, strace and py-spy): per request one write and one read system
call and 0.02 epoll_wait, 2 TCP segments (request and response, each carrying the other side's ACK);
~80 % of the CPU is the kernel's loopback TCP, which wrk pays too (plus 2 epoll_ctl per request), and
the Python hot path below costs ≈0.4 µs. So the engine runs at about wrk's requests per CPU-second.

How a misbehaving server is counted (every case ends within the deadline, in bounded memory; the
hostile test servers in tests/servers_for_tests/server.py play each one):

- protocol: a status line that is not HTTP/1.x (checked as soon as 13 bytes or a line arrive, not when
  the head is whole); a bad Content-Length, chunk size or chunk ending; a head (or chunked trailers)
  over 64 KiB, e.g. a 1 MiB header; bytes after a complete response in the same read (Content-Length
  shorter than the body); bytes with no request in flight (a response before the request, or twice).
- reset: the server closes or resets before or in the middle of a response (Content-Length longer
  than the body, then close; a chunked body cut off).
- timeout: the whole response is not in within the deadline: nothing sent (a 10 s first byte), too
  little (Content-Length longer, then silence), too slowly (a trickle), or forever (an endless chunked
  or until-close body).
- connect_refused / connect_timeout: no connection (refused, or not within the deadline).

Memory per connection stays bounded whatever the server sends: an incomplete head is kept up to 64 KiB,
body bytes are counted and dropped (Content-Length, until close), and a chunked body keeps only a
partial size line or trailer (http1.ChunkedBody).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from time import perf_counter_ns
from typing import TYPE_CHECKING

from loadbench.engine.native.http1 import (
    BODY_CHUNKED,
    MAX_HEAD_BYTES,
    ChunkedBody,
    ProtocolError,
    check_status_start,
    parse_head,
)
from loadbench.engine.native.recorder import STATUS_BITS
from loadbench.types import ErrorClass

if TYPE_CHECKING:
    from loadbench.engine.native.run import Run

_EXPECT_HEAD, _BODY_LENGTH, _BODY_CHUNKED, _BODY_UNTIL_CLOSE = 0, 1, 2, 3


class Conn(asyncio.Protocol):
    """One client connection; the hot path is data_received → (known response) → next write."""

    __slots__ = (
        "buf", "chunks", "clean", "close_after", "dead", "fb", "index", "left", "mode", "nin", "nout",
        "run", "sched", "sent_at", "status", "t0", "transport",
    )  # fmt: skip

    def __init__(self, run: Run, sched: int = 0) -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.t0 = perf_counter_ns()  # deadline start of the request in flight; 0 = idle
        self.sched = sched  # open loop: the scheduled send time (ns) of the request in flight
        self.sent_at = 0
        self.index = run.next_index()  # the request in flight (or last sent)
        self.nin = 0  # bytes received on this connection
        self.nout = 0  # bytes sent on this connection
        self.buf = b""
        self.clean = True  # expecting a response head with nothing buffered
        self.mode = _EXPECT_HEAD
        self.left = 0
        self.chunks: ChunkedBody | None = None
        self.status = 0
        self.close_after = False
        self.dead = False
        self.fb = 0  # first byte (ns) of a response spread over several reads; 0 = none pending

    # -- asyncio callbacks ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        run = self.run
        t = perf_counter_ns()
        run.connected(self, t)  # time to connect (and the TLS handshake on its own when TLS is on)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            with contextlib.suppress(OSError):  # asyncio sets it already on most versions
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if run.open_loop:
            self.send_scheduled(self.sched)
        else:
            # The first response's latency counts from the connect, its TTFB from this send: route it
            # through _feed (clean = False), which notes the first byte, so _complete records the pair.
            self.sent_at = t
            self.clean = False
            self._send()

    def data_received(self, data: bytes) -> None:
        run = self.run
        if data == run.last and run.go and self.clean:
            # Hot path: a response byte-for-byte equal to the last one framed (same head, same body:
            # a static file within the same Date second) needs no parsing; send the next request.
            t = perf_counter_ns()
            run.lat_append(((t - self.t0) << STATUS_BITS) | run.last_status)
            self.t0 = t
            self.nin += len(data)
            if run.single:
                wire = run.wire0
            else:
                self.index = i = (self.index + 1) % run.n_wire
                wire = run.wire[i]
            self.nout += len(wire)
            self.transport.write(wire)  # type: ignore[union-attr]
            return
        self.nin += len(data)
        if not self.t0:
            self._unsolicited(len(data))
            return
        if self.clean:
            if run.caching:
                status = run.known.get(data)
                if status is not None:
                    run.last, run.last_status = data, status
                    self._complete(perf_counter_ns(), status, False)
                    return
            framer = run.framer
            if framer is not None and len(data) <= MAX_HEAD_BYTES and not run.is_head[self.index]:
                status = framer.frame(data)
                if status > 0:
                    if run.caching:
                        run.remember(data, status)
                    self._complete(perf_counter_ns(), status, False)
                    return
                if status < 0:
                    self._complete(perf_counter_ns(), -status, True)
                    return
            end = data.find(b"\r\n\r\n")
            if 0 <= end <= MAX_HEAD_BYTES:
                try:
                    status, length, close = parse_head(data, end, head_request=run.is_head[self.index])
                except ProtocolError as exc:
                    self._fail(ErrorClass.PROTOCOL, str(exc))
                    return
                if length >= 0 and len(data) == end + 4 + length and status >= 200:
                    if not close and run.caching:
                        run.remember(data, status)
                    self._complete(perf_counter_ns(), status, close)
                    return
        self._feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        run = self.run
        if self.t0 and not self.dead:
            got = f" ({len(self.buf)} bytes of it received)" if self.buf else ""
            if self.mode == _BODY_UNTIL_CLOSE and exc is None:
                self._complete(perf_counter_ns(), self.status, True)
            elif exc is None and self.mode != _EXPECT_HEAD:
                self._fail(ErrorClass.RESET, "connection closed by the server in the middle of the body")
            elif exc is None:
                self._fail(ErrorClass.RESET, f"connection closed by the server before the response{got}")
            elif isinstance(exc, ssl.SSLError):
                self._fail(ErrorClass.PROTOCOL, f"TLS: {exc}")
            else:
                self._fail(ErrorClass.RESET, f"{type(exc).__name__}: {exc}{got}")
        self.dead = True
        run.lost(self)

    def in_flight(self) -> int:
        """Requests in flight on this connection (PipeConn may have several)."""
        return 1 if self.t0 and not self.dead else 0

    # -- framing ------------------------------------------------------------------------------
    def _feed(self, data: bytes) -> None:
        if not self.fb:
            self.fb = perf_counter_ns()  # the read that brought this response's first byte
        buf = self.buf + data if self.buf else data
        self.buf = b""
        try:
            while True:
                if self.mode == _EXPECT_HEAD:
                    end = buf.find(b"\r\n\r\n")
                    if end < 0 or end > MAX_HEAD_BYTES:
                        if len(buf) > MAX_HEAD_BYTES:
                            raise ProtocolError(f"response head longer than {MAX_HEAD_BYTES} bytes")
                        check_status_start(buf)
                        self.buf = buf
                        self.clean = False
                        return
                    status, length, close = parse_head(buf, end, head_request=self.run.is_head[self.index])
                    buf = buf[end + 4 :]
                    if status < 200:
                        continue  # an interim 1xx response; the real one follows
                    self.status, self.close_after = status, close
                    if length >= 0:
                        self.mode, self.left = _BODY_LENGTH, length
                    elif length == BODY_CHUNKED:
                        self.mode, self.chunks = _BODY_CHUNKED, ChunkedBody()
                    else:
                        self.mode = _BODY_UNTIL_CLOSE
                    self.clean = False
                if self.mode == _BODY_LENGTH:
                    if len(buf) < self.left:
                        self.left -= len(buf)
                        return
                    extra = len(buf) - self.left
                    break
                if self.mode == _BODY_CHUNKED:
                    end = self.chunks.feed(buf)  # type: ignore[union-attr]
                    if end < 0:
                        return  # the decoder keeps what it needs (a partial line at most)
                    self.chunks = None
                    extra = len(buf) - end
                    break
                return  # _BODY_UNTIL_CLOSE: the body ends when the connection does
        except ProtocolError as exc:
            self._fail(ErrorClass.PROTOCOL, str(exc))
            return
        self.mode = _EXPECT_HEAD
        self.clean = True
        if extra:
            self._fail(ErrorClass.PROTOCOL, f"{extra} unexpected bytes after a complete response")
            return
        self._complete(perf_counter_ns(), self.status, self.close_after)

    # -- outcomes -------------------------------------------------------------------------------
    def _complete(self, t: int, status: int, close: bool) -> None:
        """Record a response completed at `t` and send the next request (or go idle, or retire)."""
        run = self.run
        self.clean = True
        if self.fb:  # spread over reads, or a connection's first response: its TTFB differs from its base
            sent = self.sent_at or self.t0
            run.split_append(t - sent if run.open_loop else t - self.t0)
            run.split_append(self.fb - sent)
            self.fb = 0
            if not run.open_loop:
                self.sent_at = 0
        if run.open_loop:
            run.lat_append(((t - self.sched) << STATUS_BITS) | status)
            run.svc_append(t - self.sent_at)
            self.t0 = 0
            if close or not run.keepalive or run.excess:
                self._retire()
            else:
                run.idle.append(self)
            if run.next_due <= t:
                run.pump()
            return
        run.lat_append(((t - self.t0) << STATUS_BITS) | status)
        if close or not run.keepalive or run.excess or run.budget <= 0:
            self.t0 = 0
            self._retire()
            run.refill()
            return
        if run.limited:
            run.budget -= 1
        self.t0 = t
        self._send()

    def _send(self) -> None:
        """Closed loop: send the next request of the mix."""
        run = self.run
        self.index = i = (self.index + 1) % run.n_wire
        wire = run.wire[i]
        self.nout += len(wire)
        self.transport.write(wire)  # type: ignore[union-attr]

    def send_scheduled(self, sched: int) -> None:
        """Open loop: send the next request, scheduled for `sched` (ns)."""
        t = perf_counter_ns()
        run = self.run
        self.sched = sched
        self.sent_at = t
        if not self.t0:
            self.t0 = t
        run.lag_append(t - sched)
        if run.rec.measuring:
            run.rec.sent += 1
        self.index = i = (self.index + 1) % run.n_wire
        wire = run.wire[i]
        self.nout += len(wire)
        self.transport.write(wire)  # type: ignore[union-attr]

    def _fail(self, cls: ErrorClass, message: str) -> None:
        """Count the request in flight as failed and drop the connection."""
        if self.dead or not self.t0:
            return
        self.t0 = 0
        self.dead = True
        self.run.rec.error(cls, message)
        if self.transport is not None:
            self.transport.abort()

    def _unsolicited(self, size: int) -> None:
        """Bytes on a connection with no request in flight: a response nobody asked for (a server that
        answers before the request, or more than once); counted as a protocol error, connection dropped."""
        if self.dead:
            return
        self.dead = True
        rec = self.run.rec
        if rec.measuring:
            rec.unsolicited += 1
        rec.error(ErrorClass.PROTOCOL, f"{size} bytes received with no request in flight")
        if self.transport is not None:
            self.transport.abort()

    def _retire(self) -> None:
        """Close after a complete response (no request in flight: not an error)."""
        self.dead = True
        run = self.run
        if run.excess:
            run.excess -= 1
            run.update_go()
        if self.transport is not None:
            self.transport.close()
