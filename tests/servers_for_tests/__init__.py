"""Start the engine's test servers (server.py) as real processes on 127.0.0.1, and stop them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SERVER = Path(__file__).with_name("server.py")


@dataclass(frozen=True, slots=True, kw_only=True)
class TestServer:
    """A running test server: its port, and the count of requests it has seen."""

    __test__ = False  # not a pytest test class
    port: int
    pid: int
    cafile: str | None = None  # TLS: the CA that signed the server's certificate

    @property
    def url(self) -> str:
        return f"{'https' if self.cafile else 'http'}://127.0.0.1:{self.port}"

    def log(self) -> list[str]:
        """"TARGET ID BODY" of every request the server counted, in arrival order (server.py)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"GET /__log HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        text = data.split(b"\r\n\r\n", 1)[1].decode()
        return text.split("\n") if text else []

    def count(self, window: tuple[float, float] | None = None) -> int:
        """Requests the server has seen (excluding these count queries), or those that arrived inside a
        time.monotonic() `window` [start, end)."""
        query = "" if window is None else f"?from={window[0]!r}&to={window[1]!r}"
        with contextlib.ExitStack() as stack:
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", self.port), timeout=5))
            if self.cafile:
                import ssl

                context = ssl.create_default_context(cafile=self.cafile)
                sock = stack.enter_context(context.wrap_socket(sock, server_hostname="127.0.0.1"))
            sock.sendall(b"GET /__count%s HTTP/1.1\r\nHost: x\r\n\r\n" % query.encode())
            data = b""
            while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1]:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        return int(data.split(b"\r\n\r\n", 1)[1])


def _length(data: bytes) -> int:
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    return int(head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])


@contextlib.contextmanager
def test_server(
    mode: str, *, delay_ms: float = 10.0, slots: int = 1, status: int = 503,
    tls: tuple[str, str, str] | None = None, unix: str | None = None, handshake_delay_ms: float = 0.0,
) -> Iterator[TestServer]:
    """Run server.py in `mode` in its own process group; always killed on exit.

    `tls` = (CA file, certificate chain, key): serve TLS with that certificate (each handshake held
    `handshake_delay_ms`); `unix`: listen on that Unix socket path instead of TCP."""
    command = [sys.executable, str(SERVER), mode, "--delay-ms", str(delay_ms), "--slots", str(slots),
               "--status", str(status), *(["--unix", unix] if unix else [])]  # fmt: skip
    if tls is not None:
        command += ["--certfile", tls[1], "--keyfile", tls[2],
                    "--handshake-delay-ms", str(handshake_delay_ms)]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            raise RuntimeError(f"test server {mode} did not start: {line!r}")
        yield TestServer(port=int(line.split()[1]), pid=proc.pid, cafile=tls[0] if tls else None)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


test_server.__test__ = False  # type: ignore[attr-defined]


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
