"""A small misbehaving HTTP/1.1 server for the engine's integration tests (stdlib asyncio only).

Run: python server.py MODE [--delay-ms N] [--slots N] [--status N]; it binds 127.0.0.1 on a free port,
prints "PORT <n>" on stdout and serves until killed. Every request except GET /__count is counted;
GET /__count answers the count so far (the test's ground truth for "requests the server saw").

Modes:
  ok        200 with a 2-byte body at once
  slow      each request holds one of --slots slots for --delay-ms (a fixed service time, queued FIFO)
  hang      reads requests and never answers
  trickle   sends the head, then the 100-byte body one byte every --delay-ms
  reset     answers every request with a TCP reset (SO_LINGER 0, close)
  chunked   a chunked body of 3 chunks written separately, with a trailer
  status    an empty response with status --status (e.g. 503)
  close     200 with Connection: close, then closes
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import struct
import sys


class Server:
    def __init__(self, mode: str, delay_s: float, slots: int, status: int) -> None:
        self.mode = mode
        self.delay_s = delay_s
        self.slots = asyncio.Semaphore(slots)
        self.status = status
        self.count = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                if head.startswith(b"GET /__count "):
                    body = str(self.count).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                    continue
                self.count += 1
                if not await self.answer(writer):
                    return
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            if not writer.is_closing():
                writer.close()

    async def answer(self, writer: asyncio.StreamWriter) -> bool:
        """Write the response of this mode; False when the connection is finished."""
        mode = self.mode
        if mode == "ok":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
        elif mode == "slow":
            async with self.slots:
                await asyncio.sleep(self.delay_s)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
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
        elif mode == "close":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
            writer.close()
            return False
        else:
            raise SystemExit(f"unknown mode {mode!r}")
        return True


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode")
    parser.add_argument("--delay-ms", type=float, default=10.0)
    parser.add_argument("--slots", type=int, default=1)
    parser.add_argument("--status", type=int, default=503)
    args = parser.parse_args()
    server = Server(args.mode, args.delay_ms / 1000, args.slots, args.status)
    srv = await asyncio.start_server(server.handle, "127.0.0.1", 0, backlog=1024)
    port = srv.sockets[0].getsockname()[1]
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
