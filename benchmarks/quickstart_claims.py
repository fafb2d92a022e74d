"""The quickstart as a user runs it: wall time of `loadbench run` (report included) and how many of its
claims were decided at 95 %, over a few runs.

Run by hand (about a minute a run): `.venv/bin/python benchmarks/quickstart_claims.py [--runs 3]
[--scenario quickstart]`. Each run goes to a fresh temporary directory; the machine's load average before
each run and the other processes' CPU during its trials (median and max of the trials' `other_cpu_pct`)
are printed beside it, since a shared machine makes rounds slower and intervals wider (MEASURING.md).
Target (issue 15): ≤ 60 s a run with every "X wins" sentence backed by a 95 % interval, on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _one(scenario: str, out: Path) -> dict[str, object]:
    load = os.getloadavg()[0]
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "loadbench", "run", scenario, "--out", str(out), "--quiet"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)  # fmt: skip
    wall = time.monotonic() - started
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()[1:] if line]
    trials = [line for line in lines if line.get("kind", "trial") == "trial"]
    claims = [line for line in lines if line.get("kind") == "claim"]
    others = sorted(float(t.get("other_cpu_pct") or 0.0) for t in trials)
    return {
        "exit": proc.returncode, "wall_s": round(wall, 1), "load_avg_1m": load, "trials": len(trials),
        "claims": len(claims), "decided": sum(c["state"] != "undecided" for c in claims),
        "undecided": [f"{c['workload']} {c['load_label']}: {c['ratio']} ({c['ratio_low']}–{c['ratio_high']})"
                      for c in claims if c["state"] == "undecided"],
        "other_cpu_pct_median": statistics.median(others) if others else None,
        "other_cpu_pct_max": others[-1] if others else None,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenario", default="quickstart")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(1, args.runs + 1):
            print(json.dumps({"run": number, **_one(args.scenario, Path(tmp) / f"run{number}")}), flush=True)


if __name__ == "__main__":
    main()
