"""The latency histogram: precision, clamping, merging, percentiles, encoding; and the Recording record."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadbench.errors import ResultsFormatError
from loadbench.results.metrics import (
    COUNTS_LEN,
    HIGHEST_NS,
    LOWEST_NS,
    ErrorClass,
    LatencyHistogram,
    Recording,
    TimelinePoint,
    empty_errors,
    percentile_summary_ms,
)
from loadbench.types import Closed, Open

in_range = st.integers(min_value=LOWEST_NS, max_value=HIGHEST_NS)
batches = st.lists(in_range, min_size=0, max_size=200)


def hist(values: list[int]) -> LatencyHistogram:
    h = LatencyHistogram()
    h.record_many(values)
    return h


@settings(max_examples=300, deadline=None)
@given(in_range)
def test_a_single_value_comes_back_within_three_significant_digits(value: int) -> None:
    h = hist([value])
    for p in (0.0, 50.0, 99.9, 100.0):
        assert abs(h.percentile(p) - value) <= value / 1000
    assert (h.min_ns, h.max_ns, h.count) == (value, value, 1)


@settings(max_examples=100, deadline=None)
@given(st.lists(in_range, min_size=1, max_size=300), st.floats(min_value=0.1, max_value=99.9))
def test_percentiles_match_the_exact_order_statistic_within_precision(values: list[int], p: float) -> None:
    h = hist(values)
    ordered = sorted(values)
    rank = max(1, int(np.ceil(round(p * len(values) / 100, 6))))
    exact = ordered[rank - 1]
    assert abs(h.percentile(p) - exact) <= exact / 1000


@settings(max_examples=100, deadline=None)
@given(batches, batches, batches)
def test_merge_is_associative_and_commutative(a: list[int], b: list[int], c: list[int]) -> None:
    ha, hb, hc = hist(a), hist(b), hist(c)
    assert ha.merge(hb).merge(hc) == ha.merge(hb.merge(hc))
    assert ha.merge(hb) == hb.merge(ha)
    assert ha.merge(hb).merge(hc) == hist(a + b + c)


@settings(max_examples=100, deadline=None)
@given(batches)
def test_merge_is_pure(a: list[int]) -> None:
    h = hist(a)
    before = h.encode()
    h.merge(hist([5_000]))
    assert h.encode() == before


@settings(max_examples=100, deadline=None)
@given(st.lists(in_range, min_size=1, max_size=300), st.lists(st.floats(0, 100), min_size=2, max_size=20))
def test_percentiles_are_monotone(values: list[int], ps: list[float]) -> None:
    h = hist(values)
    got = [h.percentile(p) for p in sorted(ps)]
    assert got == sorted(got)
    assert h.min_ns <= got[0] and got[-1] <= h.max_ns


@settings(max_examples=100, deadline=None)
@given(batches)
def test_encode_decode_round_trip(values: list[int]) -> None:
    h = hist(values)
    back = LatencyHistogram.decode(h.encode())
    assert back == h
    assert back.percentile(99) == h.percentile(99)


def test_out_of_range_values_are_clamped_and_counted_never_dropped() -> None:
    h = hist([1, 999, 1_000, 61_000_000_000, 10**12])
    assert h.count == 5
    assert (h.clamped_low, h.clamped_high) == (2, 2)
    assert (h.min_ns, h.max_ns) == (LOWEST_NS, HIGHEST_NS)
    assert LatencyHistogram.decode(h.encode()).clamped_high == 2


def test_memory_is_bounded_whatever_the_count() -> None:
    h = LatencyHistogram()
    rng = np.random.default_rng(1)
    for _ in range(5):
        h.record_many(rng.integers(LOWEST_NS, HIGHEST_NS, size=200_000))
    assert h.count == 1_000_000
    assert h._counts.size == COUNTS_LEN and h._counts.nbytes <= 256 * 1024


def test_mean_and_empty_histogram() -> None:
    assert hist([2_000, 4_000]).mean_ns == 3_000
    empty = LatencyHistogram()
    assert (empty.count, empty.percentile(50), empty.mean_ns, empty.spectrum()) == (0, 0, 0.0, [])
    keys = ("min", "mean", "p50", "p90", "p95", "p99", "p99_9", "max")
    assert percentile_summary_ms(empty) == dict.fromkeys(keys)


def test_summary_in_milliseconds() -> None:
    summary = percentile_summary_ms(hist([1_000_000] * 99 + [50_000_000]))
    assert summary["p50"] == pytest.approx(1.0, rel=1e-3)
    assert summary["p99"] == pytest.approx(1.0, rel=1e-3)
    assert summary["max"] == 50.0 and summary["min"] == 1.0


def test_spectrum_runs_from_min_to_max_with_rising_percentiles() -> None:
    h = hist(list(range(1_000, 1_001_000, 100)))
    points = h.spectrum()
    assert points[0] == (0.0, h.min_ns) and points[-1] == (100.0, h.max_ns)
    assert [p for p, _ in points] == sorted(p for p, _ in points)
    assert [v for _, v in points] == sorted(v for _, v in points)
    assert points[-2][0] >= 99.99  # 10,000 samples resolve p99.99


@pytest.mark.parametrize("bad", ["", "not base64!", "eJwDAAAAAAE=", "TEJIMg=="])
def test_decode_rejects_what_is_not_a_histogram(bad: str) -> None:
    with pytest.raises(ResultsFormatError):
        LatencyHistogram.decode(bad)


def test_pickling_ships_the_encoded_form() -> None:
    import pickle

    h = hist([1_000_000] * 1000)
    data = pickle.dumps(h)
    assert len(data) < 1000 and pickle.loads(data) == h


def _recording(**overrides: object) -> Recording:
    fields: dict[str, object] = dict(
        engine="loadbench/uvloop", event_loop="uvloop", load=Closed(connections=4), duration_s=2.0,
        warmup_s=1.0, requests=1000, drained=4, ok=900, status={200: 900, 503: 100}, errors=empty_errors(),
        error_messages={}, bytes_in=1, bytes_out=2, latency=hist([1_000_000] * 1000), service=None,
        schedule_lag=None, timeline=(TimelinePoint(second=0, requests=498, errors=0, p50_ns=1_000_000,
                                                    p99_ns=2_000_000),),
        target_rps=None, sent=1000, dropped=0, client_cpu_s=0.5, client_cpu_pct=25.0, saturated=False,
        saturation_reasons=(),
    )  # fmt: skip
    fields.update(overrides)
    return Recording(**fields)  # type: ignore[arg-type]


def test_recording_figures() -> None:
    rec = _recording(errors={**empty_errors(), "timeout": 100})
    assert rec.rps == pytest.approx(996 / 2.0)  # drained responses are outside the window
    assert rec.error_count == 100
    assert rec.error_rate == pytest.approx((100 + 100) / 1100)


def test_to_record_has_the_documented_keys() -> None:
    record = _recording(load=Open(rate_per_s=500.0), service=hist([5]), schedule_lag=hist([2_000]),
                        target_rps=500.0).to_record()  # fmt: skip
    documented = {
        "duration_s", "warmup_s", "requests", "ok", "rps", "latency_ms", "service_ms", "errors",
        "error_messages", "status", "error_rate", "bytes_in", "bytes_out", "target_rps", "dropped",
        "schedule_lag_ms", "saturated", "saturation_reasons", "engine", "client_cpu_pct", "timeline",
        "histogram", "service_histogram", "load", "load_label",
    }  # fmt: skip
    assert documented <= record.keys()
    assert record["errors"].keys() == {c.value for c in ErrorClass}
    assert record["status"] == {"200": 900, "503": 100}
    assert record["load"] == {"kind": "open", "rate_per_s": 500.0, "arrival": "uniform",
                              "max_connections": 1024}  # fmt: skip
    assert record["load_label"] == "500/s"
    assert record["timeline"] == [[0, 498, 0, 1.0, 2.0]]
    assert record["schedule_lag_ms"]["p99"] == pytest.approx(0.002, rel=1e-3)
    assert LatencyHistogram.decode(record["histogram"]).count == 1000
    import json

    json.dumps(record)  # plain JSON types only


def test_error_class_names_have_one_source() -> None:
    import loadbench.types as base
    from loadbench.analysis import trialtable
    from loadbench.results import metrics
    from loadbench.results import records as results

    names = [cls.value for cls in base.ErrorClass]
    assert names == ["connect_refused", "connect_timeout", "timeout", "reset", "protocol", "check_failed"]
    assert metrics.ErrorClass is base.ErrorClass
    assert list(trialtable.ERROR_CLASSES) == names
    assert dict(results._NO_ERRORS) == dict.fromkeys(names, 0)
    assert all(type(key) is str for key in results._NO_ERRORS)  # plain strings in JSON and reprs
    assert not hasattr(base, "load_label")  # Load.label is the one spelling
