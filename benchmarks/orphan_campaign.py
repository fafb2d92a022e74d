"""Orphan campaign: kill `loadbench run` at random moments and count what it leaves behind.

    .venv/bin/python benchmarks/orphan_campaign.py [--runs 20] [--signals INT,TERM,HUP,KILL] [--seed 1]

A quick multi-model scenario (waitress, gunicorn with 2 workers, gunicorn-gthread, uvicorn; /plaintext;
0.4 s windows) is first run once uninterrupted to learn its duration D. Then, for each signal, `--runs`
runs are each sent the signal at a moment drawn uniformly from [0, D] (so some land during interpreter
start-up or a server's start, most during trials). While a run lives its whole process tree is sampled
every 50 ms (every pid ever seen: guards, servers, workers, helper children). After the signal the
campaign waits for loadbench to exit, then up to 5 s for every pid seen to be gone, and checks that the
ports its servers used (from their log names) are free. Leftovers are then SIGKILLed by pid.

Prints one row per signal: runs, processes left after 5 s, ports still busy, results files readable
(`read_results` succeeds; runs killed before the header was written have no file and are counted
apart), and the exit codes seen (130 expected for INT/TERM/HUP, -N when the signal came before
loadbench installed its handlers, 0 when the run finished anyway: a lost signal; -9 for KILL).
Runs that had finished before their moment came are left out. Takes about 8 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from runner_support import TreeWatcher, loadbench_argv, server_ports, wait_ports_free  # noqa: E402

from loadbench.errors import LoadbenchError  # noqa: E402
from loadbench.results.file import read_results  # noqa: E402

SCENARIO = """name = "orphan-campaign"
[[servers]]
model = "waitress"
[[servers]]
model = "gunicorn"
workers = 2
[[servers]]
model = "gunicorn-gthread"
workers = 1
[[servers]]
model = "uvicorn"
[[endpoints]]
path = "/plaintext"
[load]
connections = [4]
duration = "0.4s"
warmup = "0.1s"
repeat = 1
timeout = "2s"
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What one killed run left: processes still running after 5 s, busy ports, results state."""

    signal: str
    at_s: float
    sent: bool  # False when the run had already finished at the chosen moment
    exit_code: int | None
    exit_after_s: float
    seen: int
    left: int
    ports_busy: int
    results: str  # "readable" | "unreadable" | "absent"


def one_run(workdir: Path, scenario: Path, sig: signal.Signals | None, at_s: float) -> tuple[Outcome, float]:
    """Run the scenario, send `sig` after `at_s` (None: let it finish); return the outcome and run time."""
    out_dir = workdir / f"run-{time.monotonic_ns()}"
    with open(workdir / f"{out_dir.name}.out", "wb") as log:
        started = time.monotonic()
        proc = subprocess.Popen(loadbench_argv("run", str(scenario), "--out", str(out_dir), "--no-report"),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    watcher = TreeWatcher(proc.pid, every_s=0.05).start()
    sent_at = started
    sent = False
    try:
        if sig is not None:
            time.sleep(max(0.0, started + at_s - time.monotonic()))
            watcher.sample()
            sent_at = time.monotonic()
            if proc.poll() is None:
                proc.send_signal(sig)
                sent = True
        try:
            code: int | None = proc.wait(60)
        except subprocess.TimeoutExpired:
            code = None
            proc.kill()
            proc.wait()
        exit_after = time.monotonic() - sent_at
        watcher.stop()
        left = watcher.wait_gone(5.0)
        seen = set(watcher.seen)
        busy = wait_ports_free(server_ports(out_dir), seen, timeout_s=0.5)
        results = _results_state(out_dir / "results.jsonl")
    finally:
        watcher.stop()
        watcher.kill_leftovers()
    name = sig.name if sig is not None else "none"
    outcome = Outcome(signal=name, at_s=at_s, sent=sent, exit_code=code, exit_after_s=exit_after,
                      seen=len(seen), left=len(left), ports_busy=len(busy), results=results)
    return outcome, time.monotonic() - started


def _results_state(path: Path) -> str:
    if not path.exists():
        return "absent"
    try:
        read_results(path)
    except LoadbenchError:
        return "unreadable"
    return "readable"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per signal")
    parser.add_argument("--signals", default="INT,TERM,HUP,KILL")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sigs = [signal.Signals[f"SIG{name.strip().upper()}"] for name in args.signals.split(",")]
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="orphan-campaign-") as tmp:
        workdir = Path(tmp)
        scenario = workdir / "orphan-campaign.toml"
        scenario.write_text(SCENARIO)
        reference, duration = one_run(workdir, scenario, None, 0.0)
        print(f"reference run: {duration:.2f} s, exit {reference.exit_code}, "
              f"{reference.seen} processes seen, {reference.left} left", flush=True)
        outcomes: list[Outcome] = []
        # Interleave the signals so machine load drifts over all of them alike.
        for index in range(args.runs):
            for sig in sigs:
                outcome, _ = one_run(workdir, scenario, sig, rng.uniform(0.0, duration))
                outcomes.append(outcome)
                if outcome.left or outcome.ports_busy or outcome.results == "unreadable":
                    print(f"  LEAK {outcome}", flush=True)
            print(f"round {index + 1}/{args.runs} done", flush=True)
    _print_table(outcomes, sigs)
    return 1 if any(o.left or o.ports_busy or o.results == "unreadable" for o in outcomes) else 0


def _print_table(outcomes: list[Outcome], sigs: list[signal.Signals]) -> None:
    late = sum(not o.sent for o in outcomes)
    print(f"\n{late} run(s) had finished before their moment came and are left out of the table")
    print(f"{'signal':<8} {'runs':>4} {'procs seen':>10} {'procs left':>10} {'ports busy':>10} "
          f"{'results readable':>17}  {'exit after (median/max s)':>25}  exit codes")
    for sig in sigs:
        rows = [o for o in outcomes if o.signal == sig.name and o.sent]
        if not rows:
            continue
        states = Counter(o.results for o in rows)
        with_file = states["readable"] + states["unreadable"]
        readable = f"{states['readable']}/{with_file}"
        if states["absent"]:
            readable += f" ({states['absent']} none)"
        exits = [o.exit_after_s for o in rows]
        codes = Counter(o.exit_code for o in rows)
        code_text = ", ".join(f"{code}×{n}" for code, n in sorted(codes.items(), key=lambda kv: str(kv[0])))
        print(f"{sig.name:<8} {len(rows):>4} {sum(o.seen for o in rows):>10} {sum(o.left for o in rows):>10} "
              f"{sum(o.ports_busy for o in rows):>10} {readable:>17}  "
              f"{statistics.median(exits):>12.2f} / {max(exits):<10.2f}  {code_text}")


if __name__ == "__main__":
    sys.exit(main())
