"""loadbench's engine against wrk, ab and Locust on the same server, in requests per generator CPU-second.

Run by hand (about 2 minutes): `.venv/bin/python benchmarks/engine_vs_peers.py [--rounds 3]
[--server nginx|uvicorn] [--baseline-src DIR]`.

The server runs pinned to CPU 0: nginx (1 worker, a private prefix in a temp dir, access log off, a
13-byte file; requests counted at the server by stub_status), or the bundled app's /json under uvicorn
(started through loadbench's own server registry), or "dynamic": the tests' asyncio server whose
responses never repeat (each body is a count; a third chunked), which defeats loadbench's response
cache and exercises its framing. Without a server-side counter each generator's own count is used:
wrk's "requests in", ab's "Complete requests", Locust's JSON, loadbench's Recording.
Every generator runs pinned to CPU 1 with 50 connections (Locust: 50 users) for --duration seconds, in
alternating order (A B C, then C B A, ...). Each generator's CPU is the user+sys time of its process
tree (os.wait4). For loadbench the CPU of the engine call itself (drive(), measured inside the child
with getrusage) is used, so the interpreter's start-up and imports are left out (the scenario runner
pays them once for dozens of trials); the whole process is shown beside it. Likewise Locust is
charged only for its steady seconds: its process CPU is sampled with psutil and set against the
requests its JSON output counts in the same whole seconds (first and last second left out), so its
~1 s of start-up (gevent, imports) is not held against it. `--baseline-src DIR` adds
"loadbench@base", the engine imported from another source tree (e.g. a copy of the previous
revision's loadbench/ package's parent), so before/after ratios come from the same run.

Other processes' CPU during each window is sampled (the machine is shared) and shown; figures are
medians of the rounds, ratios per round against wrk in the same round. Then an open-loop run at 50 %
of loadbench's closed-loop rate checks pacing: achieved vs target rate and schedule lag p50/p99
(targets: ≥ 97 % and ≤ 2 ms).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

SERVER_CPU = "0"
CLIENT_CPU = "1"
NGINX_CONF = """worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/tmp_body;
  proxy_temp_path {prefix}/tmp_proxy;
  fastcgi_temp_path {prefix}/tmp_fastcgi;
  uwsgi_temp_path {prefix}/tmp_uwsgi;
  scgi_temp_path {prefix}/tmp_scgi;
  keepalive_requests 100000000;
  server {{
    listen 127.0.0.1:{port};
    root {prefix}/html;
    location = /nginx_status {{ stub_status; }}
  }}
}}
"""
LOCUSTFILE = """from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

class User(FastHttpUser):
    wait_time = constant(0)

    @task
    def hello(self):
        self.client.get("{path}")
"""


@dataclass(frozen=True, slots=True)
class Measure:
    name: str
    requests: int
    wall_s: float
    cpu_s: float
    process_cpu_s: float
    other_cores: float

    @property
    def rps(self) -> float:
        return self.requests / self.wall_s

    @property
    def per_cpu_s(self) -> float:
        return self.requests / self.cpu_s if self.cpu_s > 0 else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nginx_count(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/nginx_status", timeout=5) as response:
        text = response.read().decode()
    return int(text.split("\n")[2].split()[2])


def start_nginx(prefix: Path, port: int) -> subprocess.Popen[bytes]:
    (prefix / "html").mkdir(parents=True)
    (prefix / "html" / "hello.txt").write_bytes(b"Hello, World!")
    for path in (prefix.parent, prefix, prefix / "html", prefix / "html" / "hello.txt"):
        path.chmod(0o755)  # nginx's workers run as nobody when started by root: else every answer is 403
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=port))
    proc = subprocess.Popen(["taskset", "-c", SERVER_CPU, "nginx", "-p", str(prefix), "-c", str(conf)],
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            nginx_count(port)
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"nginx did not start; see {prefix}/error.log")


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its children (0 when it is gone)."""
    try:
        root = psutil.Process(pid)
        return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)])
    except psutil.NoSuchProcess:
        return 0.0


class CpuSampler:
    """Samples a process tree's CPU every 50 ms in a thread: (wall clock time, CPU seconds) pairs."""

    def __init__(self, pid: int) -> None:
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(pid,), daemon=True)
        self._thread.start()

    def _run(self, pid: int) -> None:
        while not self._stop.wait(0.05):
            cpu = tree_cpu(pid)
            if cpu:
                self.samples.append((time.time(), cpu))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def at(self, when: float) -> float:
        """CPU seconds at wall time `when`, interpolated between samples."""
        before = [s for s in self.samples if s[0] <= when]
        after = [s for s in self.samples if s[0] >= when]
        if not before or not after:
            raise ValueError("no CPU samples around that time")
        (t0, c0), (t1, c1) = before[-1], after[0]
        return c0 if t1 == t0 else c0 + (c1 - c0) * (when - t0) / (t1 - t0)


def locust_steady(out: str, sampler: CpuSampler) -> tuple[int, float, float]:
    """(requests, CPU s, wall s) over Locust's whole steady seconds (first and last left out)."""
    stats = json.loads(out)
    per_second: dict[int, int] = {}
    for entry in stats:
        for second, n in entry["num_reqs_per_sec"].items():
            per_second[int(second)] = per_second.get(int(second), 0) + n
    seconds = sorted(per_second)[1:-1]
    if not seconds:
        raise ValueError("Locust ran for too few whole seconds; use a longer --duration")
    first, last = seconds[0], seconds[-1] + 1
    return sum(per_second[s] for s in seconds), sampler.at(last) - sampler.at(first), float(last - first)


def own_count(name: str, out: str) -> int:
    """The request count a generator printed (for servers without a counter of their own)."""
    patterns = {"wrk": r"(\d+) requests in", "ab -k": r"Complete requests:\s+(\d+)"}
    if name.startswith("loadbench"):
        return int(json.loads(out)["requests"])
    if name.startswith("locust"):
        return int(sum(entry["num_requests"] for entry in json.loads(out)))
    # "wrk p16" (breadth.py's pipelining rounds) prints what plain wrk prints
    match = re.search(patterns["wrk" if name.startswith("wrk") else name], out)
    if match is None:
        raise ValueError(f"{name}: no request count in its output: {out[-300:]!r}")
    return int(match.group(1))


def run_measured(name: str, command: list[str], server_pid: int, count: Callable[[], int] | None,
                 env: dict[str, str] | None = None) -> Measure:  # fmt: skip
    """Run a generator; requests counted at the server when it can (`count`), else by the generator."""
    before = count() if count else 0
    total0 = psutil.cpu_times()
    server_cpu0 = tree_cpu(server_pid)
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    sampler = CpuSampler(proc.pid)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    sampler.stop()
    wall = time.perf_counter() - start
    total1 = psutil.cpu_times()
    server_cpu = tree_cpu(server_pid) - server_cpu0
    process_cpu = usage.ru_utime + usage.ru_stime
    busy = (total1.user + total1.system + total1.nice) - (total0.user + total0.system + total0.nice)
    other = max(busy - process_cpu - server_cpu, 0.0) / wall
    requests = count() - before - 1 if count else own_count(name, out)
    cpu = process_cpu
    if name.startswith("loadbench"):
        record = json.loads(out)
        cpu, wall = record["drive_cpu_s"], record["drive_wall_s"]
        if record["ok"] < record["requests"] or record["errors"]:
            print(f"  {name}: only {record['ok']} of {record['requests']} responses were 2xx, "
                  f"{record['errors']} errors", file=sys.stderr)
    elif name.startswith("locust"):
        requests, cpu, wall = locust_steady(out, sampler)
    if status != 0:
        print(f"  {name} exited with status {status >> 8}: {out[-300:]!r}", file=sys.stderr)
    return Measure(name, requests, wall, cpu, process_cpu, other)


def engine_child(args: argparse.Namespace) -> None:
    """Inside the loadbench child: drive, then print the drive's own CPU and wall time as JSON."""
    import importlib
    import resource

    from loadbench.engine import drive

    # The engine proper is imported before the CPU count starts (a one-off cost). --baseline-src may hold
    # an older layout (before the one-house packages: engine/phases.py, engine/base.py).
    try:
        importlib.import_module("loadbench.engine.native.phases")
        from loadbench.types import Closed, DriveOptions, Open, RequestSpec, Target
    except ModuleNotFoundError:
        importlib.import_module("loadbench.engine.phases")
        from loadbench.engine.base import (  # type: ignore[no-redef]
            Closed,
            DriveOptions,
            Open,
            RequestSpec,
            Target,
        )

    load = Open(rate_per_s=args.rate) if args.rate else Closed(connections=args.connections)
    usage0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    rec = drive(Target(port=args.port), [RequestSpec(path=args.path)], load,
                DriveOptions(duration_s=args.duration, warmup_s=args.warmup))  # fmt: skip
    usage1, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - t0
    cpu = usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime
    lag = rec.schedule_lag
    print(json.dumps({
        "drive_cpu_s": cpu, "drive_wall_s": wall, "requests": rec.requests, "rps": rec.rps,
        "engine": rec.engine, "saturated": rec.saturated, "reasons": rec.saturation_reasons,
        "target_rps": rec.target_rps, "sent": rec.sent, "duration_s": rec.duration_s, "dropped": rec.dropped,
        "errors": sum(rec.errors.values()), "ok": rec.ok,
        "lag_p50_ms": lag.percentile(50) / 1e6 if lag else None,
        "lag_p99_ms": lag.percentile(99) / 1e6 if lag else None,
        "p50_ms": rec.latency.percentile(50) / 1e6, "p99_ms": rec.latency.percentile(99) / 1e6,
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--server", choices=["nginx", "uvicorn", "dynamic"], default="nginx")
    parser.add_argument("--baseline-src", type=Path, help="a directory holding another loadbench/ package")
    parser.add_argument("--no-open-loop", action="store_true", help="skip the open-loop pacing check")
    parser.add_argument("--engine-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--path", default="/hello.txt", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine_child:
        engine_child(args)
        return
    for tool in ("nginx", "wrk", "ab", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed; this benchmark needs nginx, wrk, ab and taskset")
    with tempfile.TemporaryDirectory(prefix="loadbench-bench-") as tmp:
        if args.server == "nginx":
            port = free_port()
            nginx = start_nginx(Path(tmp) / "nginx", port)
            try:
                measure_all(args, tmp, port, "/hello.txt", nginx.pid, lambda: nginx_count(port))
            finally:
                os.killpg(nginx.pid, signal.SIGTERM)
                nginx.wait(timeout=10)
        elif args.server == "dynamic":
            with dynamic_server() as (port, pid):
                measure_all(args, tmp, port, "/", pid, None)
        else:
            from loadbench.servers.base import AppSpec, ServerOptions
            from loadbench.servers.registry import get_model

            with get_model("uvicorn").start(AppSpec(), ServerOptions(cpus=(int(SERVER_CPU),))) as server:
                measure_all(args, tmp, server.port, "/json", server.pid, None)


@contextlib.contextmanager
def dynamic_server() -> Iterator[tuple[int, int]]:
    """The tests' asyncio server in "dynamic" mode (no two responses alike), pinned: (port, pid)."""
    server = Path(__file__).resolve().parents[1] / "tests" / "servers_for_tests" / "server.py"
    proc = subprocess.Popen(["taskset", "-c", SERVER_CPU, sys.executable, str(server), "dynamic"],
                            stdout=subprocess.PIPE, start_new_session=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        yield int(proc.stdout.readline().split()[1]), proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def measure_all(args: argparse.Namespace, tmp: str, port: int, path: str, server_pid: int,
                count: Callable[[], int] | None) -> None:  # fmt: skip
    url = f"http://127.0.0.1:{port}{path}"
    pin = ["taskset", "-c", CLIENT_CPU]
    me = [sys.executable, str(Path(__file__).resolve())]
    dur = f"{args.duration:g}"
    c = str(args.connections)
    child = [*pin, *me, "--engine-child", "--port", str(port), "--path", path, "--connections", c,
             "--duration", dur]  # fmt: skip
    generators: dict[str, tuple[list[str], dict[str, str] | None]] = {"loadbench": (child, None)}
    if args.baseline_src:
        env = {**os.environ, "PYTHONPATH": str(args.baseline_src.resolve())}
        generators["loadbench@base"] = (child, env)
    generators["wrk"] = ([*pin, "wrk", "-t1", f"-c{c}", f"-d{dur}s", url], None)
    if args.server != "dynamic":  # ab stops at the first body whose length differs from the first one's
        generators["ab -k"] = ([*pin, "ab", "-q", "-k", "-c", c, "-t", dur, "-n", "10000000", url], None)
    beside = Path(sys.executable).with_name("locust")  # the venv's, when the venv is not on PATH
    locust = str(beside) if beside.exists() else shutil.which("locust")
    if locust:
        (Path(tmp) / "locustfile.py").write_text(LOCUSTFILE.format(path=path))
        generators["locust fasthttp"] = ([
            *pin, locust, "-f", f"{tmp}/locustfile.py", "--headless", "-u", c, "-r", c, "-t", f"{dur}s",
            "--host", url.rsplit("/", 1)[0], "--only-summary", "--json", "--loglevel", "ERROR",
        ], None)  # fmt: skip
    else:
        print("Locust is not installed: skipped (pip install locust to include it)")
    results = run_rounds(generators, server_pid, count, args.rounds)
    report(results, args, path)
    if not args.no_open_loop:
        open_loop_check(results, child, args)


def run_rounds(generators: dict[str, tuple[list[str], dict[str, str] | None]], server_pid: int,
               count: Callable[[], int] | None, rounds: int) -> dict[str, list[Measure]]:  # fmt: skip
    results: dict[str, list[Measure]] = {name: [] for name in generators}
    names = list(generators)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            command, env = generators[name]
            m = run_measured(name, command, server_pid, count, env)
            results[name].append(m)
            print(f"round {r + 1} {name:16} {m.rps:>10,.0f} req/s {m.per_cpu_s:>10,.0f} req/CPU-s (cpu "
                  f"{m.cpu_s:.2f} s, process {m.process_cpu_s:.2f} s, others {m.other_cores:.2f} cores)")
    return results


def report(results: dict[str, list[Measure]], args: argparse.Namespace, path: str) -> None:
    wrk = results["wrk"]
    counted = "by nginx (stub_status)" if args.server == "nginx" else "by each generator"
    print(f"\n{args.server} {path} on CPU {SERVER_CPU}; generators on CPU {CLIENT_CPU}; {args.connections} "
          f"connections, {args.duration:g} s, {args.rounds} rounds, medians; requests counted {counted}")
    print(f"{'generator':18}{'req/s':>12}{'req/CPU-s':>12}{'x wrk (per CPU-s)':>20}{'others (cores)':>16}")
    for name, ms in results.items():
        ratios = [m.per_cpu_s / w.per_cpu_s for m, w in zip(ms, wrk, strict=True) if w.per_cpu_s]
        print(f"{name:18}{statistics.median(m.rps for m in ms):>12,.0f}"
              f"{statistics.median(m.per_cpu_s for m in ms):>12,.0f}{statistics.median(ratios):>20.2f}"
              f"{statistics.median(m.other_cores for m in ms):>16.2f}")  # fmt: skip
    lb = results["loadbench"]
    for other in ("loadbench@base", "locust fasthttp"):
        if other in results:
            pairs = zip(lb, results[other], strict=True)
            ratio = statistics.median(a.per_cpu_s / b.per_cpu_s for a, b in pairs if b.per_cpu_s)
            print(f"loadbench / {other} per CPU-s, median of per-round ratios: {ratio:.2f}")
    whole = [m.requests / m.process_cpu_s for m in lb]
    print(f"loadbench counting its whole process (interpreter start-up, imports): "
          f"{statistics.median(whole):,.0f} req/CPU-s")


def open_loop_check(results: dict[str, list[Measure]], child: list[str], args: argparse.Namespace) -> None:
    capacity = statistics.median(m.rps for m in results["loadbench"])
    rate = round(capacity / 2)
    print(f"\nopen loop at 50 % of capacity: {rate:,}/s for {args.duration:g} s (1 s warm-up)")
    engines: dict[str, dict[str, str] | None] = {"loadbench": None}
    if args.baseline_src:
        engines["loadbench@base"] = {**os.environ, "PYTHONPATH": str(args.baseline_src.resolve())}
    for r in range(args.rounds):
        for name, env in engines.items():
            command = [*child, "--rate", str(rate), "--warmup", "1"]
            out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
            rec = json.loads(out)
            achieved = rec["sent"] / rec["duration_s"]
            print(f"round {r + 1} {name}: achieved {100 * achieved / rate:.1f} % of target, engine CPU "
                  f"{100 * rec['drive_cpu_s'] / rec['drive_wall_s']:.0f} %, lag p50 {rec['lag_p50_ms']:.3f} "
                  f"p99 {rec['lag_p99_ms']:.3f} ms, latency p50 {rec['p50_ms']:.3f} "
                  f"p99 {rec['p99_ms']:.3f} ms, dropped {rec['dropped']}, saturated {rec['saturated']}")


if __name__ == "__main__":
    main()
