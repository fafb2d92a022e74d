"""What `run --profile` costs the server: throughput with and without py-spy attached, same run, alternating.

    .venv/bin/python benchmarks/profile_cost.py [--rounds 3] [--duration 5] [--warmup 1] [--rate 100]
        [--models gunicorn,uvicorn] [--path /plaintext] [--connections 16]

Each model serves the bundled app pinned to CPU 0 (one start per model); the native engine drives it from
CPU 1 for `--duration` seconds after `--warmup`, alternating A B A B: A plain, B with `py-spy record` as
`run --profile` runs it (loadbench.profile.pyspy: raw format, --subprocesses, --nolineno, no --idle, no
--native) but pausing the server at each sample (py-spy's default), under the guard and pinned to CPU 1
beside the engine, and C exactly as `run --profile` runs it, with --nonblocking. Rounds alternate A B C / C
B A. For every window: req/s (the engine's figure), py-spy's own CPU (% of one core), and the other
processes' CPU (the monitor's figure minus py-spy's own), so a busy machine shows. Medians of the rounds;
the cost is 1 - B/A (and 1 - C/A), also as the median of per-round ratios.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from loadbench.engine import drive
from loadbench.monitor import ProcessMonitor
from loadbench.profile.pyspy import PySpyRecording, find_pyspy
from loadbench.servers.base import AppSpec, ServerOptions
from loadbench.servers.registry import get_model
from loadbench.shapes import Closed
from loadbench.types import DriveOptions, RequestSpec, Target

WORKERS = {"gunicorn": 2, "gunicorn-gthread": 1, "waitress": None, "uvicorn": 1}


def _window(server, path: str, connections: int, duration: float, warmup: float, profile: Path | None,
            rate: int, exe: str, nonblocking: bool) -> tuple[float, float | None, float | None]:
    options = DriveOptions(duration_s=duration, warmup_s=warmup, timeout_s=5.0, cpus=(1,))
    recording = None
    if profile is not None:  # "profiled" pauses the server at each sample; "nonblocking" is run --profile's
        recording = PySpyRecording.start(exe, server.pid, out_path=profile, cpus=(1,), rate_hz=rate,
                                         nonblocking=nonblocking)
    monitor = ProcessMonitor(server.pids)
    monitor.start()
    try:
        measured = drive(Target(host="127.0.0.1", port=server.port), [RequestSpec(path=path)],
                         Closed(connections=connections), options)
    finally:
        summary = monitor.stop()
        capture = recording.finish() if recording is not None else None
    spy_pct = None
    if capture is not None and capture.cpu_s is not None and capture.duration_s:
        spy_pct = 100 * capture.cpu_s / capture.duration_s
    other = summary.other_cpu_pct_mean if summary is not None else None
    if other is not None and spy_pct is not None:
        other = max(0.0, other - spy_pct)
    return measured.rps, spy_pct, other


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--models", default="gunicorn,uvicorn")
    parser.add_argument("--path", default="/plaintext")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    exe = find_pyspy()
    if exe is None:
        raise SystemExit("py-spy is not installed: pip install 'loadbench[profile]'")
    print(f"server CPU 0, engine and py-spy CPU 1; {args.path} at {args.connections} connections; "
          f"{args.duration:g} s windows after {args.warmup:g} s warm-up; py-spy at {args.rate} Hz")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            model = get_model(name)
            opts = ServerOptions(workers=WORKERS.get(name), cpus=(0,))
            arms = ("plain", "profiled", "nonblocking")
            rps_of: dict[str, list[float]] = {arm: [] for arm in arms}
            spy_of: dict[str, list[float]] = {arm: [] for arm in arms}
            with model.start(AppSpec(), opts) as server:
                for round_number in range(1, args.rounds + 1):
                    for arm in arms if round_number % 2 else arms[::-1]:
                        out = Path(tmp) / f"{name}-{round_number}-{arm}.txt" if arm != "plain" else None
                        rps, spy_pct, other = _window(server, args.path, args.connections, args.duration,
                                                      args.warmup, out, args.rate, exe, arm == "nonblocking")
                        rps_of[arm].append(rps)
                        if spy_pct is not None:
                            spy_of[arm].append(spy_pct)
                        other_text = "?" if other is None else f"{other:.0f} %"
                        spy_text = "" if spy_pct is None else f"  py-spy CPU {spy_pct:.1f} %"
                        print(f"  {name} round {round_number} {arm:>8}: {rps:10,.0f} req/s  "
                              f"other processes {other_text}{spy_text}", flush=True)
            base = statistics.median(rps_of["plain"])
            for arm in arms[1:]:
                b = statistics.median(rps_of[arm])
                ratios = [p / q for p, q in zip(rps_of[arm], rps_of["plain"], strict=True)]
                print(f"{name} {arm}: {b:,.0f} req/s vs plain {base:,.0f} (medians of {args.rounds}); "
                      f"cost {100 * (1 - b / base):+.1f} % (median of per-round ratios: "
                      f"{100 * (1 - statistics.median(ratios)):+.1f} %); py-spy CPU median "
                      f"{statistics.median(spy_of[arm]):.1f} % of a core", flush=True)


if __name__ == "__main__":
    main()
