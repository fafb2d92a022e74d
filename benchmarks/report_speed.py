"""How long does a report take for a 200-trial results file? (Target: ≤ 10 s for the HTML.)

Writes a seeded synthetic results file (tests/synthetic.py: 4 models × 5 workloads × 5 load points ×
2 repetitions = 200 trials, 20,000 latency samples per histogram), then times each stage, 3 rounds:
read, summarize, HTML (25 charts), markdown, CSV and JSON. Prints the median and worst round; one process,
not pinned (the report is single-threaded CPU work), so a busy shared machine shows in the worst figure.

    .venv/bin/python benchmarks/report_speed.py [--rounds 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from synthetic import write_synthetic_results

from loadbench.analysis.summary import summarize
from loadbench.report import format_names, render_report
from loadbench.results.file import read_results

MODELS = ("waitress", "gunicorn", "gunicorn-gevent", "uvicorn")
WORKLOADS = ("/plaintext", "/json", "/io?ms=20", "/cpu?n=20000", "/static/1k.bin")
LOADS = (1, 4, 16, 64, 256)


def one_round(path: Path) -> dict[str, float]:
    times: dict[str, float] = {}
    start = time.perf_counter()
    results = read_results(path)
    times["read"] = time.perf_counter() - start
    mark = time.perf_counter()
    summary = summarize(results)
    times["summarize"] = time.perf_counter() - mark
    for fmt in format_names():
        mark = time.perf_counter()
        render_report(summary, fmt)
        times[fmt] = time.perf_counter() - mark
    times["total (read → html)"] = times["read"] + times["summarize"] + times["html"]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the results file and report.html here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        path = write_synthetic_results(
            where / "results.jsonl", seed=0, models=MODELS, workloads=WORKLOADS, loads=LOADS, repetitions=2,
            latency_samples=20_000, saturated_every=37, failed=(11,),
        )
        trials, size_mb = len(read_results(path).trials), path.stat().st_size / 1e6
        import loadbench.report.html  # noqa: F401  - import costs (matplotlib, jinja2) are not per report

        rounds = [one_round(path) for _ in range(args.rounds)]
        if args.keep:
            from loadbench.report import write_report

            write_report(path)
    print(f"report build for {trials} trials ({size_mb:.1f} MB results file), "
          f"{args.rounds} rounds, not pinned, load average {os.getloadavg()[0]:.2f}")
    for stage in rounds[0]:
        values = [r[stage] for r in rounds]
        print(f"  {stage:<22} median {statistics.median(values):6.2f} s   worst {max(values):6.2f} s")
    total = statistics.median(r["total (read → html)"] for r in rounds)
    verdict = "OK" if total <= 10 else "TOO SLOW"
    print(f"HTML report for {trials} trials: {total:.2f} s (target ≤ 10 s): {verdict}")


if __name__ == "__main__":
    main()
