"""`FakeTrial(...)`: a real loadbench.results.records.TrialResult with plausible defaults for the figures the
gate reads, for fast table tests of thresholds and comparisons (whole files come from tests/synthetic.py)."""

from __future__ import annotations

from typing import Any

from loadbench.results.records import TrialResult


def FakeTrial(**fields: Any) -> TrialResult:
    """Return a TrialResult of one trial of uvicorn on /json at 64 closed-loop connections.

    Defaults: index 0, repetition 1, round 1, 5 s measured, 5000 requests all ok at 1000 rps, latency
    p50/p99/p99.9 1/10/20 ms, no errors (`errors` is empty), server CPU 90 % and RSS 40 MiB, not
    saturated, server ok, no variant. Keyword arguments (any TrialResult field) replace defaults.
    """
    defaults: dict[str, Any] = {
        "model": "uvicorn",
        "workload": "/json",
        "load": {"kind": "closed", "connections": 64},
        "load_label": "64c",
        "duration_s": 5.0,
        "requests": 5000,
        "ok": 5000,
        "rps": 1000.0,
        "latency_ms": {"p50": 1.0, "p99": 10.0, "p99_9": 20.0},
        "errors": {},
        "server": {"cpu_pct_mean": 90.0, "rss_mb_max": 40.0},
    }
    return TrialResult(**(defaults | fields))
