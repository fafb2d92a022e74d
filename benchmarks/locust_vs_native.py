"""Locust through loadbench against the native engine and plain Locust, on one counting server.

    .venv/bin/python benchmarks/locust_vs_native.py [--rounds 3] [--users 50] [--duration 5] [--warmup 1]

The server (tests/servers_for_tests/server.py, mode ok: a 2-byte 200 answer, counting every request)
runs pinned to CPU 0; every generator runs pinned to CPU 1 with its whole process tree (taskset), one at a
time, alternating in rounds: the native engine (`bench -c N`), Locust through loadbench (`bench --engine
locust -c N`, one process, and with --locust-workers 2), and plain `locust --headless` run by hand with the
same generated FastHttpUser locustfile. For each run:

- req/s: the generator's own figure (loadbench: the measured window; plain Locust: its requests over its
  first-to-last request time), and the server's own steady rate (the median of its per-second counts while
  the load was on, polled every 0.25 s);
- req per client CPU-second: the server's count of the whole run over the user+system CPU of the whole
  generator tree (os.wait4: Python start-up, Locust import and spawning included), and for loadbench runs
  also the window's figure over the engine's own CPU of the window;
- the count check: the generator's count against the server's count of the same span (for loadbench,
  the server's count inside the harness's window; for plain Locust the whole run).

Medians of the rounds; overhead of loadbench-Locust vs plain Locust from the same rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "servers_for_tests" / "server.py"
PY = sys.executable


def _count(port: int, window: tuple[float, float] | None = None) -> int:
    query = "" if window is None else f"?from={window[0]!r}&to={window[1]!r}"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET /__count{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1]:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b"\r\n\r\n", 1)[1])


class Poller:
    """Samples the server's count every 0.25 s; steady_rps() is the median rate while the load was on."""

    def __init__(self, port: int) -> None:
        self.port, self.samples, self._stop = port, [], threading.Event()
        self.other_cpu: list[float] = []
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        psutil.cpu_percent(percpu=True)
        while not self._stop.wait(0.25):
            self.samples.append((time.monotonic(), _count(self.port)))

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def steady_rps(self) -> float:
        pairs = zip(self.samples, self.samples[1:], strict=False)
        rates = [(c2 - c1) / (t2 - t1) for (t1, c1), (t2, c2) in pairs]
        if not rates:
            return 0.0
        on = [r for r in rates if r > 0.5 * max(rates)]
        return statistics.median(on)


SERVER_PID = 0


def _busy_s() -> float:
    times = psutil.cpu_times()
    return float(times.user + times.system + times.nice)


def _server_cpu_s() -> float:
    times = psutil.Process(SERVER_PID).cpu_times()
    return float(times.user + times.system)


OTHER_CPU: list[float] = []  # per run: other processes' CPU, % of a core (MEASURING.md item 5)


def _run_tree(argv: list[str], env: dict[str, str] | None = None) -> tuple[str, float, float]:
    """Run argv pinned to CPU 1; (stdout, wall s, user+sys CPU s of the whole tree)."""
    started = time.monotonic()
    busy0, server0 = _busy_s(), _server_cpu_s()
    proc = subprocess.Popen(["taskset", "-c", "1", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)  # fmt: skip
    out_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read() if proc.stdout else b""))
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    wall = time.monotonic() - started
    tree = usage.ru_utime + usage.ru_stime
    other = _busy_s() - busy0 - (_server_cpu_s() - server0) - tree
    OTHER_CPU.append(100.0 * max(0.0, other) / wall)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:6]} exited {proc.returncode}: {err[-2000:]}")
    return b"".join(out_chunks).decode(), wall, tree


def run_loadbench(port: int, args: argparse.Namespace, extra: list[str], tmp: Path) -> dict[str, float]:
    out = tmp / "bench.json"
    argv = [PY, "-m", "loadbench", "bench", f"http://127.0.0.1:{port}/", "-c", str(args.users), "-d",
            f"{args.duration}s", "--warmup", f"{args.warmup}s", "--cpus", "1", "--json", str(out), *extra]
    before = _count(port)
    with Poller(port) as poller:
        _, wall, cpu = _run_tree(argv)
    total = _count(port) - before
    text = out.read_text()
    # one pretty object for one workload, JSON lines (the journey last) for several
    record = json.loads(text) if text.lstrip().startswith("{\n") else json.loads(text.splitlines()[-1])
    extras = record.get("backend_extras") or {}
    window = extras.get("window_monotonic")
    in_window = _count(port, tuple(window)) if window else None
    return {
        "rps": record["rps"], "server_rps": poller.steady_rps(), "wall_s": wall, "tree_cpu_s": cpu,
        "req_per_cpu_s": total / cpu,
        "window_req_per_cpu_s": record["requests"] / max(1e-9, record["client_cpu_s"]),
        "count": record["requests"], "server_count": in_window if in_window is not None else float("nan"),
        "other_cpu_pct": OTHER_CPU[-1],
    }  # fmt: skip


def run_plain_locust(port: int, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    from loadbench.engine.locust.generate import generate_locustfile
    from loadbench.types import RequestSpec

    locustfile = tmp / "plain_locustfile.py"
    locustfile.write_text(generate_locustfile([RequestSpec(path="/")], timeout_s=2.0))
    run_s = int(args.duration + args.warmup + 1)
    argv = [PY, "-m", "locust", "-f", str(locustfile), "--headless", "-H", f"http://127.0.0.1:{port}",
            "-u", str(args.users), "-r", str(args.users), "-t", f"{run_s}s", "--only-summary", "--json",
            "--exit-code-on-error", "0", "--stop-timeout", "0", "--loglevel", "WARNING"]  # fmt: skip
    before = _count(port)
    with Poller(port) as poller:
        out, wall, cpu = _run_tree(argv, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    total = _count(port) - before
    stats = json.loads(out[out.index("["):])
    requests = sum(s["num_requests"] for s in stats)
    first = min(s["start_time"] for s in stats)
    last = max(s["last_request_timestamp"] for s in stats)
    return {
        "rps": requests / (last - first), "server_rps": poller.steady_rps(), "wall_s": wall,
        "tree_cpu_s": cpu, "req_per_cpu_s": total / cpu, "window_req_per_cpu_s": float("nan"),
        "count": requests,
        "server_count": total, "other_cpu_pct": OTHER_CPU[-1],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()
    server = subprocess.Popen(["taskset", "-c", "0", PY, str(SERVER), "ok"], stdout=subprocess.PIPE,
                              start_new_session=True)  # fmt: skip
    assert server.stdout is not None
    port = int(server.stdout.readline().split()[1])
    global SERVER_PID
    SERVER_PID = server.pid
    configs = {
        "native": lambda tmp: run_loadbench(port, args, [], tmp),
        "loadbench-locust 1 process": lambda tmp: run_loadbench(port, args, ["--engine", "locust"], tmp),
        "loadbench-locust 2 workers": lambda tmp: run_loadbench(
            port, args, ["--engine", "locust", "--locust-workers", "2"], tmp),
        "plain locust --headless": lambda tmp: run_plain_locust(port, args, tmp),
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in configs}
    try:
        for round_no in range(args.rounds):
            for name, run in configs.items():
                with tempfile.TemporaryDirectory() as tmp:
                    results[name].append(run(Path(tmp)))
                print(f"round {round_no + 1} {name}: {results[name][-1]}", file=sys.stderr, flush=True)
    finally:
        os.killpg(server.pid, 9)
        server.wait()
    print(f"server: server.py ok, pinned to CPU 0; generators pinned to CPU 1; {args.users} users/"
          f"connections; {args.duration:g} s window after {args.warmup:g} s warm-up; "
          f"medians of {args.rounds}")
    print("| generator | req/s (own) | req/s (server) | req per client CPU-s (whole tree) | req per CPU-s "
          "(window) | count vs server | other CPU % |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    med: dict[str, dict[str, float]] = {}
    for name, rows in results.items():
        med[name] = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        m = med[name]
        check = m["count"] / m["server_count"] if m["server_count"] == m["server_count"] else float("nan")
        print(f"| {name} | {m['rps']:,.0f} | {m['server_rps']:,.0f} | {m['req_per_cpu_s']:,.0f} | "
              f"{m['window_req_per_cpu_s']:,.0f} | {check:.4f} | {m['other_cpu_pct']:.0f} |")
    plain, local = med["plain locust --headless"], med["loadbench-locust 1 process"]
    rps_change = local["server_rps"] / plain["server_rps"] - 1
    cpu_change = local["req_per_cpu_s"] / plain["req_per_cpu_s"] - 1
    print(f"loadbench-Locust (1 process) vs plain Locust: req/s {rps_change:+.1%} (server-counted), "
          f"req per whole-tree CPU-s {cpu_change:+.1%}")


if __name__ == "__main__":
    main()
