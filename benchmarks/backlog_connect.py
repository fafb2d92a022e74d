"""Connect time against a listener that stops calling accept(): where an accept delay shows up.

Run by hand (about 15 s): `.venv/bin/python benchmarks/backlog_connect.py [--connections 8]`.

A small listener (a child process pinned to CPU 0, loopback only) binds 127.0.0.1 with `listen(backlog)`
and does not call accept() for `pause` seconds; then it accepts everything and answers each request with a
fixed keep-alive 200. loadbench's native engine (its Python API, `loadbench.engine.drive`, pinned to CPU 1)
opens N connections at once in a closed loop with no warm-up, so every connection's connect and its first
request's time to first byte (TTFB) are in the figures. Three cases:

- a roomy backlog: the kernel completes every TCP handshake itself and parks the connection in the accept
  queue; connect() returns at once, and the accept pause shows up as TTFB (the first request waits in the
  socket until the server accepts and reads it), not as connect time;
- a full accept queue, short pause: Linux holds backlog + 1 completed connections; further SYNs are dropped
  (ListenOverflows), the client's kernel retransmits the SYN after its initial RTO (1 s), so those
  connections' connect time jumps to ~1 s while the first few still connect at once;
- a full accept queue, a pause longer than the first retransmit: that try is dropped too, and a later one
  gets in: at ~2 s on kernels with net.ipv4.tcp_syn_linear_timeouts (6.6+, default 4: the first four
  retries 1 s apart), at ~3 s (1 s, then 2 s) on older kernels with the classic exponential backoff.

Every connect time is printed (there are few), with the TTFB and latency percentiles. Per-request deadlines
are 10 s so nothing here times out. The listener's pause starts when the first connection is queued
(select() on the listening socket), so the client's start-up does not shorten it. What is measured is the
kernel's behaviour on this machine: the retransmit schedule (net.ipv4.tcp_syn_retries,
tcp_syn_linear_timeouts; initial RTO 1 s), net.core.somaxconn (caps the backlog) and
tcp_abort_on_overflow (0: drop, the client retries; 1: reset) are printed beside the table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SERVER_CPU, CLIENT_CPU = 0, 1

# The listener: bind, listen(backlog), print the port, wait for the first connection to be queued, sleep
# `pause` without accepting, then accept and serve each connection in a thread (keep-alive, one fixed
# answer per request head). stdlib only.
LISTENER = r"""
import select, socket, sys, threading, time
backlog, pause = int(sys.argv[1]), float(sys.argv[2])
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(backlog)
print("PORT", srv.getsockname()[1], flush=True)
select.select([srv], [], [])  # readable: the kernel holds a first completed connection in the queue
time.sleep(pause)  # the pause runs from the first connection, whatever the client's own start-up took

def serve(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            while b"\r\n\r\n" in buf:
                _, buf = buf.split(b"\r\n\r\n", 1)
                conn.sendall(ANSWER)

while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""


@contextlib.contextmanager
def listener(backlog: int, pause_s: float) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """The paused listener, pinned to the server CPU; killed (its whole group) on exit."""
    proc = subprocess.Popen(
        ["taskset", "-c", str(SERVER_CPU), sys.executable, "-c", LISTENER, str(backlog), str(pause_s)],
        stdout=subprocess.PIPE, start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            raise RuntimeError(f"listener did not start: {line!r}")
        yield int(line.split()[1]), proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def listen_overflows() -> int:
    """The kernel's ListenOverflows counter (TcpExt in /proc/net/netstat): SYNs dropped, queue full."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(table.get("ListenOverflows", 0))
    return 0


def sysctl(name: str) -> str:
    try:
        return Path("/proc/sys", *name.split(".")).read_text().strip()
    except OSError:
        return "?"


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One case's figures: every connection's connect time, TTFB and latency in ms, counts."""

    backlog: int
    pause_s: float
    connect_ms: list[float]
    ttfb_p50: float
    ttfb_max: float
    latency_p99: float
    requests: int
    errors: int
    overflows: int


def run_case(backlog: int, pause_s: float, connections: int, duration_s: float) -> Case:
    from loadbench.engine import drive
    from loadbench.types import Closed, DriveOptions, RequestSpec, Target

    with listener(backlog, pause_s) as (port, _proc):
        overflows = listen_overflows()
        rec = drive(Target(port=port), [RequestSpec(path="/")], Closed(connections=connections),
                    DriveOptions(duration_s=duration_s, warmup_s=0.0, timeout_s=10.0,
                                 cpus=(CLIENT_CPU,)))  # fmt: skip
        overflows = listen_overflows() - overflows  # machine-wide: other work may add a few
    connect, ttfb = rec.connect, rec.ttfb
    assert connect is not None and ttfb is not None
    n = connect.count
    # Every connection's connect time: the k-th smallest is the (100·k/n)th percentile (few, so exact
    # to the histogram's 3 significant digits).
    each = [connect.percentile(100.0 * k / n) / 1e6 for k in range(1, n + 1)]
    return Case(backlog=backlog, pause_s=pause_s, connect_ms=each, ttfb_p50=ttfb.percentile(50) / 1e6,
                ttfb_max=ttfb.max_ns / 1e6, latency_p99=rec.latency.percentile(99) / 1e6,
                requests=rec.requests, errors=rec.error_count, overflows=overflows)


def _ms(v: float) -> str:
    return f"{v:.3f}" if v < 10 else f"{v:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    cases = [  # (backlog, pause s, window s): the window outlasts the pause and any SYN retry
        (64, 0.5, 1.5),
        (2, 0.5, 2.0),
        (2, 1.5, 4.0),
    ]
    print(f"listener pinned to CPU {SERVER_CPU}, loadbench (native engine) to CPU {CLIENT_CPU}; "
          f"{args.connections} connections opened at once, closed loop, no warm-up, loopback only")
    print(f"kernel: tcp_syn_retries={sysctl('net.ipv4.tcp_syn_retries')} "
          f"tcp_syn_linear_timeouts={sysctl('net.ipv4.tcp_syn_linear_timeouts')} "
          f"somaxconn={sysctl('net.core.somaxconn')} "
          f"tcp_abort_on_overflow={sysctl('net.ipv4.tcp_abort_on_overflow')}; "
          "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"\n{'backlog':>7} {'pause s':>7} {'conns':>5} {'overflows':>9} {'TTFB p50':>9} {'TTFB max':>9} "
          f"{'lat p99':>8} {'errors':>6}  connect ms, each connection")
    for backlog, pause_s, window_s in cases:
        r = run_case(backlog, pause_s, args.connections, window_s)
        each = " ".join(_ms(v) for v in r.connect_ms)
        print(f"{backlog:>7} {pause_s:>7.1f} {len(r.connect_ms):>5} {r.overflows:>9} {_ms(r.ttfb_p50):>9} "
              f"{_ms(r.ttfb_max):>9} {_ms(r.latency_p99):>8} {r.errors:>6}  {each}")
    print("\nTimes in ms. overflows: the kernel's ListenOverflows during the case (SYNs dropped because the "
          "accept queue was full; machine-wide).\nThe accept pause is in TTFB (the first request of each "
          "connection waits in the socket), not in connect, while the accept queue has room (backlog + 1 "
          "connections);\npast it the SYN is dropped and the client's SYN retransmissions (1 s after the "
          "first try, then 1 s or 2 s apart by kernel) set the connect time.")


if __name__ == "__main__":
    main()
