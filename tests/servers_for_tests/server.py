"""A small misbehaving HTTP/1.1 server for the engine's integration tests (stdlib asyncio only).

Run: python server.py MODE [--delay-ms N] [--slots N] [--status N] [--port N] [--certfile PEM --keyfile
PEM [--handshake-delay-ms N]] (TLS when given, each handshake held N ms); it binds 127.0.0.1 on
--port (default: a free port), prints "PORT <n>" on stdout and serves until killed. Every request except
GET /__count is counted; GET /__count answers the count so far (the test's ground truth for "requests
the server saw"); GET /__count?from=T0&to=T1 counts only the requests whose head arrived with
T0 <= time.monotonic() < T1 (CLOCK_MONOTONIC is shared by every process of a Linux machine, so a load
generator's window can be checked against it). The bytes of every hostile answer are written as they
are: no HTTP library between.

Well-behaved modes:
  ok        200 with a 2-byte body at once
  slow      each request holds one of --slots slots for --delay-ms (a fixed service time, queued FIFO)
  chunked   a chunked body of 3 chunks written separately, with a trailer
  status    an empty response with status --status (e.g. 503)
  close     200 with Connection: close, then closes
  dynamic   200 whose body is the request count: no two responses alike (defeats the engine's cache);
            every third one chunked, every fifth one HTTP/1.0 with keep-alive
  wrong-body  200 "ok", but every 4th counted request gets 200 "no" and every 10th 500 "ok" (exact
            check counts; a request that is both gets "no")
  split     the head and half the body after --delay-ms, the rest --delay-ms later (TTFB ≈ delay,
            latency ≈ 2 × delay)
  head-body the head at once, the body --delay-ms later, in two writes (as uvicorn writes them): a read
            can end exactly at a head's end
Pipelining: requests are read and answered in order, so every mode serves a pipelining client.
--unix PATH listens on that Unix socket instead of TCP (prints "PORT 0").
Every counted request's target, X-Id header and body are logged in arrival order; GET /__log answers
them one per line as "TARGET ID BODY" (the ground truth for templated requests and seeds).
Failing and hostile modes (the class the engine must count is in brackets; see engine/native/aio.py):
  hang            reads requests and never answers                                     [timeout]
  trickle         the head, then the 100-byte body one byte every --delay-ms           [timeout]
  reset           answers every request with a TCP reset (SO_LINGER 0, close)          [reset]
  bad-status      a complete head whose status line is not HTTP ("HTTP/1.1 2x0 ...")   [protocol]
  not-http        a banner that is not HTTP at all, then silence                       [protocol]
  bad-chunked     a chunked body whose second chunk size is not hex                    [protocol]
  long-cl-close   Content-Length 100, 10 bytes of body, then close                     [reset]
  long-cl-hang    Content-Length 100, 10 bytes of body, then nothing                   [timeout]
  short-cl        Content-Length 2 but a longer body: extra bytes before the next one  [protocol]
  huge-header     a head with a 1 MiB header line                                      [protocol]
  early           a response on accept, before any request, then one per request       [protocol]
  mid-body-close  a chunked body cut off mid-chunk by a close                          [reset]
  endless-chunked 16 KiB chunks forever                                                [timeout]
  endless-close   no length (body until close), 64 KiB blocks forever                  [timeout]
  huge-chunk      one chunk of 2**40 bytes, streamed forever                           [timeout]
  slow-first-byte the answer after --delay-ms (e.g. 10 s)                              [timeout]
  die             answers ok, and --delay-ms after the first request the process exits with
                  code 3 after printing "dying now" (a server that dies under load)      [connect refused]
  bypath          the first path segment names the mode per request ("/short-cl"); "/ok" and anything
                  unknown answer as ok (so a readiness probe at "/ok" succeeds); "early" is not per path
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import struct
import sys
import time

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
BLOCK = b"x" * 65536
CHUNK = b"4000\r\n" + b"y" * 0x4000 + b"\r\n"


class Server:
    def __init__(self, mode: str, delay_s: float, slots: int, status: int) -> None:
        self.mode = mode
        self.delay_s = delay_s
        self.slots = asyncio.Semaphore(slots)
        self.status = status
        self.count = 0
        self.dying = False
        self.arrivals: list[float] = []  # time.monotonic() of each counted request, ascending
        self.log: list[bytes] = []  # "TARGET ID BODY" of each counted request, in arrival order

    def count_between(self, head: bytes) -> int:
        """The count, or with ?from=T0&to=T1 the requests that arrived within [T0, T1)."""
        import bisect
        from urllib.parse import parse_qs, urlsplit

        query = parse_qs(urlsplit(head.split(b" ", 2)[1].decode()).query)
        if "from" not in query:
            return self.count
        low, high = float(query["from"][0]), float(query["to"][0])
        return bisect.bisect_left(self.arrivals, high) - bisect.bisect_left(self.arrivals, low)

    async def handle_unix(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.handle(reader, writer, tcp=False)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                     tcp: bool = True) -> None:  # fmt: skip
        sock = writer.get_extra_info("socket")
        if tcp:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if self.mode == "early":
                writer.write(OK)  # before reading anything: a response nobody asked for
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                if head.startswith(b"GET /__log "):
                    text = b"\n".join(self.log)
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(text), text))
                    continue
                if head.startswith((b"GET /__count ", b"GET /__count?")):
                    body = str(self.count_between(head)).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                    continue
                self.count += 1
                self.arrivals.append(time.monotonic())
                ident = b"-"
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"x-id:"):
                        ident = line.split(b":", 1)[1].strip()
                self.log.append(b"%s %s %s" % (head.split(b" ", 2)[1], ident, body))
                mode = self.mode
                if mode == "bypath":
                    mode = head.split(b" ", 2)[1].split(b"/")[1].split(b"?")[0].decode() or "ok"
                if not await self.answer(mode, writer):
                    return
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            if not writer.is_closing():
                writer.close()

    async def answer(self, mode: str, writer: asyncio.StreamWriter) -> bool:
        """Write the response of this mode; False when the connection is finished."""
        if mode == "slow":
            async with self.slots:
                await asyncio.sleep(self.delay_s)
            writer.write(OK)
        elif mode == "hang":
            await asyncio.sleep(3600)
        elif mode == "trickle":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            for _ in range(100):
                await writer.drain()
                await asyncio.sleep(self.delay_s)
                writer.write(b"x")
        elif mode == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        elif mode == "chunked":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n")
            for part in (b"5\r\nhello\r\n", b"1;ext=1\r\n \r\n", b"5\r\nworld\r\n0\r\nX-T: 1\r\n\r\n"):
                await writer.drain()
                await asyncio.sleep(0.0005)
                writer.write(part)
        elif mode == "status":
            writer.write(b"HTTP/1.1 %d Oops\r\nContent-Length: 0\r\n\r\n" % self.status)
        elif mode == "dynamic":
            body = str(self.count).encode()
            if self.count % 3 == 0:
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
                             % (len(body), body))  # fmt: skip
            else:
                version = b"1.0" if self.count % 5 == 0 else b"1.1"
                keep = b"Connection: keep-alive\r\n" if version == b"1.0" else b""
                writer.write(b"HTTP/%s 200 OK\r\n%sContent-Length: %d\r\n\r\n%s"
                             % (version, keep, len(body), body))  # fmt: skip
        elif mode == "wrong-body":
            body = b"no" if self.count % 4 == 0 else b"ok"
            status = b"500 Oops" if self.count % 10 == 0 and body == b"ok" else b"200 OK"
            writer.write(b"HTTP/1.1 %s\r\nContent-Length: 2\r\n\r\n%s" % (status, body))
        elif mode == "split":
            await asyncio.sleep(self.delay_s)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nha")
            await writer.drain()
            await asyncio.sleep(self.delay_s)
            writer.write(b"lf")
        elif mode == "head-body":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
            await writer.drain()
            await asyncio.sleep(self.delay_s)
            writer.write(b"ok")
        elif mode == "close":
            writer.write(OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
            await writer.drain()
            writer.close()
            return False
        else:
            return await self.hostile(mode, writer)
        return True

    async def hostile(self, mode: str, writer: asyncio.StreamWriter) -> bool:
        if mode == "bad-status":
            writer.write(b"HTTP/1.1 2x0 Broken\r\nContent-Length: 2\r\n\r\nok")
        elif mode == "not-http":
            writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
            await asyncio.sleep(3600)
        elif mode == "bad-chunked":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n")
        elif mode in ("long-cl-close", "long-cl-hang"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            await writer.drain()
            if mode == "long-cl-close":
                writer.close()
                return False
            await asyncio.sleep(3600)
        elif mode == "short-cl":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok, and 27 bytes too many!!")
        elif mode == "huge-header":
            big = b"X-Big: " + b"a" * (1 << 20)
            writer.write(b"HTTP/1.1 200 OK\r\n" + big + b"\r\nContent-Length: 2\r\n\r\nok")
        elif mode == "mid-body-close":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\nonly part of the chunk")
            await writer.drain()
            writer.close()
            return False
        elif mode in ("endless-chunked", "endless-close", "huge-chunk"):
            if mode == "endless-chunked":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                block = CHUNK * 4
            elif mode == "endless-close":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
                block = BLOCK
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000\r\n")
                block = BLOCK
            while True:  # until the client goes away (drain raises ConnectionError)
                writer.write(block)
                await writer.drain()
        elif mode == "slow-first-byte":
            await asyncio.sleep(self.delay_s)
            writer.write(OK)
        elif mode == "die":
            if not self.dying:
                self.dying = True
                asyncio.get_running_loop().call_later(self.delay_s, _die)
            writer.write(OK)
        else:
            writer.write(OK)  # "ok", and any unknown path in bypath mode
        return True


def _die() -> None:
    print("dying now", flush=True)
    import os

    os._exit(3)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode")
    parser.add_argument("--delay-ms", type=float, default=10.0)
    parser.add_argument("--slots", type=int, default=1)
    parser.add_argument("--status", type=int, default=503)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--unix", default=None)
    parser.add_argument("--certfile", default=None, help="serve TLS with this certificate chain (PEM)")
    parser.add_argument("--keyfile", default=None)
    parser.add_argument("--handshake-delay-ms", type=float, default=0.0,
                        help="TLS: hold each handshake this long at the ClientHello")  # fmt: skip
    args = parser.parse_args()
    server = Server(args.mode, args.delay_ms / 1000, args.slots, args.status)
    context = None
    if args.certfile:
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.certfile, args.keyfile)
        if args.handshake_delay_ms:
            delay_s = args.handshake_delay_ms / 1000

            def hold(*_: object) -> None:  # called at every ClientHello, SNI or not
                time.sleep(delay_s)  # blocks the loop: a test server with one connection at a time

            context.sni_callback = hold
    if args.unix:
        srv = await asyncio.start_unix_server(server.handle_unix, args.unix, backlog=1024, ssl=context)
        port = 0
    else:
        srv = await asyncio.start_server(server.handle, "127.0.0.1", args.port, backlog=1024, ssl=context)
        port = srv.sockets[0].getsockname()[1]
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
