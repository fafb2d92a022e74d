"""Memory and CPU cost of recording: 10 M responses through the engine's Recorder, as the engine feeds it.

Run by hand: `.venv/bin/python benchmarks/engine_memory.py [--requests 10M] [--rate 100k]`.

The hot path appends one int64 per response (latency << 10 | status); the engine folds the buffer every
100 ms and closes a timeline second every 10 folds. This replays that at --rate responses per second of
simulated time (log-normal latencies around 1 ms, 1 % 503s, a few errors) and prints the resident memory
growth (target: ≤ 50 MB for 10 M requests), the time per response of append and fold, and the size of the
encoded histogram.
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np
import psutil

from loadbench.engine.native.recorder import STATUS_BITS, Recorder
from loadbench.results.metrics import ErrorClass
from loadbench.units import parse_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", default="10M")
    parser.add_argument("--rate", default="100k", help="simulated responses per second")
    args = parser.parse_args()
    total = parse_count(args.requests, what="--requests")
    per_fold = max(parse_count(args.rate, what="--rate") // 10, 1)
    rng = np.random.default_rng(1)
    latencies = rng.lognormal(np.log(1e6), 0.5, size=per_fold).astype(np.int64)
    statuses = np.where(rng.random(per_fold) < 0.01, 503, 200)
    batch = [int(v) for v in (latencies << STATUS_BITS) | statuses]  # the ints the hot path appends

    process = psutil.Process()
    rec = Recorder(open_loop=False)
    rec.begin()
    gc.collect()
    rss0 = process.memory_info().rss
    append = rec.lat.append
    append_s = fold_s = 0.0
    done = folds = 0
    while done < total:
        n = min(per_fold, total - done)
        t0 = time.perf_counter()
        for value in batch[:n]:
            append(value)
        t1 = time.perf_counter()
        if folds % 97 == 0:
            rec.error(ErrorClass.TIMEOUT, "no complete response within 2 s")
        rec.fold()
        folds += 1
        if folds % 10 == 0:
            rec.close_second(folds // 10 - 1)
        fold_s += time.perf_counter() - t1
        append_s += t1 - t0
        done += n
    gc.collect()
    grown_mb = (process.memory_info().rss - rss0) / 2**20
    shard = rec.shard(event_loop="bench", duration_s=folds / 10, cpu_s=0.0)
    encoded = shard.latency.encode()
    print(f"recorded {shard.requests:,} responses over {len(shard.seconds)} simulated seconds "
          f"({per_fold * 10:,}/s)")  # fmt: skip
    print(f"resident memory grew by {grown_mb:.1f} MB (target ≤ 50 MB)")
    print(f"append {1e9 * append_s / done:.0f} ns/response (Python loop included), "
          f"fold {1e9 * fold_s / done:.0f} ns/response")  # fmt: skip
    print(f"encoded histogram: {len(encoded):,} characters; p50 {shard.latency.percentile(50) / 1e6:.3f} ms, "
          f"p99 {shard.latency.percentile(99) / 1e6:.3f} ms; status {shard.status}")  # fmt: skip


if __name__ == "__main__":
    main()
