"""A stand-in for loadbench.results.records.TrialResult with just the attributes the gate reads, for fast
table tests of thresholds and comparisons (whole files come from tests/synthetic.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class FakeTrial:
    """The attributes of a TrialResult that the gate reads."""

    model: str = "uvicorn"
    variant: str | None = None
    workload: str = "/json"
    load_label: str = "64c"
    repetition: int = 1
    round: int = 1
    index: int = 0
    rps: float = 1000.0
    latency_ms: dict[str, float] = field(default_factory=lambda: {"p50": 1.0, "p99": 10.0, "p99_9": 20.0})
    error_rate: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    requests: int = 5000
    ok: int = 5000
    server: dict[str, float] | None = field(
        default_factory=lambda: {"cpu_pct_mean": 90.0, "rss_mb_max": 40.0}
    )
    saturated: bool = False
    saturation_reasons: tuple[str, ...] = ()
    status_ok: bool = True
    failure: dict[str, Any] | None = None
    duration_s: float = 5.0
