"""The crowd's clients on one event loop: idle keep-alive connections, tricklers and slow readers.

These run in their own process (engine/crowd/process.py) beside the load engine, so the engine's hot
path is untouched. Each client is a small asyncio Protocol with a state; `CrowdState.counts()` says at any
moment how many are held and how many the server refused or closed, by class:

- connect_refused, connect_timeout, connect_error (no connection: refused, not within the deadline, or
  another OSError such as EADDRNOTAVAIL or EMFILE);
- closed: the server ended the connection cleanly (EOF), e.g. a keep-alive timeout or a slowloris guard;
- reset: the server reset it;
- answered: a trickler got a response (a 408 or 400: the server gave up on the request) — it never sends
  a complete request, so any answer is the server's refusal.

A keep-alive idle client is *held* once its one response is in and the connection stays open;
*waiting* while its request is unanswered (a thread-per-connection server with every thread taken keeps
it in the accept queue). A trickler or a slow reader is held while its connection is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from loadbench.types import Crowd

_CONNECTING, _WAITING, _HELD, _GONE = 0, 1, 2, 3
RCVBUF_BYTES = 4096  # a slow reader's receive buffer: the server stalls once it and its send buffer fill
CONNECT_TIMEOUT_S = 3.0
CONNECT_CONCURRENCY = 512  # connects in flight at once (server backlogs here are 2048)


@dataclass(slots=True)
class CrowdState:
    """Every crowd client of one run, by kind, and the failures so far."""

    idle: list[_Client] = field(default_factory=list)
    slow: list[_Client] = field(default_factory=list)
    failed_idle: Counter[str] = field(default_factory=Counter)
    failed_slow: Counter[str] = field(default_factory=Counter)

    def counts(self) -> dict[str, dict[str, object]]:
        """{"idle": {...}, "slow": {...}} with held, waiting and failed-by-class counts."""
        out: dict[str, dict[str, object]] = {}
        for kind, clients, failed in (("idle", self.idle, self.failed_idle),
                                      ("slow", self.slow, self.failed_slow)):  # fmt: skip
            held = sum(c.state == _HELD for c in clients)
            waiting = sum(c.state == _WAITING for c in clients)
            group: dict[str, object] = {"held": held, "waiting": waiting, "failed": dict(failed)}
            if kind == "slow":
                group["bytes_read"] = sum(c.nin for c in clients)
                rates = [c.rate_bps() for c in clients if c.first_byte_at]
                group["read_rate_bps_max"] = round(max(rates), 1) if rates else None
                group["read_rate_bps_mean"] = round(sum(rates) / len(rates), 1) if rates else None
            out[kind] = group
        return out


class _Client(asyncio.Protocol):
    """One crowd connection; `kind` is "idle" (keep-alive), "trickle" or "slow"."""

    def __init__(self, kind: str, request: bytes, failed: Counter[str], *, rate_bps: float = 0.0) -> None:
        self.kind = kind
        self.request = request
        self.failed = failed
        self.rate_bps_limit = rate_bps
        self.state = _CONNECTING
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.nin = 0
        self.sent = 0  # trickle: header bytes sent so far
        self.first_byte_at = 0.0
        self.connected_at = 0.0
        self.last_at = 0.0
        self.expect = -1  # slow reader: bytes of the response being read (head + body), -1 = head unknown
        self.response_start = 0  # slow reader: nin at the start of the response being read

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.connected_at = time.monotonic()
        if self.kind == "trickle":
            self.state = _HELD
            self.trickle()
        else:
            self.state = _WAITING if self.kind == "idle" else _HELD
            self.transport.write(self.request)  # type: ignore[union-attr]

    def trickle(self) -> None:
        """Send the next header byte; the last CRLF (the end of the header) is never sent."""
        if self.state != _HELD or self.transport is None or self.sent >= len(self.request) - 2:
            return
        self.transport.write(self.request[self.sent : self.sent + 1])
        self.sent += 1

    def data_received(self, data: bytes) -> None:
        self.nin += len(data)
        now = time.monotonic()
        if self.kind == "trickle":
            self._end("answered")  # any answer to an incomplete request is the server giving up on it
            return
        if self.kind == "slow":
            if not self.first_byte_at:
                self.first_byte_at = now
            self.last_at = now
            self._count_slow_response(data)
            # Paced reads: after nin bytes in all, read nothing until nin / rate seconds after the first
            # byte, so the reader never gets more than rate × time plus one read (the receive buffer is
            # small, so the server cannot push more than a buffer or two ahead either).
            assert self.transport is not None
            self.transport.pause_reading()
            delay = self.first_byte_at + self.nin / self.rate_bps_limit - now
            asyncio.get_running_loop().call_later(max(delay, 0.0), self._resume)
            return
        self.buf += data
        if self.state == _WAITING and _response_complete(self.buf):
            self.state = _HELD
            self.buf = b""

    def _count_slow_response(self, data: bytes) -> None:
        """Frame the large response (Content-Length only) and ask for it again once it is all in."""
        if self.expect < 0:
            self.buf += data[:65536]
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            i = head.find(b"\r\ncontent-length:")
            j = head.find(b"\r\n", i + 17) if i >= 0 else -1
            length = int(head[i + 17 : j if j >= 0 else end].strip() or b"0") if i >= 0 else 1 << 62
            self.expect = end + 4 + length  # counted from the response's first byte
            self.buf = b""
        if self.nin - self.response_start >= self.expect:
            self.response_start += self.expect
            self.expect = -1
            assert self.transport is not None
            self.transport.write(self.request)

    def _resume(self) -> None:
        if self.state == _HELD and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def rate_bps(self) -> float:
        """This slow reader's bytes per second from its connect to now (or its last read)."""
        end = time.monotonic() if self.state != _GONE else self.last_at
        return self.nin / max(end - self.connected_at, 1.0)

    def eof_received(self) -> bool:
        self._end("closed")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state != _GONE:
            self._end("reset" if isinstance(exc, ConnectionResetError | BrokenPipeError) else "closed")

    def _end(self, why: str) -> None:
        if self.state == _GONE:
            return
        self.state = _GONE
        self.failed[why] += 1
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        """Our end: close without counting it as the server's doing."""
        self.state = _GONE
        if self.transport is not None:
            self.transport.abort()


def _response_complete(buf: bytes) -> bool:
    """True once buf holds a whole response with a Content-Length body (or a chunked one's last chunk)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    head = buf[:end].lower()
    i = head.find(b"\r\ncontent-length:")
    if i >= 0:
        j = head.find(b"\r\n", i + 17)
        length = int(head[i + 17 : j if j >= 0 else end].strip() or b"0")
        return len(buf) >= end + 4 + length
    if b"chunked" in head:
        return buf.endswith(b"0\r\n\r\n")
    return True


def request_bytes(path: str, authority: str, *, agent: str) -> bytes:
    """A keep-alive GET of `path`; its header ends with the blank line (a trickler never sends it)."""
    return (f"GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {agent}\r\n"
            "Connection: keep-alive\r\n\r\n").encode("ascii")  # fmt: skip


def source_addresses(count: int, host: str) -> Sequence[str | None]:
    """Local addresses to spread `count` sources over: [None] (the kernel's choice) for one; 127.0.0.k
    (k = 1..count) on IPv4 loopback, where every address has its own ephemeral port range."""
    if count <= 1 or not host.startswith("127."):
        return [None]
    return [f"127.0.0.{k}" for k in range(1, count + 1)]


async def open_crowd(
    state: CrowdState, crowd: Crowd, address: tuple[str, int], authority: str, *, default_path: str,
    sources: int, response_deadline_s: float,
) -> float:  # fmt: skip
    """Open every crowd client (idle first, then slow readers), at most CONNECT_CONCURRENCY connects at a
    time; wait until each idle client's response is in or `response_deadline_s` after the last connect.

    Returns the seconds it took.
    """
    loop = asyncio.get_running_loop()
    t0 = time.monotonic()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    locals_ = source_addresses(sources, address[0])
    idle_kind = "idle" if crowd.idle_mode == "keepalive" else "trickle"
    idle_request = request_bytes(crowd.idle_path or default_path, authority, agent="loadbench-idle")
    slow_request = request_bytes(crowd.slow_path, authority, agent="loadbench-slow-reader")

    async def one(client: _Client, failed: Counter[str], n: int) -> None:
        local = locals_[n % len(locals_)]
        sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            if client.kind == "slow":  # before connect, so the window the server sees is small from the start
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
            if local is not None:
                sock.bind((local, 0))
            async with gate:
                await asyncio.wait_for(loop.sock_connect(sock, address), CONNECT_TIMEOUT_S)
                await loop.create_connection(lambda: client, sock=sock)
        except TimeoutError:
            sock.close()
            client.state = _GONE
            failed["connect_timeout"] += 1
        except ConnectionRefusedError:
            sock.close()
            client.state = _GONE
            failed["connect_refused"] += 1
        except OSError as exc:
            sock.close()
            client.state = _GONE
            failed[f"connect_error: {exc.strerror or exc}"] += 1
        except asyncio.CancelledError:  # the opening's budget ran out before this one connected
            sock.close()
            client.state = _GONE
            failed["connect_timeout"] += 1

    tasks = []
    for n in range(crowd.idle):
        client = _Client(idle_kind, idle_request, state.failed_idle)
        state.idle.append(client)
        tasks.append(one(client, state.failed_idle, n))
    for n in range(crowd.slow_readers):
        client = _Client("slow", slow_request, state.failed_slow, rate_bps=crowd.read_rate_bps)
        state.slow.append(client)
        tasks.append(one(client, state.failed_slow, crowd.idle + n))
    # A server that stops accepting (every process or thread taken, backlog full) drops SYNs: each such
    # connect takes CONNECT_TIMEOUT_S, so the opening as a whole gets a budget too; the rest count as
    # connect_timeout.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks), 10.0 + len(tasks) / 1000)
    deadline = time.monotonic() + response_deadline_s
    while time.monotonic() < deadline and any(c.state == _WAITING for c in state.idle):
        await asyncio.sleep(0.02)
    return time.monotonic() - t0


async def trickle_forever(state: CrowdState, interval_s: float) -> None:
    """Every `interval_s`, each trickler sends one more header byte (until only the final CRLF is left)."""
    while True:
        await asyncio.sleep(interval_s)
        for client in state.idle:
            if client.kind == "trickle":
                client.trickle()


def close_all(state: CrowdState) -> None:
    """Close every crowd connection from our side."""
    for client in (*state.idle, *state.slow):
        client.close()
