"""Seeded synthetic results files for tests of report, check and compare: realistic, deterministic, fast.

    from synthetic import write_synthetic_results        # tests/ is on sys.path (tests/conftest.py)
    path = write_synthetic_results(tmp_path / "results.jsonl", seed=1)
    path = write_synthetic_results(tmp_path / "gate.jsonl", variants=("baseline", "candidate"),
                                   candidate_slowdown=0.15, repetitions=5)

The file goes through the real `ResultsWriter` and `measured_trial`, with real encoded
LatencyHistograms. Figures follow a simple queueing picture of each model (a service time and a capacity
per workload, taken from MEASURING.md): closed loop, rps = min(connections / service time, capacity) and
mean latency = connections / rps (Little's law); open loop, rps = min(rate, capacity) and latency grows
as 1 / (1 − utilisation). Latencies are lognormal. Same arguments, same bytes: the header's `created`,
each trial's `started` and the `env` are fixed, and all noise comes from numpy's seeded generator.

Trial order interleaves repetitions (round r runs every model × workload × load, and in a paired run
baseline then candidate for each), and a per-round factor is shared by the trials of one round, as on a
real machine, so paired comparisons have something to cancel. Each histogram holds `latency_samples`
(default 2000) values drawn from the trial's distribution, not one per request; every count
(requests, ok, status, errors, timeline) is consistent with `requests`.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from loadbench.results.build import TrialIdentity, failed_trial, measured_trial
from loadbench.results.file import ResultsWriter
from loadbench.results.metrics import LatencyHistogram, percentile_summary_ms
from loadbench.results.records import make_header
from loadbench.types import Closed, Load, Open

CREATED = datetime(2026, 11, 24, 6, 0, 0, tzinfo=UTC)
ENV: dict[str, Any] = {
    "hostname": "synthetic", "os": "Linux 6.1.0 (synthetic)", "kernel": "6.1.0", "cpu_model": "Synthetic CPU",
    "cpu_count": 2, "affinity": [0, 1], "cpu_governor": None, "mem_total_mb": 8192.0, "python": "3.11.7",
    "implementation": "CPython", "python_executable": "/usr/bin/python3", "loadbench_version": "0.1.0",
    "packages": {"loadbench": "0.1.0", "uvicorn": "0.30.0", "gunicorn": "22.0.0", "waitress": "3.0.0",
                 "uvloop": "0.19.0", "httptools": "0.6.1", "gevent": None, "psutil": "5.9.8",
                 "numpy": "1.26.4", "pandas": "2.2.2", "matplotlib": "3.8.4", "httpx": "0.27.0",
                 "locust": None},
    "event_loop": "uvloop", "server_cpus": [0], "client_cpus": [1], "loadavg": [0.1, 0.1, 0.1],
}  # fmt: skip

# model -> (family, server options, rss MB, plaintext service ms, plaintext capacity rps, I/O concurrency)
_MODELS: dict[str, tuple[str, dict[str, Any], float, float, float, float]] = {
    "waitress": ("threaded", {"workers": 1, "threads": 4}, 32.0, 0.06, 16_000.0, 4),
    "gunicorn": ("pre-fork", {"workers": 2, "threads": None}, 58.0, 0.12, 8_000.0, 2),
    "gunicorn-gthread": ("pre-fork", {"workers": 1, "threads": 8}, 36.0, 0.10, 9_500.0, 8),
    "gunicorn-gevent": ("event-loop", {"workers": 1, "threads": None}, 45.0, 0.11, 9_400.0, 1000),
    "uvicorn": ("event-loop", {"workers": 1, "threads": None}, 38.0, 0.017, 59_000.0, 1000),
    "nginx": ("external", {"workers": 1, "threads": None}, 12.0, 0.007, 148_000.0, 1000),
}
_SIGMA = 0.5
_RTT_S = 40e-6  # client and loopback time per request, on top of the server's own


def _profile(model: str) -> tuple[str, dict[str, Any], float, float, float, float]:
    """A known model's profile, or a stable made-up one (from the name's CRC) for any other name."""
    if model in _MODELS:
        return _MODELS[model]
    k = zlib.crc32(model.encode()) % 1000 / 1000
    return ("threaded", {"workers": 1, "threads": 4}, 30 + 20 * k, 0.05 + 0.1 * k, 8000 + 20_000 * k, 4)


def _service(model: str, workload: str) -> tuple[float, float, float]:
    """(service time in seconds at no load, its fixed part that no request beats, capacity in rps)."""
    _family, _opts, _rss, plain_ms, plain_cap, io_slots = _profile(model)
    io = re.search(r"/io\?ms=(\d+)", workload)
    cpu = re.search(r"/cpu\?n=(\d+)", workload)
    if io:
        wait_s = int(io.group(1)) / 1000
        return wait_s + plain_ms / 1000 + _RTT_S, wait_s, min(plain_cap, io_slots / wait_s)
    if cpu:
        work_s = int(cpu.group(1)) * 1e-7 + plain_ms / 1000
        workers = 2 if model == "gunicorn" else 1
        return work_s + _RTT_S, work_s * 0.8, workers / work_s
    return plain_ms / 1000 + _RTT_S, _RTT_S / 2, plain_cap


def _as_load(load: int | Load) -> Load:
    return Closed(connections=load) if isinstance(load, int) else load


def write_synthetic_results(
    path: str | Path,
    *,
    seed: int = 0,
    models: Sequence[str] = ("waitress", "gunicorn", "uvicorn"),
    workloads: Sequence[str] = ("/plaintext", "/io?ms=20"),
    loads: Sequence[int | Load] = (1, 16, 64),
    repetitions: int = 3,
    variants: Sequence[str] | None = None,
    candidate_slowdown: float = 0.15,
    name: str = "synthetic",
    thresholds: Sequence[str] = (),
    saturated_every: int = 0,
    failed: Sequence[str | int] = (),
    duration_s: float = 5.0,
    latency_samples: int = 2000,
    breakdown: bool = False,
) -> Path:
    """Write a results file and return its path (parents are created; an existing file is replaced).

    loads: ints are closed-loop connection counts; engine.base Open(...) gives open-loop trials.
    variants: e.g. ("baseline", "candidate") for a paired gate run; every variant after the first is
    `candidate_slowdown` slower (latency × (1 + s), rps ÷ (1 + s)); negative values make it faster.
    saturated_every: every n-th trial (by index, from 0) is flagged saturated (client CPU too high).
    failed: model names (every trial of that model) or trial indices whose server "failed to start".
    breakdown: give every measured trial what the native engine's newer features write (connect, TLS
    handshake and TTFB figures and histograms, pipelining, a failed response check, the first trial
    aborted), derived without drawing from the generator, so the other figures stay the same bytes.
    """
    rng = np.random.default_rng(seed)
    header = make_header(scenario_name=name, scenario_path=f"scenarios/{name}.toml",
                         scenario_text=f'name = "{name}"\n', thresholds=thresholds, env=ENV, created=CREATED,
                         run_id=f"synthetic-{seed}")  # deterministic: the same arguments, the same bytes
    variant_list: Sequence[str | None] = tuple(variants) if variants else (None,)
    path = Path(path)
    index = 0
    with ResultsWriter(path, header, overwrite=True) as writer:
        for rep in range(1, repetitions + 1):
            round_factor = float(rng.lognormal(0.0, 0.03))
            for model in models:
                for workload in workloads:
                    for raw_load in loads:
                        load = _as_load(raw_load)
                        for v_pos, variant in enumerate(variant_list):
                            slow = 1.0 + (candidate_slowdown if v_pos > 0 else 0.0)
                            identity = _identity(model, workload, load, rep, variant, index)
                            if model in failed or index in failed:
                                trial = failed_trial(
                                    TrialIdentity(**identity),
                                    reason=f"{model} did not answer /health within 10 s",
                                    log_tail="Traceback (most recent call last):\nOSError: bind failed",
                                )
                            else:
                                saturated = saturated_every > 0 and index % saturated_every == 0
                                record = _measure(rng, model, workload, load, slow * round_factor,
                                                  saturated, duration_s, latency_samples)
                                if breakdown:
                                    record |= _breakdown(record, first=index == 0)
                                trial = measured_trial(TrialIdentity(**identity), record)
                            writer.append(trial)
                            index += 1
    return path


def _breakdown(record: dict[str, Any], *, first: bool) -> dict[str, Any]:
    """The keys the timing breakdown, pipelining, response checks and --abort-on-fail add to a record."""
    p50 = float(record["latency_ms"]["p50"] or 1.0)
    connect, tls, ttfb = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    connect.record_many(np.array([40_000, 55_000, 60_000, 250_000], dtype=np.int64))
    tls.record_many(np.array([900_000, 1_100_000, 1_300_000, 4_000_000], dtype=np.int64))
    ttfb.record_many((np.array([0.5, 0.8, 0.9, 1.5]) * p50 * 1e6).astype(np.int64))
    errors = {**record["errors"], "check_failed": 3}
    return {
        "connect_ms": percentile_summary_ms(connect), "connect_histogram": connect.encode(),
        "tls_ms": percentile_summary_ms(tls), "tls_histogram": tls.encode(),
        "ttfb_ms": percentile_summary_ms(ttfb), "ttfb_histogram": ttfb.encode(),
        "backend_extras": {"tls": True, "connections_measured": connect.count,
                           "connect_ms": percentile_summary_ms(connect)},
        "pipeline": 4, "pipeline_downgrades": 1, "errors": errors, **({"aborted": True} if first else {}),
    }


def _identity(
    model: str, workload: str, load: Load, rep: int, variant: str | None, index: int
) -> dict[str, Any]:
    family, options, *_ = _profile(model)
    trial_id = "|".join([model, workload, load.label, str(rep), *([variant] if variant else [])])
    return {
        "trial_id": trial_id, "index": index, "model": model, "server_model": model, "family": family,
        "server_options": options, "variant": variant, "workload": workload,
        "requests_spec": [{"method": "GET", "path": workload, "weight": 1.0}], "load": load,
        "repetition": rep, "round": rep, "started": CREATED + timedelta(seconds=7 * index + 1),
        "cpus": {"server": [0], "client": [1]},
    }


def _measure(
    rng: np.random.Generator, model: str, workload: str, load: Load, slow: float, saturated: bool,
    duration_s: float, samples: int,
) -> dict[str, Any]:
    """The engine's record plus the monitor's keys (server, monitor, other_cpu_pct) of one made-up trial."""
    service_s, floor_s, capacity = _service(model, workload)
    noise = float(rng.lognormal(0.0, 0.02))
    if isinstance(load, Open):
        target: float | None = load.rate_per_s
        rps = min(load.rate_per_s, capacity * 0.98) / noise
        utilisation = min(load.rate_per_s / capacity, 0.95)
        mean_s = service_s / (1 - utilisation) * slow * noise
    else:
        target = None
        conns = load.connections if isinstance(load, Closed) else 16
        rps = min(conns / service_s, capacity) / (slow * noise)
        mean_s = conns / rps
    # A fixed floor (the I/O wait, the round trip) plus a lognormal rest: queueing and scheduling.
    sigma = _SIGMA + (0.2 if rps >= capacity * 0.9 else 0.0)
    floor_s = min(floor_s, 0.9 * mean_s)
    median_ns = (mean_s - floor_s) * 1e9 / math.exp(sigma**2 / 2)
    values = floor_s * 1e9 + rng.lognormal(math.log(median_ns), sigma, size=samples)
    hist = LatencyHistogram()
    hist.record_many(values.astype(np.int64))
    requests = max(1, round(rps * duration_s))
    timeouts = int(rng.binomial(requests, 0.0005)) if mean_s > 0.5 else 0
    non_2xx = int(rng.binomial(requests, 0.001)) if rps >= capacity * 0.9 else 0
    latency = percentile_summary_ms(hist)
    seconds = max(1, int(duration_s))
    per_second = rng.multinomial(requests, np.full(seconds, 1 / seconds))
    timeline = [[s, int(n), 0, round(latency["p50"] or 0.0, 4), round(latency["p99"] or 0.0, 4)]
                for s, n in enumerate(per_second)]  # fmt: skip
    client_pct = min(99.0, rps / 1720 + 3) if not saturated else 97.0
    record = {
        "duration_s": duration_s, "warmup_s": 1.0, "requests": requests, "ok": requests - non_2xx,
        "rps": round(requests / duration_s, 3), "latency_ms": latency, "service_ms": None,
        "errors": {"connect_refused": 0, "connect_timeout": 0, "timeout": timeouts, "reset": 0,
                   "protocol": 0},
        "error_messages": {"timed out after 2 s": timeouts} if timeouts else {},
        "status": {"200": requests - non_2xx, **({"503": non_2xx} if non_2xx else {})},
        "error_rate": round((timeouts + non_2xx) / (requests + timeouts), 6),
        "bytes_in": requests * 140, "bytes_out": requests * 60, "target_rps": target, "sent": requests,
        "dropped": 0, "drained": 0, "schedule_lag_ms": {"p50": 0.4, "p99": 1.1} if target else None,
        "saturated": saturated,
        "saturation_reasons": ["client CPU 97% ≥ 90%: the generator, not the server, set the pace"]
        if saturated else [],
        "engine": "loadbench/uvloop", "event_loop": "uvloop", "client_cpu_pct": round(client_pct, 1),
        "client_cpu_s": round(client_pct * duration_s / 100, 3), "timeline": timeline,
        "histogram": hist.encode(), "service_histogram": None,
    }  # fmt: skip
    _family, _opts, rss, *_ = _profile(model)
    plain_cap = _profile(model)[4]
    server_pct = min(100.0, 100 * rps / plain_cap + 1)  # CPU follows requests served, not time waited
    ticks = np.arange(1, int(duration_s * 4) + 1) * 0.25
    cpu = np.clip(server_pct + rng.normal(0, 2, ticks.size), 0, 100)
    rss_mb = rss + rng.normal(0, 0.2, ticks.size)
    return record | {
        "server": {"cpu_pct_mean": round(float(cpu.mean()), 1), "cpu_pct_max": round(float(cpu.max()), 1),
                   "rss_mb_mean": round(float(rss_mb.mean()), 1), "rss_mb_max": round(float(rss_mb.max()), 1),
                   "processes": 1 + int(model == "gunicorn") * 2},
        "monitor": [[float(t), round(float(c), 1), round(float(m), 1), round(client_pct, 1)]
                    for t, c, m in zip(ticks, cpu, rss_mb, strict=True)],
        "other_cpu_pct": round(float(abs(rng.normal(2.0, 1.0))), 1),
    }  # fmt: skip

