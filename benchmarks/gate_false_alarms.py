"""How often does the paired gate cry wolf, and how often does it catch a real slowdown?

Runs many short paired gates against real servers and counts the verdicts of loadbench.gate:

    identical   baseline and candidate the same app           expect "regression" at most 1 time in 20
    slow15      candidate 15 % slower (throughput)            expect "regression" at least 19 times in 20
    slow2       candidate 2 % slower, tolerance 5 %           expect "regression" 0 times

Each gate is a real `loadbench run` of a paired scenario (loadbench.runner.run_plan): `rounds` rounds in ABBA
order, each variant's server (uvicorn on CPU 0, the bundled app's /plaintext) kept up across rounds, the
engine on CPU 1, closed loop; then `loadbench compare`'s analysis (compare_in_run) on throughput.

"x % slower" is made with the app's delay knob (LOADBENCH_APP_DELAY_US, busy CPU per request). The
per-request cost without delay, c0 = 1 / rps(delay 0), is measured first; with base delay D each request
costs about c0 + D, so the candidate gets D' = (1 + x)(c0 + D) − c0. The script reports the slowdown it
actually measured (median over the gates), so the figure can be checked.

    python benchmarks/gate_false_alarms.py                      # 3 cases × 20 gates, about 35 min
    python benchmarks/gate_false_alarms.py --gates 3 --cases identical,slow15
    python benchmarks/gate_false_alarms.py --json gate_false_alarms.json

The machine is shared: other work on it is part of the noise the gate must survive, which is the point.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadbench.engine import drive
from loadbench.gate.compare import Verdict
from loadbench.gate.paired import compare_in_run
from loadbench.plan import build_plan
from loadbench.results.file import read_results
from loadbench.runner import run_plan
from loadbench.scenario import parse_scenario
from loadbench.servers.base import AppSpec, ServerOptions
from loadbench.servers.registry import get_model
from loadbench.types import Closed, DriveOptions, RequestSpec, Target

DELAY_ENV = "LOADBENCH_APP_DELAY_US"
SERVER_CPUS = (0,)
CLIENT_CPUS = (1,)
CASES = {"identical": 0.0, "slow15": 0.15, "slow2": 0.02}
EXPECT = {"identical": "regression ≤ 1 in 20", "slow15": "regression ≥ 19 in 20", "slow2": "regression 0"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """One gate's shape: rounds, per-trial window and warm-up (s), connections, model, path."""

    rounds: int
    duration_s: float
    warmup_s: float
    connections: int
    model: str
    path: str


def measure(settings: Settings, delay_us: int) -> dict[str, Any]:
    """Start a fresh server with `delay_us`, drive it once, stop it; return the engine's record."""
    app = AppSpec(env=((DELAY_ENV, str(delay_us)),))
    with get_model(settings.model).start(app, ServerOptions(cpus=SERVER_CPUS)) as server:
        recording = drive(
            Target(host="127.0.0.1", port=server.port),
            [RequestSpec(path=settings.path)],
            Closed(connections=settings.connections),
            DriveOptions(duration_s=settings.duration_s, warmup_s=settings.warmup_s, timeout_s=2.0,
                         cpus=CLIENT_CPUS),
        )
    return recording.to_record()


GATE_SCENARIO = """\
name = "gate-probe"
[app]
env = {{ {env} = "{base}" }}
[[servers]]
model = "{model}"
[[endpoints]]
path = "{path}"
[load]
connections = [{connections}]
duration = "{duration}s"
warmup = "{warmup}s"
timeout = "2s"
[cpus]
server = [{server_cpu}]
client = [{client_cpu}]
[[variants]]
name = "baseline"
[[variants]]
name = "candidate"
env = {{ {env} = "{cand}" }}
[paired]
rounds = {rounds}
order = "ABBA"
"""


def one_gate(
    settings: Settings, base_delay_us: int, cand_delay_us: int, tolerance: float
) -> tuple[Verdict, float]:
    """Run one paired gate exactly as `loadbench run` runs a paired scenario (the real runner: ABBA rounds,
    each variant's server kept up, a saturated round measured again), then `loadbench compare`'s analysis.
    Returns the verdict and the median measured change in rps (%)."""
    text = GATE_SCENARIO.format(
        env=DELAY_ENV, base=base_delay_us, cand=cand_delay_us, model=settings.model, path=settings.path,
        connections=settings.connections, duration=settings.duration_s, warmup=settings.warmup_s,
        rounds=settings.rounds, server_cpu=SERVER_CPUS[0], client_cpu=CLIENT_CPUS[0],
    )
    with tempfile.TemporaryDirectory(prefix="gate-probe-") as tmp:
        scenario = parse_scenario(text, path=f"{tmp}/gate-probe.toml")
        outcome = run_plan(build_plan(scenario), run_dir=Path(tmp) / "run")
        trials = read_results(outcome.results_path).trials
    comparison = compare_in_run(trials, baseline="baseline", candidate="candidate", metric="rps",
                                tolerance=tolerance)
    (group,) = comparison.groups
    return group.verdict, group.change_pct()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gates", type=int, default=20, help="gates per case (default 20)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--rounds", type=int, default=10, help="paired rounds per gate (default 10)")
    parser.add_argument("--duration", type=float, default=1.0, help="measured seconds per trial")
    parser.add_argument("--warmup", type=float, default=0.3, help="warm-up seconds per trial")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--delay-us", type=int, default=200, help="the baseline's busy µs per request")
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--model", default="uvicorn")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    settings = Settings(rounds=args.rounds, duration_s=args.duration, warmup_s=args.warmup,
                        connections=args.connections, model=args.model, path="/plaintext")

    zero = statistics.median(measure(settings, 0)["rps"] for _ in range(3))
    c0_us = 1e6 / zero
    print(f"{args.model} /plaintext {args.connections}c: {zero:,.0f} req/s without delay → c0 ≈ "
          f"{c0_us:.1f} µs per request; baseline delay {args.delay_us} µs; server CPU {SERVER_CPUS}, "
          f"client CPU {CLIENT_CPUS}")
    print(f"each gate: {args.rounds} ABBA rounds × 2 trials × ({args.warmup:g} s + {args.duration:g} s), "
          f"2 server starts, tolerance {args.tolerance:.0%}")
    summary: dict[str, Any] = {"c0_us": c0_us, "settings": vars(args), "cases": {}}
    for case in cases:
        slowdown = CASES[case]
        cand_delay = round((1 + slowdown) * (c0_us + args.delay_us) - c0_us)
        verdicts: Counter[str] = Counter()
        changes: list[float] = []
        seconds: list[float] = []
        for gate in range(1, args.gates + 1):
            start = time.monotonic()
            verdict, change = one_gate(settings, args.delay_us, cand_delay, args.tolerance)
            seconds.append(time.monotonic() - start)
            verdicts[verdict.value] += 1
            changes.append(change)
            print(f"  {case} gate {gate:2d}/{args.gates}: {verdict.value:13s} rps {change:+6.1f}%  "
                  f"({seconds[-1]:.0f} s)", flush=True)
        summary["cases"][case] = {
            "slowdown_asked": slowdown, "candidate_delay_us": cand_delay, "verdicts": dict(verdicts),
            "median_change_pct": statistics.median(changes), "max_gate_s": max(seconds),
            "expectation": EXPECT[case],
        }
        print(f"{case}: candidate delay {cand_delay} µs, measured change {statistics.median(changes):+.1f}% "
              f"(median); verdicts {dict(verdicts)}; expectation {EXPECT[case]}; longest gate "
              f"{max(seconds):.0f} s", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(summary, out, indent=2, allow_nan=False, default=lambda v: None if math.isnan(v) else v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
