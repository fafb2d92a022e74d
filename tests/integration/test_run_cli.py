"""`loadbench run` as users run it: ci-smoke end to end with real servers, --dry-run, unknown scenarios.

The ci-smoke results are checked against docs/results-format.md key by key (every documented key
present with its documented type), then for meaning: histograms decode, percentiles rise, rates > 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from runner_support import small_scenario, watched_run

from loadbench.cli import main
from loadbench.results.file import read_results
from loadbench.scenario import shipped_scenarios

pytestmark = pytest.mark.integration

NUM = (int, float)
OPT_NUM = (int, float, type(None))
OPT_DICT = (dict, type(None))
OPT_STR = (str, type(None))
PERCENTILES = ("min", "p50", "p90", "p95", "p99", "p99_9", "max")

# docs/results-format.md, "Header (line 1)": key -> allowed JSON types.
HEADER_KEYS: dict[str, Any] = {
    "format": str, "version": int, "loadbench_version": str, "created": str, "scenario": dict, "env": dict,
}
SCENARIO_KEYS: dict[str, Any] = {
    "name": str, "path": OPT_STR, "sha256": OPT_STR, "text": OPT_STR, "thresholds": list,
}
ENV_KEYS: dict[str, Any] = {
    "hostname": OPT_STR, "os": OPT_STR, "kernel": OPT_STR, "cpu_model": OPT_STR, "cpu_count": int,
    "affinity": (list, type(None)), "cpu_governor": OPT_STR, "mem_total_mb": OPT_NUM, "python": str,
    "implementation": OPT_STR, "python_executable": OPT_STR, "loadbench_version": str, "packages": dict,
    "event_loop": OPT_STR, "server_cpus": list, "client_cpus": list, "loadavg": (list, type(None)),
}
PACKAGES = ("loadbench", "uvicorn", "gunicorn", "waitress", "uvloop", "httptools", "gevent", "psutil",
            "numpy", "pandas", "matplotlib", "httpx", "locust")
# docs/results-format.md, "Trial (every further line)".
TRIAL_KEYS: dict[str, Any] = {
    "kind": str, "trial_id": str, "index": int, "model": str, "server_model": str, "family": str,
    "server_options": dict, "variant": OPT_STR, "workload": str, "requests_spec": list, "load": dict,
    "load_label": str, "repetition": int, "round": int, "started": str, "status_ok": bool,
    "failure": OPT_DICT, "duration_s": NUM, "warmup_s": NUM, "requests": int, "ok": int, "rps": NUM,
    "latency_ms": OPT_DICT, "service_ms": OPT_DICT, "errors": dict, "error_messages": dict, "status": dict,
    "error_rate": NUM, "bytes_in": int, "bytes_out": int, "target_rps": OPT_NUM, "dropped": int,
    "schedule_lag_ms": OPT_DICT, "saturated": bool, "saturation_reasons": list, "engine": str,
    "event_loop": str, "processes": int, "keepalive": bool, "connections_opened": int, "sent": int,
    "drained": int, "client_cpu_s": OPT_NUM, "client_cpu_pct": OPT_NUM, "other_cpu_pct": OPT_NUM,
    "server": OPT_DICT, "monitor": list, "timeline": list, "histogram": OPT_STR, "service_histogram": OPT_STR,
    "cpus": OPT_DICT,
}
ERROR_CLASSES = ("connect_refused", "connect_timeout", "timeout", "reset", "protocol")
SERVER_KEYS = ("cpu_pct_mean", "cpu_pct_max", "rss_mb_mean", "rss_mb_max", "processes")


def _typed(where: str, record: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    """Problems: documented keys missing or of the wrong type (`true` is no integer)."""
    problems = []
    for key, types in spec.items():
        if key not in record:
            problems.append(f"{where}: missing key {key!r}")
            continue
        value = record[key]
        allowed = types if isinstance(types, tuple) else (types,)
        if isinstance(value, bool) and bool not in allowed:
            problems.append(f"{where}: {key!r} is a bool, want {allowed}")
        elif not isinstance(value, allowed):
            problems.append(f"{where}: {key!r} = {value!r} is not {allowed}")
    return problems


def schema_problems(path: Path) -> list[str]:
    """Every way `path` departs from docs/results-format.md (empty = valid)."""
    lines = path.read_text("ascii").splitlines()
    header = json.loads(lines[0])
    problems = _typed("header", header, HEADER_KEYS)
    problems += _typed("header.scenario", header.get("scenario", {}), SCENARIO_KEYS)
    env = header.get("env", {})
    problems += _typed("header.env", env, ENV_KEYS)
    missing_packages = set(PACKAGES) - set(env.get("packages", {}))
    if missing_packages:
        problems.append(f"header.env.packages: missing {sorted(missing_packages)}")
    if header.get("format") != "loadbench-results" or header.get("version") != 1:
        problems.append(f"header: format/version {header.get('format')!r}/{header.get('version')!r}")
    for number, line in enumerate(lines[1:], start=2):
        trial = json.loads(line)
        where = f"line {number}"
        problems += _typed(where, trial, TRIAL_KEYS)
        errors = trial.get("errors", {})
        problems += [f"{where}: errors lacks {c!r}" for c in ERROR_CLASSES if c not in errors]
        if trial.get("status_ok"):
            latency = trial["latency_ms"] or {}
            problems += _typed(f"{where}.latency_ms", latency, dict.fromkeys(PERCENTILES, NUM))
            problems += _typed(f"{where}.server", trial["server"] or {}, dict.fromkeys(SERVER_KEYS, NUM))
            # [t_s, server_cpu_pct, server_rss_mb, client_cpu_pct] and server_fds when it could be read
            problems += [f"{where}: monitor row {row!r}" for row in trial["monitor"]
                         if len(row) not in (4, 5)]
            problems += [f"{where}: timeline row {row!r}" for row in trial["timeline"] if len(row) != 5]
            problems += _typed(f"{where}.cpus", trial["cpus"] or {}, {"server": list, "client": list})
    return problems


def test_ci_smoke_end_to_end_writes_complete_valid_results(tmp_path: Path) -> None:
    with watched_run(["ci-smoke", "--quick", "--no-report"], tmp_path / "run") as run:
        code = run.proc.wait(120)
    assert code == 0, run.output()
    assert schema_problems(run.results) == []
    results = read_results(run.results)
    assert results.warnings == ()
    assert results.header.scenario["name"] == "ci-smoke"
    assert [t.trial_id for t in results.trials] == ["waitress|/plaintext|8c|1", "uvicorn|/plaintext|8c|1"]
    env = results.header.env
    assert env["cpu_count"] >= 1 and env["python"].count(".") == 2
    assert env["packages"]["waitress"] and env["packages"]["uvicorn"]
    for trial in results.trials:
        assert trial.status_ok, trial.failure
        assert trial.rps > 0 and trial.ok > 0 and trial.requests >= trial.ok
        assert trial.status == {"200": trial.requests}
        assert trial.cpus is not None and trial.cpus["server"] and trial.cpus["client"]
        assert trial.server is not None and trial.server["processes"] >= 1
        histogram = trial.latency_histogram()
        assert histogram is not None and histogram.count == trial.requests
        assert trial.latency_ms is not None
        figures = [trial.latency_ms[key] for key in PERCENTILES]
        assert all(isinstance(f, float) and math.isfinite(f) for f in figures), figures
        assert figures == sorted(figures), f"percentiles not monotone: {figures}"
        assert histogram.percentile(50) / 1e6 == pytest.approx(trial.latency_ms["p50"], rel=0.01)
    assert "results:" in run.output()
    assert not (run.out_dir / "report.html").exists()  # --no-report


def test_dry_run_prints_plan_and_estimate_and_starts_nothing(tmp_path: Path) -> None:
    scenario = small_scenario(tmp_path, "dry", connections=(2, 4), repeat=2)
    with watched_run([str(scenario), "--dry-run"], tmp_path / "run") as run:
        code = run.proc.wait(60)
        run.watcher.stop()
    out = run.output()
    assert code == 0, out
    assert "Scenario dry: 8 trials in 4 server starts" in out
    assert "waitress|/plaintext|2c|1" in out and "uvicorn|/plaintext|4c|2" in out
    assert "estimated time:" in out
    assert run.watcher.seen == {}, "a dry run started processes"
    assert not run.out_dir.exists()


def test_unknown_scenario_is_a_usage_error_listing_shipped_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["run", "quikstart", "--dry-run"])
    err = capsys.readouterr().err
    assert done.value.code == 2
    assert "did you mean 'quickstart'?" in err
    names = shipped_scenarios()
    assert {"quickstart", "ci-smoke"} <= set(names)
    assert all(name in err for name in names), err
