"""loadbench's engine against wrk, ab and Locust on the same nginx, in requests per generator CPU-second.

Run by hand (about 1–2 minutes): `.venv/bin/python benchmarks/engine_vs_peers.py [--rounds 3]`.

nginx (1 worker, a private prefix in a temp dir, access log off, a 13-byte file) runs pinned to CPU 0;
every generator runs pinned to CPU 1 with 50 connections for --duration seconds, in alternating order
(A B C, then C B A, ...). Requests are counted at the server (nginx stub_status), and each generator's
CPU is the user+sys time of its process tree (os.wait4); for loadbench the CPU of the engine call itself
(drive(), measured inside the child with getrusage, so the interpreter's start-up and imports are left
out: the scenario runner pays them once for dozens of trials) is used,
with the whole process shown beside it. Other processes' CPU during each window is sampled (the machine
is shared) and shown. Ratios are per round against wrk in the same round; the table gives medians.

Then an open-loop run at 50 % of loadbench's closed-loop rate checks pacing: achieved vs target rate and
schedule lag p50/p99 (targets: ≥ 97 % and ≤ 2 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
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
        self.client.get("/hello.txt")
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


def server_count(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/nginx_status", timeout=5) as response:
        text = response.read().decode()
    return int(text.split("\n")[2].split()[2])


def start_nginx(prefix: Path, port: int) -> subprocess.Popen[bytes]:
    (prefix / "html").mkdir(parents=True)
    (prefix / "html" / "hello.txt").write_bytes(b"Hello, World!")
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=port))
    proc = subprocess.Popen(["taskset", "-c", SERVER_CPU, "nginx", "-p", str(prefix), "-c", str(conf)],
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            server_count(port)
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"nginx did not start; see {prefix}/error.log")


def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def run_measured(name: str, command: list[str], port: int, server_pid: int, own_cpu: bool = False) -> Measure:
    """Run a generator, counting requests at nginx and its CPU with wait4; sample others' CPU."""
    before = server_count(port)
    total0 = psutil.cpu_times()
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    nginx = tree(server_pid)
    nginx_cpu0 = sum(sum(p.cpu_times()[:2]) for p in nginx)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    total1 = psutil.cpu_times()
    nginx_cpu = sum(sum(p.cpu_times()[:2]) for p in nginx) - nginx_cpu0
    requests = server_count(port) - before - 1
    process_cpu = usage.ru_utime + usage.ru_stime
    busy = (total1.user + total1.system + total1.nice) - (total0.user + total0.system + total0.nice)
    other = max(busy - process_cpu - nginx_cpu, 0.0) / wall
    cpu = process_cpu
    if own_cpu:
        record = json.loads(out)
        cpu, wall = record["drive_cpu_s"], record["drive_wall_s"]
    if status != 0:
        print(f"  {name} exited with {status}: {out[-300:]}", file=sys.stderr)
    return Measure(name, requests, wall, cpu, process_cpu, other)


def engine_child(args: argparse.Namespace) -> None:
    """Inside the loadbench child: drive, then print the drive's own CPU and wall time as JSON."""
    import resource

    import loadbench.engine.phases
    import loadbench.engine.recorder  # noqa: F401 - imported before the CPU count starts (a one-off cost)
    from loadbench.engine import drive
    from loadbench.engine.base import Closed, DriveOptions, Open, RequestSpec, Target

    load = Open(rate_per_s=args.rate) if args.rate else Closed(connections=args.connections)
    usage0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    rec = drive(Target(port=args.port), [RequestSpec(path="/hello.txt")], load,
                DriveOptions(duration_s=args.duration, warmup_s=args.warmup))  # fmt: skip
    usage1, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - t0
    cpu = usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime
    lag = rec.schedule_lag
    print(json.dumps({
        "drive_cpu_s": cpu, "drive_wall_s": wall, "requests": rec.requests, "rps": rec.rps,
        "engine": rec.engine, "saturated": rec.saturated, "reasons": rec.saturation_reasons,
        "target_rps": rec.target_rps, "sent": rec.sent, "duration_s": rec.duration_s, "dropped": rec.dropped,
        "lag_p50_ms": lag.percentile(50) / 1e6 if lag else None,
        "lag_p99_ms": lag.percentile(99) / 1e6 if lag else None,
        "p50_ms": rec.latency.percentile(50) / 1e6, "p99_ms": rec.latency.percentile(99) / 1e6,
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--engine-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine_child:
        engine_child(args)
        return
    for tool in ("nginx", "wrk", "ab", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed; this benchmark needs nginx, wrk, ab and taskset")
    port = free_port()
    url = f"http://127.0.0.1:{port}/hello.txt"
    pin = ["taskset", "-c", CLIENT_CPU]
    me = [sys.executable, str(Path(__file__).resolve())]
    dur = f"{args.duration:g}"
    c = str(args.connections)
    generators = {
        "loadbench": [*pin, *me, "--engine-child", "--port", str(port), "--connections", c,
                      "--duration", dur],
        "wrk": [*pin, "wrk", "-t1", f"-c{c}", f"-d{dur}s", url],
        "ab -k": [*pin, "ab", "-q", "-k", "-c", c, "-t", dur, "-n", "10000000", url],
    }
    locust = shutil.which("locust")
    with tempfile.TemporaryDirectory(prefix="loadbench-bench-") as tmp:
        if locust:
            (Path(tmp) / "locustfile.py").write_text(LOCUSTFILE)
            generators["locust fasthttp"] = [
                *pin, locust, "-f", f"{tmp}/locustfile.py", "--headless", "-u", c, "-r", c, "-t", f"{dur}s",
                "--host", url.rsplit("/", 1)[0], "--only-summary",
            ]
        else:
            print("Locust is not installed: skipped (pip install locust to include it)")
        nginx = start_nginx(Path(tmp) / "nginx", port)
        try:
            results = run_rounds(generators, port, nginx.pid, args.rounds)
            report(results, args)
            open_loop_check(results, me, pin, port, args)
        finally:
            os.killpg(nginx.pid, signal.SIGTERM)
            nginx.wait(timeout=10)


def run_rounds(
    generators: dict[str, list[str]], port: int, server_pid: int, rounds: int
) -> dict[str, list[Measure]]:
    results: dict[str, list[Measure]] = {name: [] for name in generators}
    names = list(generators)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            m = run_measured(name, generators[name], port, server_pid, own_cpu=name == "loadbench")
            results[name].append(m)
            print(f"round {r + 1} {name:16} {m.rps:>10,.0f} req/s {m.per_cpu_s:>10,.0f} req/CPU-s (cpu "
                  f"{m.cpu_s:.2f} s, process {m.process_cpu_s:.2f} s, others {m.other_cores:.2f} cores)")
    return results


def report(results: dict[str, list[Measure]], args: argparse.Namespace) -> None:
    wrk = results["wrk"]
    print(f"\nnginx 1 worker on CPU {SERVER_CPU}; generators on CPU {CLIENT_CPU}; {args.connections} "
          f"connections, {args.duration:g} s, {args.rounds} rounds, medians; requests counted by nginx")
    print(f"{'generator':18}{'req/s':>12}{'req/CPU-s':>12}{'x wrk (per CPU-s)':>20}{'others (cores)':>16}")
    for name, ms in results.items():
        ratios = [m.per_cpu_s / w.per_cpu_s for m, w in zip(ms, wrk, strict=True) if w.per_cpu_s]
        print(f"{name:18}{statistics.median(m.rps for m in ms):>12,.0f}"
              f"{statistics.median(m.per_cpu_s for m in ms):>12,.0f}{statistics.median(ratios):>20.2f}"
              f"{statistics.median(m.other_cores for m in ms):>16.2f}")  # fmt: skip
    lb = results["loadbench"]
    whole = [m.requests / m.process_cpu_s for m in lb]
    print(f"loadbench counting its whole process (interpreter start-up, imports): "
          f"{statistics.median(whole):,.0f} req/CPU-s")


def open_loop_check(results: dict[str, list[Measure]], me: list[str], pin: list[str], port: int,
                    args: argparse.Namespace) -> None:  # fmt: skip
    capacity = statistics.median(m.rps for m in results["loadbench"])
    rate = round(capacity / 2)
    print(f"\nopen loop at 50 % of capacity: {rate:,}/s for {args.duration:g} s (1 s warm-up)")
    for r in range(args.rounds):
        command = [*pin, *me, "--engine-child", "--port", str(port), "--rate", str(rate),
                   "--duration", f"{args.duration:g}", "--warmup", "1"]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        rec = json.loads(out)
        achieved = rec["sent"] / rec["duration_s"]
        print(f"round {r + 1}: achieved {achieved:,.0f}/s = {100 * achieved / rate:.1f} % of target, "
              f"lag p50 {rec['lag_p50_ms']:.3f} ms p99 {rec['lag_p99_ms']:.3f} ms, latency p50 "
              f"{rec['p50_ms']:.3f} ms p99 {rec['p99_ms']:.3f} ms, dropped {rec['dropped']}, "
              f"saturated {rec['saturated']} {rec['reasons'] or ''}")  # fmt: skip


if __name__ == "__main__":
    main()
