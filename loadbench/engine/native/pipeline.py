"""HTTP/1.1 pipelining (`--pipeline N`, scenario `pipeline = N`): N requests in flight per connection.

PipeConn replaces Conn when the depth is above 1 (a run without pipelining never touches this code). On
connect it writes N requests at once; every read then completes as many responses as it holds (a read
of k copies of the last response framed is recognised by one comparison with k copies of it, and
its k latencies cost an `array.extend` per batch of sends, see InFlight), and
once half the pipe or more is answered (the low-water mark, N // 2 in flight) one write fills it back
to N. So a connection keeps between N/2 and N requests in flight, a write carries at least N/2 of them,
and the system calls per request fall by about N/2 against no pipelining: that is the whole point
(TechEmpower's plaintext test uses 16); wrk's pipeline.lua waits for all N before writing N again.
Latency is per request, from its own send (a deque of send times, oldest first); a
pipelined connection's first requests count from their send too (the connect is in `connect`). TTFB is
the read that brought a response's first byte; as in the plain engine only a response spread over reads
records a TTFB pair (recorder.py).

Servers that do not pipeline: a response that says it closes (Connection: close, HTTP/1.0) while
requests are still in flight is a *downgrade*, counted once per connection (`pipeline_downgrades`): the
run's depth drops to 1 for every connection opened after it, the unanswered requests are not counted as
sent (nor as errors) and go out again on the new connection. A connection that closes or resets with
requests in flight and without saying so fails each of them (`reset`), as a timeout fails each of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import Callable, Iterable
from itertools import repeat
from time import perf_counter_ns
from typing import TYPE_CHECKING

from loadbench.engine.native.aio import Conn
from loadbench.engine.native.checks import MAX_CHECKED_BYTES
from loadbench.engine.native.http1 import (
    BODY_CHUNKED,
    MAX_HEAD_BYTES,
    ChunkedBody,
    ProtocolError,
    check_status_start,
    parse_head,
)
from loadbench.engine.native.recorder import CHECK_FAILED_STATUS, STATUS_BITS
from loadbench.types import ErrorClass

if TYPE_CHECKING:
    from loadbench.engine.native.run import Run

_EXPECT_HEAD, _BODY_LENGTH, _BODY_CHUNKED, _BODY_UNTIL_CLOSE = 0, 1, 2, 3


class InFlight:
    """Send times of the requests in flight, oldest first, kept as [time, count] batches: a refill sends
    its requests at one time, so a read's k latencies take one `array.extend` per batch, not k pops."""

    __slots__ = ("batches", "count")

    def __init__(self) -> None:
        self.batches: deque[list[int]] = deque()
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, t: int, k: int) -> None:
        self.batches.append([t, k])
        self.count += k

    def oldest(self) -> int:
        return self.batches[0][0] if self.count else 0

    def popleft(self) -> int:
        """The oldest request's send time, removed."""
        batch = self.batches[0]
        self.count -= 1
        if batch[1] == 1:
            self.batches.popleft()
        else:
            batch[1] -= 1
        return batch[0]

    def take(self, k: int, t: int, status: int, extend: Callable[[Iterable[int]], None]) -> None:
        """Record the latencies (with `status`) of the k oldest requests, all answered at `t`."""
        self.count -= k
        batches = self.batches
        while k:
            batch = batches[0]
            m = batch[1]
            if m <= k:
                extend(repeat(((t - batch[0]) << STATUS_BITS) | status, m))
                batches.popleft()
                k -= m
            else:
                extend(repeat(((t - batch[0]) << STATUS_BITS) | status, k))
                batch[1] = m - k
                return

    def clear(self) -> None:
        self.batches.clear()
        self.count = 0


class PipeConn(Conn):
    """A connection keeping up to run.depth requests in flight; see the module docstring."""

    __slots__ = ("resp", "sent", "start")

    def __init__(self, run: Run, sched: int = 0) -> None:
        super().__init__(run, sched)
        self.sent = InFlight()  # send times of the requests in flight
        self.resp = b""  # with checks: the bytes so far of a response spread over reads
        self.start = 0  # where the response being framed starts in the current read

    def in_flight(self) -> int:
        if self.dead:
            return 0
        return len(self.sent) if self.transport is not None else 1  # connecting: open() counted one

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        run = self.run
        t = perf_counter_ns()
        run.connected(self, t)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        k = run.depth
        if run.limited:  # open() took one request from the budget; the rest of the first batch here
            extra = min(k - 1, max(run.budget, 0))
            run.budget -= extra
            k = 1 + extra
        self._write(k, t)

    def _write(self, k: int, t: int) -> None:
        run = self.run
        if run.single:
            payload = run.batches[k] if k < len(run.batches) else run.wire0 * k
            self.index = 0
        else:
            n, i, wire = run.n_wire, self.index, run.wire
            parts = []
            for _ in range(k):
                i = (i + 1) % n
                parts.append(wire[i])
            self.index = i
            payload = b"".join(parts)
        self.sent.add(t, k)
        self.t0 = self.sent.oldest()
        self.nout += len(payload)
        self.transport.write(payload)  # type: ignore[union-attr]

    # -- reading --------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        run = self.run
        last = run.last
        size = len(last)
        if size and not self.fb:
            # Hot path: the read is k whole copies of the last response framed (nothing carried over,
            # fb == 0 means no response is in progress): k latencies, and a refill at the low-water mark.
            n = len(data)
            k = n // size
            sent = self.sent
            if k * size == n and k <= sent.count and (data == last if k == 1 else data == last * k):
                t = perf_counter_ns()
                self.nin += n
                sent.take(k, t, run.last_status, run.lat_extend)
                left = sent.count
                if left <= run.low_water:
                    if run.go:
                        k = run.depth - left
                        payload = run.batches[k]
                        sent.add(t, k)
                        self.nout += len(payload)
                        self.transport.write(payload)  # type: ignore[union-attr]
                    else:
                        self._refill(run.depth - left, t)
                self.t0 = sent.oldest()
                return
        self._read(data)

    def _read(self, data: bytes) -> None:
        """Frame whatever the read holds: known responses, new heads, bodies continued from a read before."""
        t = perf_counter_ns()
        run = self.run
        self.nin += len(data)
        sent = self.sent
        if not sent or self.dead:
            self._unsolicited(len(data))
            return
        buf = self.buf + data if self.buf else data
        self.buf = b""
        n = len(buf)
        pos = 0
        done = 0
        last, last_status = run.last, run.last_status
        size = len(last)
        lat_append, popleft = run.lat_append, sent.popleft
        carried = self.fb  # a head begun in an earlier read: its response takes the slow path (TTFB)
        try:
            while pos < n:
                if self.mode == _EXPECT_HEAD:
                    if size and not carried and buf.startswith(last, pos):  # known: nothing to parse
                        if not sent:
                            break
                        pos += size
                        lat_append(((t - popleft()) << STATUS_BITS) | last_status)
                        done += 1
                        continue
                    if not sent:
                        break
                    before = len(sent)
                    pos = self._head(buf, pos, t)
                    if pos < 0:  # an incomplete head, kept in self.buf
                        break
                    if len(sent) < before:  # a body-less response, completed at once
                        done += 1
                        carried = 0
                        if self.dead or self.close_after:
                            break
                    continue
                if self.mode == _BODY_LENGTH:
                    take = min(self.left, n - pos)
                    self.left -= take
                    pos += take
                    if self.left:
                        self._partial(buf, t)
                        break
                elif self.mode == _BODY_CHUNKED:
                    end = self.chunks.feed(buf, pos)  # type: ignore[union-attr]
                    if end < 0:
                        self._partial(buf, t)
                        break
                    self.chunks = None
                    pos = end
                else:  # _BODY_UNTIL_CLOSE: the body ends when the connection does
                    self._partial(buf, t)
                    return
                self.mode = _EXPECT_HEAD
                self._done(buf, pos, t)
                done += 1
                carried = 0
                if self.dead or self.close_after:
                    break
            else:
                if self.mode != _EXPECT_HEAD:
                    # The read ended exactly at a head whose body is still to come (uvicorn writes head
                    # and body apart): the response is spread over reads like any other. Without this
                    # fb stayed 0, the hot path took the body's read for whole responses, and the body
                    # was cached as "the last response".
                    self._partial(buf, t)
        except ProtocolError as exc:
            self._fail(ErrorClass.PROTOCOL, str(exc))
            return
        if self.dead:
            return
        if pos < n and not sent and not self.buf:
            self._unsolicited(n - pos)
            return
        if self.close_after:
            self._closing()
        elif done and len(sent) <= run.low_water:
            self._refill(run.depth - len(sent), t)
        self.t0 = sent.oldest()

    def _head(self, buf: bytes, pos: int, t: int) -> int:
        """Parse the head starting at `pos`; returns the index after it (or after the whole response when
        it has no body), or -1 when the head is incomplete (kept in self.buf)."""
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0 or end - pos > MAX_HEAD_BYTES:
            if len(buf) - pos > MAX_HEAD_BYTES:
                raise ProtocolError(f"response head longer than {MAX_HEAD_BYTES} bytes")
            rest = buf[pos:]
            check_status_start(rest)
            self.buf = rest
            if not self.fb:
                self.fb = t
            return -1
        run = self.run
        index = (self.index - len(self.sent) + 1) % run.n_wire  # the oldest request in flight
        status, length, close = parse_head(buf[pos : end + 4], end - pos, head_request=run.is_head[index])
        self.status, self.close_after, self.start = status, close, pos
        body = end + 4
        if status < 200:  # an interim response; the final one follows (in this read or a later one)
            self.close_after = False
            if not self.fb:
                self.fb = t
            return body
        if length == 0:
            self._done(buf, body, t)
            return body
        if length > 0:
            self.mode, self.left = _BODY_LENGTH, length
        elif length == BODY_CHUNKED:
            self.mode, self.chunks = _BODY_CHUNKED, ChunkedBody()
        else:
            self.mode = _BODY_UNTIL_CLOSE
        return body

    def _partial(self, buf: bytes, t: int) -> None:
        """The response in progress continues in the next read."""
        if not self.fb:
            self.fb = t
        if self.run.checks_on and len(self.resp) < MAX_CHECKED_BYTES:
            self.resp += buf[self.start : self.start + MAX_CHECKED_BYTES - len(self.resp)]
        self.start = 0

    def _done(self, buf: bytes, end: int, t: int) -> None:
        """Record the oldest request's response, which ends at buf[end]."""
        run = self.run
        sent_t = self.sent.popleft()
        status = self.status
        whole = not self.resp and not self.fb
        if run.checks_on:
            raw = self.resp + buf[self.start : end] if self.resp else buf[self.start : end]
            self.resp = b""
            index = (self.index - len(self.sent)) % run.n_wire
            check = run.checks[index]
            problem = None if check is None else check.problem(status, raw)
            if problem is not None:
                run.rec.error(ErrorClass.CHECK_FAILED, problem)
                self.fb = 0
                run.lat_append(((t - sent_t) << STATUS_BITS) | CHECK_FAILED_STATUS)
                self.start = end
                return
            if check is not None and not 200 <= status < 300:
                whole = False  # never cached: the shortcut would not count it as ok
                if run.rec.measuring:
                    run.rec.expected_non_2xx += 1
        if self.fb:
            run.split_append(t - sent_t)
            run.split_append(self.fb - sent_t)
            self.fb = 0
        run.lat_append(((t - sent_t) << STATUS_BITS) | status)
        if whole and run.caching and not self.close_after:
            run.remember(buf[self.start : end], status)
        self.start = end

    # -- what next ------------------------------------------------------------------------------
    def _refill(self, k: int, t: int) -> None:
        """Send `k` requests (the pipe back to full), fewer when the budget is short, or none and retire
        when the connection is to go (stages ramping down, the budget spent)."""
        run = self.run
        k = max(min(k, run.depth - len(self.sent)), 0)
        if run.excess or not run.keepalive:
            k = 0
        elif run.limited:
            k = min(k, max(run.budget, 0))
            run.budget -= k
        if k:
            self._write(k, t)
        elif not self.sent:
            self.t0 = 0
            self._retire()
            run.refill()

    def _closing(self) -> None:
        """The server said it closes after the response just read."""
        run = self.run
        left = len(self.sent)
        if left:
            if run.rec.measuring:
                run.rec.pipeline_downgrades += 1
            run.depth, run.low_water = 1, 0
            if run.limited:
                run.budget += left  # not answered: they go out again on a new connection
            self.sent.clear()
        self.t0 = 0
        self._retire()
        run.refill()

    def connection_lost(self, exc: Exception | None) -> None:
        run = self.run
        if self.sent and not self.dead:
            if self.mode == _BODY_UNTIL_CLOSE and exc is None:
                self._done(b"", 0, perf_counter_ns())
                self.sent.clear()
            else:
                why = "in the middle of the body" if self.mode != _EXPECT_HEAD else "before the response"
                detail = f"{type(exc).__name__}: {exc}" if exc is not None else f"connection closed {why}"
                self._fail(ErrorClass.RESET, f"{detail} (pipelined)")
        self.dead = True
        run.lost(self)

    def _fail(self, cls: ErrorClass, message: str) -> None:
        """Every request in flight failed (each counted), and the connection is dropped."""
        if self.dead or not self.sent:
            return
        rec = self.run.rec
        for _ in range(len(self.sent)):
            rec.error(cls, message)
        self.sent.clear()
        self.t0 = 0
        self.dead = True
        if self.transport is not None:
            self.transport.abort()
