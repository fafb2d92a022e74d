"""The shared state of one engine process's run: its connections, the open-loop pump, deadlines.

Connections (engine/aio.py) reach this object on every response, so its attributes are the hot
path's: `go` says the closed loop may send on without checks, `last`/`known` hold responses already
framed, `lat_append` is the recorder's buffer. Opening and replacing connections, the open-loop
scheduler (send every request whose time has come, then sleep until the next), and the deadline
sweeper live here too.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator, Sequence
from time import perf_counter_ns
from typing import Any

from loadbench.engine.native.aio import Conn
from loadbench.engine.native.checks import CheckedConn, CompiledCheck
from loadbench.engine.native.http1 import fast_framer
from loadbench.engine.native.pipeline import PipeConn
from loadbench.engine.native.recorder import Recorder
from loadbench.types import ErrorClass

NO_LIMIT = 1 << 62
MAX_CACHED = 64
MAX_CACHED_BYTES = 4096
RECONNECT_DELAY_S = 0.01  # after a failed connect, so a refused port does not spin the loop
# The open loop's timer never waits less: uvloop turns a delay under 0.5 ms into call_soon, so waiting
# for sends 30 µs apart (at 33k/s) spun the loop at 100 % CPU and flagged the engine as saturated at
# half its capacity. Sends due sooner go out on the next response's callback (which pumps) or on this
# timer; their lateness is measured as schedule lag and charged to latency, as every lag is.
MIN_WAKE_NS = 1_000_000


class Run:
    """State of one engine process's run, shared by its connections (driven by engine/phases.py)."""

    def __init__(
        self, *, loop: asyncio.AbstractEventLoop, address: tuple[str, int], server_hostname: str | None,
        ssl_context: ssl.SSLContext | None, wire: list[bytes], is_head: list[bool], order: list[int],
        rec: Recorder, keepalive: bool, timeout_ns: int, open_loop: bool, max_connections: int,
        checks: list[CompiledCheck | None] | None = None, unix_socket: str | None = None, pipeline: int = 1,
        rendered: Sequence[bytes] | None = None,
    ) -> None:  # fmt: skip
        self.loop = loop
        self.address = address
        self.server_hostname = server_hostname
        self.ssl_context = ssl_context
        # Pre-encoded bytes per slot of the mix order; with templates, a TemplatedWire (engine/templated.py)
        # whose item access renders the next request (`single` is then off: there is no one request).
        self.wire: Sequence[bytes] = [wire[i] for i in order] if rendered is None else rendered
        self.is_head = [is_head[i] for i in order]
        given = checks or [None] * len(is_head)
        self.checks = [given[i] for i in order]
        self.checks_on = any(given)
        # Without a check the plain Conn runs, whose hot path knows nothing of checks (engine/checks.py);
        # PipeConn (engine/pipeline.py) does its own checking.
        self.conn_class: type[Conn] = PipeConn if pipeline > 1 else CheckedConn if self.checks_on else Conn
        self.depth = pipeline  # requests in flight per new connection; 1 after a downgrade
        self.low_water = pipeline // 2  # PipeConn refills the pipe when this few or fewer are in flight
        self.single = len(self.wire) == 1 and rendered is None
        self.batches = [self.wire[0] * k for k in range(pipeline + 1)] if self.single else []
        self.unix_socket = unix_socket
        self.n_wire = len(self.wire)
        self.wire0 = self.wire[0] if self.single else b""
        self.rec = rec
        self.lat_append = rec.lat.append
        self.lat_extend = rec.lat.extend
        self.svc_append = rec.svc.append
        self.lag_append = rec.lag.append
        self.split_append = rec.split.append
        self.conn_append = rec.conn.append
        self.tls_append = rec.tls.append
        # TLS over TCP: the TCP connect is awaited on its own (tcp_connect) so the handshake gets its own
        # histogram; when each connection's TCP connect finished (ns), until connected() takes it.
        self.split_tls = ssl_context is not None and unix_socket is None
        self.tcp_done: dict[Conn, int] = {}
        self.keepalive = keepalive
        self.timeout_ns = timeout_ns
        self.open_loop = open_loop
        self.max_connections = max_connections
        self.conns: set[Conn] = set()
        self.connecting: dict[Conn, asyncio.Future[Any]] = {}  # connect tasks in progress
        self.idle: list[Conn] = []
        self.budget = NO_LIMIT  # requests still to send; 0 stops sending
        self.limited = False  # a request budget is being counted down (-n, or stopping)
        self.excess = 0  # connections to retire (connection stages ramping down)
        self.wanted = 0  # closed loop: connections to keep open
        self.go = False  # closed loop: the hot path may send the next request without checks
        self.next_due = NO_LIMIT  # open loop: scheduled time (ns) of the next send
        self.schedule: Iterator[int] = iter(())
        # Framed responses by their exact bytes → status (keep-alive, complete, single read only).
        self.known: dict[bytes, int] = {}
        self.last = b""  # the last known response seen, compared before hashing
        self.last_status = 0
        # A HEAD response could equal a GET response's head; equal bytes could pass one check, fail another.
        self.caching = not any(is_head) and len(set(given)) == 1
        self.framer = fast_framer()  # whole responses in one read that are not in `known`
        self.cache_misses = 0
        self.nin_closed = 0  # bytes of connections already gone
        self.nout_closed = 0
        self._pump_at = 0
        self._offset = -1
        self._sweeper: asyncio.TimerHandle | None = None

    def next_index(self) -> int:
        """Spread connections over the request mix (each starts at a different place)."""
        self._offset = (self._offset + 7) % self.n_wire
        return self._offset

    def update_go(self) -> None:
        """Recompute the hot path's flags after the budget, excess or sending state changed."""
        self.limited = self.budget != NO_LIMIT
        self.go = (
            not self.open_loop and self.keepalive and not self.excess and self.budget == NO_LIMIT
        )

    def remember(self, data: bytes, status: int) -> None:
        """Cache a framed response; turned off when responses rarely repeat (dynamic bodies)."""
        self.cache_misses += 1
        if len(data) > MAX_CACHED_BYTES:
            return
        if len(self.known) >= MAX_CACHED:
            self.known.clear()
        self.known[data] = status
        self.last, self.last_status = data, status

    def forget(self, data: bytes) -> None:
        """Drop a response from the cache (a check rejected it, or passed it outside 2xx)."""
        if self.known.pop(data, None) is not None or data == self.last:
            self.last, self.last_status = b"", 0

    def check_cache(self, responses: int) -> None:
        """Called per fold with the responses since the last: stop caching if most were misses."""
        if self.caching and responses >= 100 and self.cache_misses * 2 > responses:
            self.caching = False
            self.known.clear()
            self.last, self.last_status = b"", 0
        self.cache_misses = 0

    def byte_totals(self) -> tuple[int, int]:
        """Bytes received and sent so far on every connection, live or gone."""
        nin, nout = self.nin_closed, self.nout_closed
        for conn in self.conns:
            nin += conn.nin
            nout += conn.nout
        return nin, nout

    # -- connections ------------------------------------------------------------------------------
    def open(self, sched: int = 0) -> None:
        conn = self.conn_class(self, sched)
        self.conns.add(conn)
        self.rec.connections_opened += 1
        connecting: Any
        if self.unix_socket is not None:
            connecting = self.loop.create_unix_connection(
                lambda: conn, self.unix_socket, ssl=self.ssl_context, server_hostname=self.server_hostname
            )
        elif self.split_tls:
            connecting = self._tls_connection(conn)
        else:
            host, port = self.address
            connecting = self.loop.create_connection(
                lambda: conn, host, port, ssl=self.ssl_context, server_hostname=self.server_hostname
            )
        task = asyncio.ensure_future(connecting)
        conn.transport = None
        task.add_done_callback(lambda fut: self._connected(conn, fut))
        self.connecting[conn] = task

    async def _tls_connection(self, conn: Conn) -> tuple[asyncio.BaseTransport, Conn]:
        """TCP connect, its time noted, then the TLS handshake on that socket (once per connection).

        create_connection(ssl=...) only reports when both are done; splitting them costs one more
        callback per new connection, never per request."""
        host, port = self.address
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await self.loop.sock_connect(sock, (host, port))
            self.tcp_done[conn] = perf_counter_ns()
            return await self.loop.create_connection(
                lambda: conn, sock=sock, ssl=self.ssl_context, server_hostname=self.server_hostname
            )
        except BaseException:  # refused, timed out (cancelled by the sweeper), handshake failed
            self.tcp_done.pop(conn, None)
            sock.close()
            raise

    def connected(self, conn: Conn, t: int) -> None:
        """Record a new connection's time to connect (and TLS handshake, when split) at `t` (ns)."""
        if self.split_tls:
            tcp = self.tcp_done.pop(conn, 0)
            if tcp:
                self.conn_append(tcp - conn.t0)
                self.tls_append(t - tcp)
                return
        self.conn_append(t - conn.t0)

    def _connected(self, conn: Conn, fut: asyncio.Future[Any]) -> None:
        self.connecting.pop(conn, None)
        if fut.cancelled():
            self.lost(conn)  # the sweeper cancelled it and counted a connect_timeout
            return
        exc = fut.exception()
        if exc is None:
            if conn.dead and conn.transport is not None:  # connected just as its deadline passed
                conn.transport.abort()
            return
        if not conn.dead:
            conn.dead = True
            conn.t0 = 0
            cls = ErrorClass.CONNECT_TIMEOUT if isinstance(exc, TimeoutError) else ErrorClass.CONNECT_REFUSED
            where = self.unix_socket or f"{self.address[0]}:{self.address[1]}"
            self.rec.error(cls, f"connect to {where}: {exc}")
        self.lost(conn, delay_s=RECONNECT_DELAY_S)

    def lost(self, conn: Conn, *, delay_s: float = 0.0) -> None:
        """A connection is gone: forget it and, in the closed loop, replace it while sending."""
        if conn not in self.conns:
            return
        self.conns.discard(conn)
        self.nin_closed += conn.nin
        self.nout_closed += conn.nout
        if conn in self.idle:
            self.idle.remove(conn)
        if not self.open_loop:
            if delay_s:
                self.loop.call_later(delay_s, self.refill)
            else:
                self.refill()

    def refill(self) -> None:
        """Closed loop: open connections until `wanted` are open or the request budget runs out."""
        while len(self.conns) < self.wanted and self.budget > 0:
            if self.budget != NO_LIMIT:
                self.budget -= 1
            self.open()

    def set_wanted(self, wanted: int) -> None:
        """Closed loop: change the connection count (stages); extra connections retire when idle."""
        self.wanted = wanted
        self.excess = max(len(self.conns) - wanted, 0)
        self.update_go()
        self.refill()

    # -- open loop ----------------------------------------------------------------------------
    def start_schedule(self, schedule: Iterator[int]) -> None:
        self.schedule = schedule
        self.next_due = next(schedule, NO_LIMIT)
        self.pump()

    def pump(self) -> None:
        """Send every request whose scheduled time has passed, then sleep until the next one."""
        now = perf_counter_ns()
        rec = self.rec
        while self.next_due <= now:
            sched = self.next_due
            if self.budget <= 0:
                self.next_due = NO_LIMIT
                break
            if self.budget != NO_LIMIT:
                self.budget -= 1
            if self.idle:
                self.idle.pop().send_scheduled(sched)
            elif len(self.conns) < self.max_connections:
                self.open(sched)
            elif rec.measuring:
                rec.dropped += 1
            self.next_due = next(self.schedule, NO_LIMIT)
        if self.next_due < NO_LIMIT and (self._pump_at == 0 or self.next_due < self._pump_at):
            self._pump_at = self.next_due
            delay_ns = max(self.next_due - perf_counter_ns(), MIN_WAKE_NS)
            self.loop.call_later(delay_ns / 1e9, self._wake)

    def _wake(self) -> None:
        self._pump_at = 0
        self.pump()

    def stop_sending(self) -> None:
        self.budget = 0
        self.next_due = NO_LIMIT
        self.update_go()

    # -- deadlines ----------------------------------------------------------------------------
    def start_sweeper(self) -> None:
        interval_s = min(max(self.timeout_ns / 1e9 / 25, 0.002), 0.05)

        def sweep() -> None:
            self.sweep(perf_counter_ns())
            self._sweeper = self.loop.call_later(interval_s, sweep)

        self._sweeper = self.loop.call_later(interval_s, sweep)

    def sweep(self, now: int) -> None:
        """Fail every request whose total deadline has passed."""
        limit = now - self.timeout_ns
        limit_s = self.timeout_ns / 1e9
        for conn in [c for c in self.conns if c.t0 and c.t0 <= limit and not c.dead]:
            task = self.connecting.get(conn)
            if task is not None and conn.transport is None:
                conn.dead = True
                conn.t0 = 0
                self.rec.error(ErrorClass.CONNECT_TIMEOUT, f"no connection within {limit_s:g} s")
                task.cancel()
            else:
                buffered = f" ({len(conn.buf)} bytes buffered)" if conn.buf else ""
                conn._fail(ErrorClass.TIMEOUT, f"no complete response within {limit_s:g} s{buffered}")

    def busy(self) -> int:
        return sum(c.in_flight() for c in self.conns)

    def close_all(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for conn in list(self.conns):
            conn.dead = True
            conn.t0 = 0
            task = self.connecting.pop(conn, None)
            if task is not None:
                task.cancel()
            if conn.transport is not None:
                conn.transport.abort()
        self.conns.clear()
        self.idle.clear()

