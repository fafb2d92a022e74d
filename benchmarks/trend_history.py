"""Does `loadbench trend` find a step planted in a real history of results files, and none in a flat one?

Makes two histories of N (default 12) real results files each, as a CI job would across commits, and runs
`loadbench trend` over each for rps and cpu_per_request:

    planted     from file K on (default the 8th) the app costs STEP % more CPU per request (default 10 %)
    control     every file the same app: any step `trend` reports here is a false one

Each file is a real short `loadbench run` (uvicorn serving the bundled app's /plaintext on CPU 0, the
engine on CPU 1, closed loop at 16 connections, 3 repetitions of 0.5 s warm-up + 1.5 s, so the file's
median is usable), written to OUT/<history>/history/NN/results.jsonl. The two histories are run
interleaved (planted 1, control 1, planted 2, …) so the machine's drift lands in both alike.

Commits are real: each history has a throwaway git repository (OUT/<history>/repo) holding the run's
scenario.toml; every file is one commit there, and `loadbench run` is started with its working directory
in that repository, so the results header's `git_commit` (loadbench.results.env.git_commit: HEAD of the
working directory) names the commit the run measured. The planted step is itself a commit: the one that
raises LOADBENCH_APP_DELAY_US (the app's busy CPU µs per request, read by loadbench/app at import).

"STEP % costlier" is planted as in benchmarks/gate_false_alarms.py: with base delay D, the files before K
measure the whole per-request cost C ≈ c0 + D (their median cpu_per_request), and from K on the delay is
D + STEP·C, so the cost, not just the delay, rises by STEP. The rps of a saturated one-core server should
then fall by about STEP / (1 + STEP).

Everything, including the HTML charts (trend-<metric>.html), goes under --out (default: a new temporary
directory); summary.txt and summary.json there hold the conditions, the trend tables, where each step was
planted and found, and each `loadbench trend` exit code (10 = the newest step is a regression).

    .venv/bin/python benchmarks/trend_history.py                        # about 4 minutes
    .venv/bin/python benchmarks/trend_history.py --files 10 --step-at 6 --step-pct 5 --out /tmp/th

The machine is shared: `uptime` before and after, and the load average at each file, are in the summary.
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
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadbench.gate.check import metric_value
from loadbench.gate.trend import build_trend
from loadbench.gate.trials import exclusion_reason
from loadbench.results.file import read_results

DELAY_ENV = "LOADBENCH_APP_DELAY_US"
METRICS = ("rps", "cpu_per_request")
HISTORIES = ("planted", "control")

SCENARIO = """\
# build {build:02d} of the {history} history (benchmarks/trend_history.py)
name = "trend-history"
[app]
env = {{ {env} = "{delay}" }}
[[servers]]
model = "{model}"
[[endpoints]]
path = "{path}"
[load]
connections = [{connections}]
duration = "{duration}s"
warmup = "{warmup}s"
repeat = {repeat}
timeout = "2s"
[cpus]
server = [0]
client = [1]
"""

# A throwaway repository must not read the user's git config (signing, hooks) nor need an identity set up.
GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "trend-history",
           "GIT_AUTHOR_EMAIL": "trend-history@localhost", "GIT_COMMITTER_NAME": "trend-history",
           "GIT_COMMITTER_EMAIL": "trend-history@localhost"}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """One file's run shape, and the history's length and planted step."""

    files: int
    step_at: int  # 1-based: the first file of the new level
    step_pct: float
    delay_us: int
    model: str
    path: str
    connections: int
    duration_s: float
    warmup_s: float
    repeat: int


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env={**os.environ, **GIT_ENV})  # fmt: skip
    return done.stdout.strip()


def one_file(settings: Settings, history: str, build: int, delay_us: int, root: Path) -> dict[str, Any]:
    """Commit build `build` (its scenario with `delay_us`) to the history's repo, run it from there."""
    repo = root / history / "repo"
    if not (repo / ".git").exists():
        repo.mkdir(parents=True)
        git(repo, "init", "-q", "-b", "main")
    (repo / "scenario.toml").write_text(SCENARIO.format(
        build=build, history=history, env=DELAY_ENV, delay=delay_us, model=settings.model,
        path=settings.path, connections=settings.connections, duration=settings.duration_s,
        warmup=settings.warmup_s, repeat=settings.repeat,
    ), encoding="utf-8")  # fmt: skip
    git(repo, "add", "scenario.toml")
    git(repo, "commit", "-q", "-m", f"build {build:02d}: {DELAY_ENV}={delay_us}")
    commit = git(repo, "rev-parse", "HEAD")
    out = root / history / "history" / f"{build:02d}"
    load = os.getloadavg()[0]
    start = time.monotonic()
    argv = [
        sys.executable,
        "-m",
        "loadbench",
        "run",
        "scenario.toml",
        "--out",
        str(out),
        "--no-report",
        "--quiet",
    ]
    done = subprocess.run(argv, cwd=repo, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"{history} build {build}: loadbench run exited {done.returncode}:\n{done.stderr}")
    results = read_results(out / "results.jsonl")
    if results.header.git_commit != commit:
        header = results.header.git_commit
        raise SystemExit(f"{history} build {build}: the header's git_commit {header} is not {commit}")
    medians = {m: _median(out / "results.jsonl", m) for m in METRICS}
    return {"history": history, "build": build, "delay_us": delay_us, "commit": commit,
            "path": str(out / "results.jsonl"), "load1": round(load, 2), "seconds": round(seconds, 1),
            **{m: None if v is None else round(v, 2) for m, v in medians.items()}}  # fmt: skip


def _median(path: Path, metric: str) -> float | None:
    """The file's own figure for `metric` as `trend` computes it (median of usable trials); µs for
    cpu_per_request (metric_value gives ms, the base unit of times)."""
    values = [v for t in read_results(path).trials if not exclusion_reason(t)
              if (v := metric_value(t, metric)) is not None]  # fmt: skip
    scale = 1000.0 if metric == "cpu_per_request" else 1.0
    return scale * statistics.median(values) if values else None


def run_trend(files: list[str], metric: str, html: Path) -> tuple[int, str]:
    """The real CLI: its exit code and the table it printed."""
    done = subprocess.run([sys.executable, "-m", "loadbench", "trend", *files, "--metric", metric,
                           "-o", str(html)], capture_output=True, text=True, check=False)  # fmt: skip
    return done.returncode, (done.stdout + done.stderr).rstrip()


def steps_found(files: list[str], metric: str) -> list[dict[str, Any]]:
    """Where `trend` puts the steps (1-based file numbers), in what direction, by how much."""
    trend = build_trend([read_results(f) for f in files], metric=metric)
    return [{"series": s.label, "at": st.index + 1, "change_pct": round(st.change_pct, 2),
             "regression": trend.is_bad(st), "confidence": round(st.confidence, 3)}
            for s in trend.series for st in s.steps]  # fmt: skip


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=12, help="results files per history (default 12)")
    parser.add_argument("--step-at", type=int, default=8, help="first file of the planted level (default 8)")
    parser.add_argument("--step-pct", type=float, default=10.0, help="planted cost increase, %% (default 10)")
    parser.add_argument("--delay-us", type=int, default=200, help="base busy µs per request (default 200)")
    parser.add_argument("--model", default="uvicorn")
    parser.add_argument("--path", default="/plaintext")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=1.5, help="measured seconds per repetition")
    parser.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds per repetition")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per file (default 3)")
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: a new temp dir)")
    args = parser.parse_args(argv)
    if not 3 <= args.step_at <= args.files - 1:
        parser.error("--step-at must leave at least 2 files on each side of the step")
    settings = Settings(files=args.files, step_at=args.step_at, step_pct=args.step_pct,
                        delay_us=args.delay_us, model=args.model, path=args.path,
                        connections=args.connections, duration_s=args.duration, warmup_s=args.warmup,
                        repeat=args.repeat)  # fmt: skip
    root = args.out or Path(tempfile.mkdtemp(prefix="trend-history-"))
    root.mkdir(parents=True, exist_ok=True)
    if any((root / h).exists() for h in HISTORIES):
        parser.error(f"{root} already holds a history; give a new --out")
    before = uptime()
    print(f"out: {root}\nuptime: {before}", flush=True)
    rows: list[dict[str, Any]] = []
    step_delay: int | None = None
    for build in range(1, settings.files + 1):
        if build == settings.step_at:
            # the cost per request the files so far measured, C ≈ c0 + D: the step adds STEP % of it
            costs = [r["cpu_per_request"] for r in rows if r["history"] == "planted"]
            cost = statistics.median(c for c in costs if c is not None)
            step_delay = round(settings.delay_us + settings.step_pct / 100 * cost)
        for history in HISTORIES:
            delay = step_delay if history == "planted" and step_delay is not None else settings.delay_us
            row = one_file(settings, history, build, delay, root)
            rows.append(row)
            print(
                f"  {history:8s} #{build:02d} {row['commit'][:10]} delay {row['delay_us']:4d} µs: "
                f"{row['rps'] or 0:8,.0f} req/s  {row['cpu_per_request'] or 0:6.1f} µs/req  "
                f"(load {row['load1']}, {row['seconds']:.0f} s)",
                flush=True,
            )
    after = uptime()
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "uptime_before": before,
        "uptime_after": after, "settings": {**asdict(settings), "step_delay_us": step_delay},
        "files": rows, "trends": {},
    }  # fmt: skip
    text = [f"benchmarks/trend_history.py, {report['date']}", f"uptime before: {before}",
            f"uptime after:  {after}",
            f"{settings.model} {settings.path}, closed {settings.connections}c, {settings.repeat} × "
            f"({settings.warmup_s:g} s + {settings.duration_s:g} s) per file, server CPU 0, engine CPU 1; "
            f"delay {settings.delay_us} µs, planted from #{settings.step_at}: {step_delay} µs "
            f"(+{settings.step_pct:g} % of the measured cost per request)", ""]  # fmt: skip
    for history in HISTORIES:
        files = [r["path"] for r in rows if r["history"] == history]
        for metric in METRICS:
            code, table = run_trend(files, metric, root / history / f"trend-{metric}.html")
            found = steps_found(files, metric)
            planted_at = settings.step_at if history == "planted" else None
            report["trends"][f"{history}/{metric}"] = {"exit_code": code, "planted_at": planted_at,
                                                       "steps": found, "table": table}  # fmt: skip
            where = ", ".join(f"#{s['at']} {s['change_pct']:+.1f}%" for s in found) or "none"
            head = (
                f"== {history} history, {metric}: planted at "
                f"{'#' + str(planted_at) if planted_at else 'none'}; found {where}; exit code {code}"
            )
            print(head, flush=True)
            text += [head, table, ""]
    (root / "summary.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (root / "summary.txt").write_text("\n".join(text), encoding="utf-8")
    print(f"summary: {root / 'summary.txt'}, {root / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
