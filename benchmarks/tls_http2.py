"""What TLS and HTTP/2 cost the clients: native HTTP/1.1 plain vs native TLS vs httpx HTTP/1.1 vs httpx
HTTP/2 (1 and 10 streams), and h2load on the same HTTP/2 target, against one nginx.

Run by hand: `.venv/bin/python benchmarks/tls_http2.py [--rounds 3] [--window 5] [--warmup 1]`.

Method (shared/MEASURING.md): nginx (1 worker, the bundled app's fixed /plaintext answer) runs twice from
one model, a plain listener and a TLS + HTTP/2 one (throwaway CA), both pinned to CPU 0; every client is
pinned to CPU 1. The configurations alternate in each round (the order rotates by round), each a 1 s
warm-up then a measured window; medians over the rounds. Concurrency is 50 requests in flight everywhere
(50 connections, or 5 connections × 10 streams). Per row: requests per second, requests per client
CPU-second (user + sys of the client over the window: getrusage in-process, os.wait4 for h2load), the
server's CPU, and the CPU other processes used meanwhile (a busy machine makes a round suspect).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from loadbench.engine import run_backend
from loadbench.servers import AppSpec, ServerOptions, get_model
from loadbench.types import Closed, DriveOptions, RequestSpec, Target

SERVER_CPU, CLIENT_CPU = 0, 1
PATH = "/plaintext"


@dataclass(slots=True)
class Sample:
    rps: float
    client_cpu_s: float
    requests: int
    server_cpu_pct: float
    other_cpu_pct: float
    note: str = ""

    @property
    def per_cpu_s(self) -> float:
        return self.requests / self.client_cpu_s if self.client_cpu_s > 0 else 0.0


def _cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _measured(run: Callable[[], tuple[float, float, int, str]], server_pids: list[int], window_s: float,
              warmup_s: float) -> Sample:  # fmt: skip
    """Run one configuration; server and machine CPU are taken around the whole call and scaled to it."""
    machine0, server0, t0 = psutil.cpu_times(), _cpu_of(server_pids), time.monotonic()
    rps, client_cpu_s, requests, note = run()
    elapsed = time.monotonic() - t0
    machine1, server1 = psutil.cpu_times(), _cpu_of(server_pids)
    fields = ("user", "system", "nice", "irq", "softirq")
    busy = sum(getattr(machine1, f) - getattr(machine0, f) for f in fields)
    server_s = server1 - server0
    other = max(busy - server_s - client_cpu_s * (warmup_s + window_s) / window_s, 0.0)
    return Sample(rps=rps, client_cpu_s=client_cpu_s, requests=requests, note=note,
                  server_cpu_pct=100 * server_s / elapsed, other_cpu_pct=100 * other / elapsed)


def _engine(backend: str, target: Target, connections: int, settings: dict[str, object], window_s: float,
            warmup_s: float, cacert: str | None) -> Callable[[], tuple[float, float, int, str]]:  # fmt: skip
    def run() -> tuple[float, float, int, str]:
        options = DriveOptions(duration_s=window_s, warmup_s=warmup_s, timeout_s=5.0, cpus=(CLIENT_CPU,),
                               cacert=cacert)  # fmt: skip
        result = run_backend(backend, target, [RequestSpec(path=PATH)], Closed(connections=connections),
                             options, settings=settings)  # fmt: skip
        rec = result.only()
        note = str(result.extras.get("http_version") or "HTTP/1.1")
        if rec.error_count:
            note += f", {rec.error_count} errors"
        if rec.saturated:
            note += ", saturated"
        return rec.rps, rec.client_cpu_s, rec.requests - rec.drained, note

    return run


def _h2load(url: str, connections: int, streams: int, window_s: float, warmup_s: float
            ) -> Callable[[], tuple[float, float, int, str]]:  # fmt: skip
    def run() -> tuple[float, float, int, str]:
        argv = ["taskset", "-c", str(CLIENT_CPU), "h2load", "-c", str(connections), "-m", str(streams),
                "-t", "1", "-D", f"{int(window_s * 1000)}ms", "--warm-up-time", f"{int(warmup_s * 1000)}ms",
                url]  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        done = next(line for line in out.splitlines() if line.startswith("requests:"))
        succeeded = int(done.split(",")[3].split()[0])
        finished = next(line for line in out.splitlines() if line.startswith("finished in"))
        rps = float(finished.split(",")[1].split()[0])
        protocol = next((line.split(":", 1)[1].strip() for line in out.splitlines()
                         if line.startswith("Application protocol")), "?")  # fmt: skip
        # h2load's CPU covers warm-up + window; scale it to the window as its request count is.
        cpu_s = (usage.ru_utime + usage.ru_stime) * window_s / (window_s + warmup_s)
        return rps, cpu_s, succeeded, f"h2load, ALPN {protocol}"

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()
    model = get_model("nginx")
    plain_opts = ServerOptions(workers=1, cpus=(SERVER_CPU,))
    tls_opts = ServerOptions(workers=1, cpus=(SERVER_CPU,), tls=True, http2=True)
    with model.start(AppSpec(), plain_opts) as plain, model.start(AppSpec(), tls_opts) as tls:
        assert tls.tls is not None
        ca = str(tls.tls.ca)
        http = Target(port=plain.port)
        https = Target(scheme="https", port=tls.port)
        w, u = args.window, args.warmup
        configs: dict[str, tuple[Callable[[], tuple[float, float, int, str]], list[int]]] = {
            "native HTTP/1.1 plain, 50 conns": (_engine("native", http, 50, {}, w, u, None), plain.pids()),
            "native HTTP/1.1 TLS, 50 conns": (_engine("native", https, 50, {}, w, u, ca), tls.pids()),
            "httpx HTTP/1.1 TLS, 50 conns": (_engine("httpx", https, 50, {}, w, u, ca), tls.pids()),
            "httpx HTTP/2, 50 conns x 1 stream": (
                _engine("httpx", https, 50, {"http2": True, "streams": 1}, w, u, ca), tls.pids()),
            "httpx HTTP/2, 5 conns x 10 streams": (
                _engine("httpx", https, 5, {"http2": True, "streams": 10}, w, u, ca), tls.pids()),
            "h2load HTTP/2, 5 conns x 10 streams": (
                _h2load(f"{tls.url}{PATH}", 5, 10, w, u), tls.pids()),
        }  # fmt: skip
        names = list(configs)
        samples: dict[str, list[Sample]] = {name: [] for name in names}
        for round_index in range(args.rounds):
            order = names[round_index % len(names):] + names[: round_index % len(names)]
            for name in order:
                run, pids = configs[name]
                sample = _measured(run, pids, w, u)
                samples[name].append(sample)
                print(f"round {round_index + 1} {name:38} {sample.rps:>10,.0f} req/s "
                      f"{sample.per_cpu_s:>10,.0f} req/CPU-s  server {sample.server_cpu_pct:4.0f} %  "
                      f"others {sample.other_cpu_pct:4.0f} %  {sample.note}", flush=True)  # fmt: skip
    print(f"\nnginx 1 worker pinned to CPU {SERVER_CPU}, clients pinned to CPU {CLIENT_CPU}; GET {PATH}; "
          f"{args.rounds} rounds, {u:g} s warm-up + {w:g} s window; medians")
    print(f"{'configuration':38} {'req/s':>10} {'req/client CPU-s':>17} {'x native plain':>15} "
          f"{'server CPU':>11} {'others':>7}")  # fmt: skip
    base = statistics.median(s.per_cpu_s for s in samples[names[0]])
    for name in names:
        rows = samples[name]
        per_cpu = statistics.median(s.per_cpu_s for s in rows)
        print(f"{name:38} {statistics.median(s.rps for s in rows):>10,.0f} {per_cpu:>17,.0f} "
              f"{per_cpu / base:>15.3f} {statistics.median(s.server_cpu_pct for s in rows):>10.0f}% "
              f"{statistics.median(s.other_cpu_pct for s in rows):>6.0f}%  {rows[-1].note}")  # fmt: skip


if __name__ == "__main__":
    main()
