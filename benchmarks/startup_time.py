"""Time from ServerModel.start() to ready (bundled app, /health answers 200), per server model.

    .venv/bin/python benchmarks/startup_time.py [--rounds 5] [--cpus 0] [MODEL ...]

Models alternate within each round (A B C, A B C, ...) so a burst of load elsewhere on the machine does
not fall on one model only; prints the median, min and max of the rounds, and the stop time.
"""

from __future__ import annotations

import argparse
import statistics
import time

from loadbench.servers import AppSpec, ServerOptions, get_model

DEFAULT_MODELS = ["waitress", "gunicorn", "gunicorn-gthread", "gunicorn-gevent", "uvicorn"]


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("models", nargs="*", default=DEFAULT_MODELS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpus", default=None, help="pin servers, e.g. 0")
    args = parser.parse_args()
    cpus = tuple(int(c) for c in args.cpus.split(",")) if args.cpus else None
    models = [get_model(name) for name in args.models if get_model(name).available() is None]
    ready: dict[str, list[float]] = {m.name: [] for m in models}
    stop: dict[str, list[float]] = {m.name: [] for m in models}
    for _ in range(args.rounds):
        for model in models:
            started = time.perf_counter()
            server = model.start(AppSpec(), ServerOptions(cpus=cpus))
            ready[model.name].append(time.perf_counter() - started)
            started = time.perf_counter()
            server.stop()
            stop[model.name].append(time.perf_counter() - started)
    print(f"start() -> ready, {args.rounds} rounds, cpus={args.cpus or 'any'} (ms)")
    print(f"{'model':18} {'median':>7} {'min':>7} {'max':>7} {'stop median':>12}")
    for name, times in ready.items():
        ms = [t * 1000 for t in times]
        print(f"{name:18} {statistics.median(ms):7.0f} {min(ms):7.0f} {max(ms):7.0f} "
              f"{statistics.median(stop[name]) * 1000:12.0f}")


if __name__ == "__main__":
    main()
