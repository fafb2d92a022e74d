"""How often does the paired gate cry wolf, and how often does it catch a real slowdown, next to a neighbour?

Runs many short paired gates against real servers and counts the verdicts of loadbench.gate on three
metrics of the same runs: rps, p50 and cpu_per_request (the server's CPU time per response):

    slow0       baseline and candidate the same app         a "regression" is a false alarm
    slow3       candidate 3 % slower                        on cpu_per_request's 2.5 % tolerance: either way
    slow5       candidate 5 % slower                        the goal: ≥ 95 % caught by the default gate
    slow10      candidate 10 % slower                       should be caught every time
    (also slow2, slow15, and "identical" = slow0, from the first version of this campaign)

Each gate is a real `loadbench run` of a paired scenario (loadbench.runner.run_plan): `rounds` rounds in ABBA
order, each variant's server (uvicorn on CPU 0, the bundled app's /plaintext) kept up across rounds, the
engine on CPU 1; closed loop (`--load closed`, 16 connections) or an open loop at a fixed share of the
capacity (`--load open`, 50 % by default). Then `loadbench compare`'s analysis (compare_in_run) per metric,
each at its default tolerance (rps 5 %, p50 10 %, cpu_per_request 2.5 %).

`--neighbour`: in each gate a CPU-bound process pinned to the server's core runs during a random half of
the rounds (started when the round's first trial starts, stopped before the next round), as a CI
runner's neighbour comes and goes. It is this script's own child and is killed by its pid.

"x % slower" is made with the app's delay knob (LOADBENCH_APP_DELAY_US, busy CPU time per request). The
per-request cost without delay, c0, is measured first (the server's CPU µs per request at delay 0); with
base delay D each request costs about c0 + D, so the candidate gets D' = (1 + x)(c0 + D) − c0. The script
reports the change it actually measured per metric (median over the gates), so the figure can be checked.

Resumable: every gate appends one JSON line to `--out` (default benchmarks/results/gate_campaign.jsonl);
a later call with the same settings runs only the gates still missing up to `--gates`, so a long campaign
runs in parts (each call one case of at most ~25 min: `--gates 40` at ~30 s a gate). `--table` prints the
table of everything in the file and runs nothing.

    python benchmarks/gate_false_alarms.py --cases slow0 --neighbour --gates 40      # one case, ~20 min
    python benchmarks/gate_false_alarms.py --cases slow5 --neighbour --gates 40
    python benchmarks/gate_false_alarms.py --table                                    # the table so far

The machine is shared: other work on it is part of the noise the gate must survive, which is the point.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from loadbench.engine import drive
from loadbench.gate.compare import DEFAULT_TOLERANCE, Verdict
from loadbench.gate.paired import compare_in_run
from loadbench.monitor import ProcessMonitor
from loadbench.plan import build_plan
from loadbench.results.file import read_results
from loadbench.runner import QuietEvents, run_plan
from loadbench.scenario import parse_scenario
from loadbench.scenario.types import Paired
from loadbench.servers.base import AppSpec, ServerOptions
from loadbench.servers.registry import get_model
from loadbench.types import Closed, DriveOptions, RequestSpec, Target

DELAY_ENV = "LOADBENCH_APP_DELAY_US"
SERVER_CPUS = (0,)
CLIENT_CPUS = (1,)
CASES = {"slow0": 0.0, "identical": 0.0, "slow2": 0.02, "slow3": 0.03, "slow5": 0.05, "slow10": 0.10,
         "slow15": 0.15}  # fmt: skip
METRICS = ("rps", "p50", "cpu_per_request")
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "gate_campaign.jsonl"
HOG = "while True: pass\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """One gate's shape: rounds, per-trial window and warm-up (s), load, model, path, neighbour."""

    rounds: int
    duration_s: float
    warmup_s: float
    connections: int
    load: str  # "closed", or "open" at open_share of the measured capacity
    open_share: float
    model: str
    path: str
    delay_us: int
    neighbour: bool

    def key(self) -> dict[str, Any]:
        """What makes gates comparable: gates of one case with an equal key are counted together."""
        return asdict(self)


def measure(settings: Settings, delay_us: int) -> tuple[float, float]:
    """Start a server with `delay_us`, drive it once closed-loop; return (rps, server CPU µs per request)."""
    app = AppSpec(env=((DELAY_ENV, str(delay_us)),))
    with get_model(settings.model).start(app, ServerOptions(cpus=SERVER_CPUS)) as server:
        target = Target(host="127.0.0.1", port=server.port)
        options = DriveOptions(duration_s=settings.duration_s, warmup_s=0.0, timeout_s=2.0, cpus=CLIENT_CPUS)
        drive(target, [RequestSpec(path=settings.path)], Closed(connections=settings.connections),
              DriveOptions(duration_s=settings.warmup_s, warmup_s=0.0, timeout_s=2.0, cpus=CLIENT_CPUS))
        with ProcessMonitor(server.pids) as monitor:
            recording = drive(target, [RequestSpec(path=settings.path)],
                              Closed(connections=settings.connections), options)  # fmt: skip
    assert monitor.summary is not None
    cost = monitor.summary.cpu_us_per_request(recording.requests)
    return recording.to_record()["rps"], float("nan") if cost is None else cost


GATE_SCENARIO = """\
name = "gate-probe"
[app]
env = {{ {env} = "{base}" }}
[[servers]]
model = "{model}"
[[endpoints]]
path = "{path}"
[load]
{load_line}
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


class Neighbour(QuietEvents):
    """Runs a CPU hog pinned to the server's core during the chosen rounds (a RunEvents sink of run_plan)."""

    def __init__(self, rounds: set[int]) -> None:
        self.rounds = rounds
        self.proc: subprocess.Popen[bytes] | None = None

    def trial_started(self, trial: Any) -> None:
        wanted = trial.round in self.rounds
        if wanted and self.proc is None:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", HOG], preexec_fn=lambda: os.sched_setaffinity(0, set(SERVER_CPUS)),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        elif not wanted:
            self.stop()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)  # our own child, by its pid
            self.proc.wait()
            self.proc = None


def one_gate(
    settings: Settings, cand_delay_us: int, rate: float | None, rng: random.Random
) -> dict[str, Any]:
    """Run one paired gate exactly as `loadbench run` runs a paired scenario (the real runner: ABBA rounds,
    each variant's server kept up, a saturated round measured again), then `loadbench compare`'s analysis
    per metric. Returns, per metric, the verdict and the median measured change (%), and the rounds hogged."""
    load_line = (f"connections = [{settings.connections}]" if rate is None
                 else f'rates = ["{rate:.0f}/s"]\narrival = "poisson"\nmax_connections = 64')  # fmt: skip
    text = GATE_SCENARIO.format(
        env=DELAY_ENV, base=settings.delay_us, cand=cand_delay_us, model=settings.model, path=settings.path,
        load_line=load_line, duration=settings.duration_s, warmup=settings.warmup_s,
        rounds=settings.rounds, server_cpu=SERVER_CPUS[0], client_cpu=CLIENT_CPUS[0],
    )
    rounds = range(1, settings.rounds + 1)
    hogged = set(rng.sample(rounds, settings.rounds // 2)) if settings.neighbour else set()
    events = Neighbour(hogged)
    with tempfile.TemporaryDirectory(prefix="gate-probe-") as tmp:
        scenario = parse_scenario(text, path=f"{tmp}/gate-probe.toml")
        try:
            outcome = run_plan(build_plan(scenario), run_dir=Path(tmp) / "run", events=events)
        finally:
            events.stop()
        trials = read_results(outcome.results_path).trials
    others = [t.other_cpu_pct for t in trials if t.other_cpu_pct is not None]
    out: dict[str, Any] = {"hogged_rounds": sorted(hogged),
                           "other_cpu_pct_median": round(statistics.median(others), 1) if others else None}
    for metric in METRICS:
        comparison = compare_in_run(trials, baseline="baseline", candidate="candidate", metric=metric,
                                    tolerance=DEFAULT_TOLERANCE[metric])  # fmt: skip
        (group,) = comparison.groups
        bounds = group.interval_pct()
        out[metric] = {"verdict": group.verdict.value, "change_pct": round(group.change_pct(), 2),
                       "tolerance_pct": round(100 * DEFAULT_TOLERANCE[metric], 2),
                       "log_ratios": [round(r, 5) for r in group.log_ratios],  # to judge again offline
                       "interval_pct": None if bounds is None else [round(b, 2) for b in bounds]}
    return out


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a kill: that gate runs again
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Per (settings, case) and metric: regressions, inconclusive, no change / improvement, CI seconds."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        s = row["settings"]
        share = "" if s["load"] == "closed" else f" {s['open_share']:.0%}"
        noise = "neighbour" if s["neighbour"] else "quiet"
        label = f"{s['load']}{share} {noise} {s['rounds']}r×{s['duration_s']:g}s"
        groups[f"{label} | {row['case']}"].append(row)
    lines = ["| conditions | case | metric | gates | regression | inconclusive | no change/improvement | "
             "median change | median s/gate | other CPU |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key in sorted(groups):
        label, case = key.split(" | ")
        gates = groups[key]
        seconds = statistics.median(g["seconds"] for g in gates)
        others = [g["other_cpu_pct_median"] for g in gates if g.get("other_cpu_pct_median") is not None]
        other = f"{statistics.median(others):.0f} %" if others else "n/a"
        for metric in METRICS:
            verdicts = Counter(g[metric]["verdict"] for g in gates)
            n = len(gates)
            passed = verdicts[Verdict.NO_CHANGE.value] + verdicts[Verdict.IMPROVEMENT.value]
            change = statistics.median(g[metric]["change_pct"] for g in gates)
            bad, unsure = verdicts[Verdict.REGRESSION.value], verdicts[Verdict.INCONCLUSIVE.value]
            lines.append(f"| {label} | {case} | {metric} | {n} | {bad} | {unsure} | {passed} | "
                         f"{change:+.1f}% | {seconds:.0f} | {other} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gates", type=int, default=20, help="gates per case in the file (default 20)")
    parser.add_argument("--cases", default="slow0,slow3,slow5,slow10",
                        help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--rounds", type=int, default=Paired().rounds,
                        help=f"paired rounds per gate (default {Paired().rounds}, [paired]'s default)")
    parser.add_argument("--duration", type=float, default=0.5, help="measured seconds per trial (0.5)")
    parser.add_argument("--warmup", type=float, default=0.2, help="warm-up seconds per trial (0.2)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--load", choices=("closed", "open"), default="closed")
    parser.add_argument("--open-share", type=float, default=0.5, help="open loop: rate / capacity")
    parser.add_argument("--delay-us", type=int, default=200, help="the baseline's busy µs per request")
    parser.add_argument("--neighbour", action="store_true",
                        help="a CPU hog on the server core in half the rounds")
    parser.add_argument("--model", default="uvicorn")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON-lines file gates append to")
    parser.add_argument("--seed", type=int, default=None, help="for the neighbour's rounds (default: time)")
    parser.add_argument("--table", action="store_true", help="print the table of --out and run nothing")
    args = parser.parse_args(argv)
    if args.table:
        print(table(_read(args.out)))
        return 0
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    settings = Settings(rounds=args.rounds, duration_s=args.duration, warmup_s=args.warmup,
                        connections=args.connections, load=args.load, open_share=args.open_share,
                        model=args.model, path="/plaintext", delay_us=args.delay_us, neighbour=args.neighbour)
    rng = random.Random(args.seed)

    zero = [measure(settings, 0) for _ in range(3)]
    c0_us = statistics.median(cost for _, cost in zero)
    capacity = statistics.median(rps for rps, _ in (measure(settings, args.delay_us) for _ in range(3)))
    rate = None if args.load == "closed" else args.open_share * capacity
    print(f"{args.model} /plaintext: c0 ≈ {c0_us:.1f} µs of server CPU per request without delay; baseline "
          f"delay {args.delay_us} µs; capacity {capacity:,.0f} req/s at {args.connections}c; load "
          f"{'closed ' + str(args.connections) + 'c' if rate is None else f'open {rate:,.0f}/s'}; "
          f"server CPU {SERVER_CPUS}, client CPU {CLIENT_CPUS}; "
          f"neighbour {'on' if args.neighbour else 'off'}")
    print(f"each gate: {args.rounds} ABBA rounds × 2 trials × ({args.warmup:g} s + {args.duration:g} s), "
          f"2 server starts", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = _read(args.out)
    # Cases take turns gate by gate, so a spell of other load on the machine falls on all of them alike.
    for gate, case in [(g, c) for g in range(1, args.gates + 1) for c in cases]:
        slowdown = CASES[case]
        cand_delay = round((1 + slowdown) * (c0_us + args.delay_us) - c0_us)
        have = sum(1 for r in done if r["case"] == case and r["settings"] == settings.key())
        if gate <= have:
            continue
        start, load_before = time.monotonic(), os.getloadavg()[0]
        result = one_gate(settings, cand_delay, rate, rng)
        seconds = time.monotonic() - start
        row = {"case": case, "slowdown": slowdown, "candidate_delay_us": cand_delay,
               "c0_us": round(c0_us, 2), "settings": settings.key(), "gate": gate,
               "seconds": round(seconds, 1), "loadavg_1min": [load_before, os.getloadavg()[0]],
               **result}  # fmt: skip
        with args.out.open("a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")
            out.flush()
            os.fsync(out.fileno())
        done.append(row)
        verdicts = "  ".join(f"{m} {result[m]['verdict']:12s} {result[m]['change_pct']:+6.1f}%"
                             for m in METRICS)
        print(f"  {case} gate {gate:2d}/{args.gates}: {verdicts} ({seconds:.0f} s)", flush=True)
    print(table(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
