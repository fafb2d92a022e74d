"""results.py and resultsfile.py with real metrics (a Recording survives the file), and the synthetic
results generator."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from synthetic import write_synthetic_results

from loadbench.results.build import TrialIdentity, measured_trial
from loadbench.results.file import ResultsWriter, read_results
from loadbench.results.metrics import LatencyHistogram, Recording, TimelinePoint, empty_errors
from loadbench.results.records import make_header
from loadbench.types import Closed, Open


def test_a_recording_round_trips_through_the_file_with_its_histogram(tmp_path: Path) -> None:
    hist = LatencyHistogram()
    hist.record_many(np.random.default_rng(3).lognormal(np.log(2e6), 0.4, size=5000).astype(np.int64))
    recording = Recording(
        engine="loadbench/uvloop", event_loop="uvloop", load=Closed(connections=16), duration_s=2.0,
        warmup_s=0.5, requests=5000, drained=3, ok=5000, status={200: 5000}, errors=empty_errors(),
        error_messages={}, bytes_in=700_000, bytes_out=300_000, latency=hist, service=None, schedule_lag=None,
        timeline=(TimelinePoint(second=0, requests=2500, errors=0, p50_ns=2_000_000, p99_ns=5_000_000),),
        target_rps=None, sent=5003, dropped=0, client_cpu_s=0.4, client_cpu_pct=20.0, saturated=False,
        saturation_reasons=(),
    )  # fmt: skip
    trial = measured_trial(TrialIdentity(
        trial_id="t", index=0, model="uvicorn", server_model="uvicorn",
        family="event-loop", server_options={}, variant=None, workload="/plaintext", requests_spec=[],
        load=Closed(connections=16), repetition=1, round=1, started=datetime(2026, 1, 1, tzinfo=UTC),
        cpus=None,
    ), recording)  # fmt: skip
    with ResultsWriter(tmp_path / "r.jsonl", make_header(scenario_name="s")) as writer:
        writer.append(trial)
    (back,) = read_results(tmp_path / "r.jsonl").trials
    assert back == trial and back.extra == {}  # every Recording key is a documented one
    assert back.latency_histogram() == hist
    assert back.latency_ms is not None and back.latency_ms["p99"] == round(hist.percentile(99) / 1e6, 4)
    assert (back.sent, back.drained, back.event_loop) == (5003, 3, "uvloop")


def test_synthetic_file_is_deterministic_complete_and_fast(tmp_path: Path) -> None:
    start = time.perf_counter()
    path = write_synthetic_results(tmp_path / "a.jsonl", seed=7)
    elapsed = time.perf_counter() - start
    results = read_results(path)
    assert len(results.trials) == 3 * 2 * 3 * 3 and results.warnings == ()
    assert path.read_bytes() == write_synthetic_results(tmp_path / "b.jsonl", seed=7).read_bytes()
    assert path.read_bytes() != write_synthetic_results(tmp_path / "c.jsonl", seed=8).read_bytes()
    assert results.header.created == "2026-11-24T06:00:00+00:00"
    # Repetitions are interleaved: round 1 runs everything before round 2 starts.
    assert [t.round for t in results.trials] == sorted(t.round for t in results.trials)
    for trial in results.trials:
        h = trial.latency_histogram()
        assert h is not None and h.count == 2000
        assert trial.latency_ms is not None and trial.latency_ms["p50"] == round(h.percentile(50) / 1e6, 4)
        assert sum(trial.status.values()) == trial.requests == sum(row[1] for row in trial.timeline)
        assert trial.server is not None and len(trial.monitor) == 20
    assert elapsed < 5  # generous on a shared machine; about 0.1 s when idle


def test_synthetic_models_differ_the_way_the_real_ones_do(tmp_path: Path) -> None:
    results = read_results(write_synthetic_results(tmp_path / "r.jsonl", repetitions=1, loads=(64,)))
    rps = {(t.model, t.workload): t.rps for t in results.trials}
    assert rps[("uvicorn", "/plaintext")] > rps[("waitress", "/plaintext")] > rps[("gunicorn", "/plaintext")]
    assert rps[("uvicorn", "/io?ms=20")] > 10 * rps[("waitress", "/io?ms=20")]


def test_synthetic_paired_variants_flags_and_failures(tmp_path: Path) -> None:
    path = write_synthetic_results(
        tmp_path / "r.jsonl", models=("uvicorn", "gunicorn"), workloads=("/plaintext",),
        loads=(16, Open(rate_per_s=500.0)), repetitions=5, variants=("baseline", "candidate"),
        candidate_slowdown=0.2, thresholds=("p99 < 50ms",), saturated_every=7, failed=("gunicorn",),
    )  # fmt: skip
    results = read_results(path)
    assert results.header.scenario["thresholds"] == ["p99 < 50ms"]
    ok = [t for t in results.trials if not t.failed]
    assert {t.model for t in results.trials if t.failed} == {"gunicorn"}
    assert all(t.failure and t.failure["reason"] for t in results.trials if t.failed)
    assert [t.index for t in results.trials if t.saturated] == [i for i in range(0, 40, 7) if i % 8 < 4]
    pairs: dict[tuple[str, int], dict[str, float]] = {}
    for t in ok:
        assert t.variant is not None
        assert t.latency_ms is not None and t.latency_ms["p50"] is not None
        pairs.setdefault((t.load_label, t.round), {})[t.variant] = t.latency_ms["p50"]
    assert len(pairs) == 10
    ratios = [p["candidate"] / p["baseline"] for p in pairs.values()]
    assert float(np.median(ratios)) == pytest.approx(1.2, abs=0.08)
    open_trials = [t for t in ok if t.load["kind"] == "open"]
    assert open_trials and all(t.target_rps == 500.0 for t in open_trials)
