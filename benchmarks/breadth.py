"""The engine's breadth, measured: pipelining depth 1/4/16 against wrk (+ its pipelining Lua script), and
the cost of response checks and of request templates, on and off, in requests per generator CPU-second.

Run by hand (about 3 minutes): `.venv/bin/python benchmarks/breadth.py [--server nginx|uvicorn]
[--rounds 3] [--duration 5] [--only pipeline|checks|templates]`.

Method (shared/MEASURING.md): the server pinned to CPU 0 (nginx: 1 worker, a 13-byte file, requests
counted by stub_status; uvicorn: the bundled app's /json, counted by each generator), every generator
pinned to CPU 1 with 50 connections, in alternating order (A B C, then C B A, ...), medians of the
rounds and ratios per round from the same round. loadbench's CPU is that of the drive() call (imports
left out; engine_vs_peers.py explains why); wrk's is its process's (os.wait4). Other processes' CPU in
each window is printed: the machine is shared, so a round with "others" above ~0.1 core is suspect.

Pipelining: loadbench `--pipeline N` and wrk with scripts/pipeline.lua (N requests written at once,
the next N once all N are answered). Checks: the same depth-1 run with no check, with
`--expect-status 200`, and with `--expect-body` (a text the body contains), to see what a check costs
and that the path without one pays nothing (the plain Conn runs then; the target is ≤ 3 %).
Templates: the same depth-1 run with a plain path, with `?id={random:1:1000000}` (a render per request;
nginx ignores the query, so responses still repeat), and with `{seq}` in the query plus a header from
`{csv:users.csv:id}` (1,000 rows): what a render costs per request, beside the plain path.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine_vs_peers as peers  # the shared helpers: nginx, CPU accounting

PIPELINE_LUA = """init = function(args)
   local r = {}
   local depth = tonumber(args[1]) or 1
   for i = 1, depth do
      r[i] = wrk.format()
   end
   req = table.concat(r)
end

request = function()
   return req
end
"""


def engine_child(args: argparse.Namespace) -> None:
    """Inside the loadbench child: drive with --pipeline/--check, print the drive's own CPU as JSON."""
    import importlib
    import resource

    from loadbench.engine import drive

    importlib.import_module("loadbench.engine.native.phases")
    from loadbench.types import Closed, DriveOptions, RequestSpec, ResponseCheck, Target

    check = None
    if args.check == "status":
        check = ResponseCheck(status=(200,))
    elif args.check == "body":
        check = ResponseCheck(status=(200,), body=args.body.encode())
    spec = RequestSpec(path=args.path, check=check)
    if args.template != "none":
        tmp = tempfile.mkdtemp(prefix="loadbench-breadth-csv-")
        Path(tmp, "users.csv").write_text("id\n" + "".join(f"{1000 + i}\n" for i in range(1000)))
        if args.template == "random":
            spec = RequestSpec(path=f"{args.path}?id={{random:1:1000000}}", template_dir=tmp)
        else:
            spec = RequestSpec(path=f"{args.path}?n={{seq}}", template_dir=tmp,
                               headers=(("X-User", "{csv:users.csv:id}"),))  # fmt: skip
    usage0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    rec = drive(Target(port=args.port), [spec],
                Closed(connections=args.connections),
                DriveOptions(duration_s=args.duration, pipeline=args.pipeline))  # fmt: skip
    usage1, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - t0
    cpu = usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime
    print(json.dumps({
        "drive_cpu_s": cpu, "drive_wall_s": wall, "requests": rec.requests, "ok": rec.ok,
        "errors": sum(rec.errors.values()), "p50_ms": rec.latency.percentile(50) / 1e6,
        "p99_ms": rec.latency.percentile(99) / 1e6, "downgrades": rec.pipeline_downgrades,
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--server", choices=["nginx", "uvicorn"], default="nginx")
    parser.add_argument("--only", choices=["pipeline", "checks", "templates"], default=None)
    parser.add_argument("--engine-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--path", default="/hello.txt", help=argparse.SUPPRESS)
    parser.add_argument("--pipeline", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--check", choices=["none", "status", "body"], default="none", help=argparse.SUPPRESS)
    parser.add_argument("--body", default="Hello", help=argparse.SUPPRESS)
    parser.add_argument("--template", choices=["none", "random", "seq-csv"], default="none",
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.engine_child:
        engine_child(args)
        return
    with tempfile.TemporaryDirectory(prefix="loadbench-breadth-") as tmp:
        if args.server == "nginx":
            port = peers.free_port()
            nginx = peers.start_nginx(Path(tmp) / "nginx", port)
            try:
                measure(args, tmp, port, "/hello.txt", "Hello", nginx.pid, lambda: peers.nginx_count(port))
            finally:
                os.killpg(nginx.pid, signal.SIGTERM)
                nginx.wait(timeout=10)
        else:
            from loadbench.servers.base import AppSpec, ServerOptions
            from loadbench.servers.registry import get_model

            with get_model("uvicorn").start(AppSpec(), ServerOptions(cpus=(int(peers.SERVER_CPU),))) as srv:
                measure(args, tmp, srv.port, "/json", "message", srv.pid, None)


def measure(args: argparse.Namespace, tmp: str, port: int, path: str, body: str, server_pid: int,
            count: peers.Callable[[], int] | None) -> None:  # fmt: skip
    pin = ["taskset", "-c", peers.CLIENT_CPU]
    url = f"http://127.0.0.1:{port}{path}"
    c, dur = str(args.connections), f"{args.duration:g}"
    child = [*pin, sys.executable, str(Path(__file__).resolve()), "--engine-child", "--port", str(port),
             "--path", path, "--connections", c, "--duration", dur, "--body", body]  # fmt: skip
    lua = Path(tmp) / "pipeline.lua"
    lua.write_text(PIPELINE_LUA)
    wrk = [*pin, "wrk", "-t1", f"-c{c}", f"-d{dur}s"]
    print(f"{args.server} {path} on CPU {peers.SERVER_CPU}; generators on CPU {peers.CLIENT_CPU}; {c} "
          f"connections, {dur} s, {args.rounds} rounds (alternating order), medians; the machine is shared")
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if args.only in (None, "pipeline"):
        gens: dict[str, tuple[list[str], dict[str, str] | None]] = {}
        for depth in (1, 4, 16):
            gens[f"loadbench p{depth}"] = ([*child, "--pipeline", str(depth)], None)
            gens[f"wrk p{depth}"] = ([*wrk, url] if depth == 1 else [*wrk, "-s", str(lua), url, "--",
                                                                      str(depth)], None)  # fmt: skip
        results = peers.run_rounds(gens, server_pid, count, args.rounds)
        table(results, ("loadbench p1", "wrk p1"))
    if args.only in (None, "checks"):
        gens = {f"loadbench check={kind}": ([*child, "--check", kind], None)
                for kind in ("none", "status", "body")}  # fmt: skip
        results = peers.run_rounds(gens, server_pid, count, args.rounds)
        table(results, ("loadbench check=none",))
    if args.only in (None, "templates"):
        gens = {f"loadbench template={kind}": ([*child, "--template", kind], None)
                for kind in ("none", "random", "seq-csv")}  # fmt: skip
        results = peers.run_rounds(gens, server_pid, count, args.rounds)
        table(results, ("loadbench template=none",))
    print("load average (1, 5, 15 min) after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


def table(results: dict[str, list[peers.Measure]], bases: tuple[str, ...]) -> None:
    print(f"\n{'generator':24}{'req/s':>12}{'req/CPU-s':>12}{'others':>9}"
          + "".join(f"  {'x ' + b:>22}" for b in bases))  # fmt: skip
    for name, ms in results.items():
        cells = ""
        for base in bases:
            pairs = zip(ms, results[base], strict=True)
            ratios = [m.per_cpu_s / b.per_cpu_s for m, b in pairs if b.per_cpu_s]
            cells += f"  {statistics.median(ratios):>22.2f}"
        print(f"{name:24}{statistics.median(m.rps for m in ms):>12,.0f}"
              f"{statistics.median(m.per_cpu_s for m in ms):>12,.0f}"
              f"{statistics.median(m.other_cores for m in ms):>9.2f}{cells}")  # fmt: skip
    print()


if __name__ == "__main__":
    main()
