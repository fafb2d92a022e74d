"""The paired comparison: order-statistic interval ranks, verdict logic, pairing, calibration."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from gate_fakes import FakeTrial
from hypothesis import given, settings
from hypothesis import strategies as st

from loadbench.analysis.stats import (
    MedianInterval,
    ci_coverage,
    median,
    median_ci_rank,
    median_interval,
    pairs_to_decide,
)
from loadbench.errors import ExitCode, UsageError
from loadbench.gate.compare import Verdict, decide, make_pairs
from loadbench.gate.paired import CROSS_RUN_WARNING, calibrate, compare_in_run, compare_runs
from loadbench.gate.status import GateStatus
from loadbench.results.records import TrialResult

# 95 % ranks k of [d_(k), d_(n+1-k)] for the median, as tabulated (e.g. Conover 1999, Table A3;
# Altman et al., Statistics with Confidence, Table 18.4).
KNOWN_RANKS_95 = {6: 1, 7: 1, 8: 1, 9: 2, 10: 2, 11: 2, 12: 3, 13: 3, 14: 3, 15: 4, 16: 4, 17: 5, 18: 5,
                  19: 5, 20: 6}  # fmt: skip


@pytest.mark.parametrize(("n", "k"), sorted(KNOWN_RANKS_95.items()))
def test_ci_rank_matches_the_table(n: int, k: int) -> None:
    assert median_ci_rank(n) == k
    assert ci_coverage(n, k) >= 0.95
    assert ci_coverage(n, k + 1) < 0.95  # k is the tightest rank that still covers 95 %


@pytest.mark.parametrize(("n", "coverage"), [(6, 0.9688), (9, 0.9609), (17, 0.9510), (20, 0.9586)])
def test_exact_coverage(n: int, coverage: float) -> None:
    assert ci_coverage(n, median_ci_rank(n) or 0) == pytest.approx(coverage, abs=1e-4)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5])
def test_no_95_interval_below_six(n: int) -> None:
    assert median_ci_rank(n) is None
    if n:
        interval = median_interval([0.1] * n)
        assert interval.low is None and interval.half_width is None


def test_median_interval_picks_the_order_statistics() -> None:
    values = [0.09, 0.01, 0.05, 0.03, 0.07, 0.02, 0.08, 0.04, 0.06]  # n = 9 → k = 2
    interval = median_interval(values)
    assert (interval.low, interval.median, interval.high) == (0.02, 0.05, 0.08)
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_pairs_to_decide_scales_with_the_square_of_spread_over_gap() -> None:
    interval = MedianInterval(n=8, median=0.03, low=0.0, high=0.06, rank=1, coverage=0.99)
    band = math.log1p(0.05)
    assert pairs_to_decide(interval, band) == math.ceil(8 * (0.03 / (band - 0.03)) ** 2)
    assert pairs_to_decide(replace(interval, median=band), band) is None  # on the edge: never decides


def _ratios(center: float, spread: float, n: int) -> list[float]:
    """n log ratios evenly spread over center ± spread."""
    return [center + spread * (2 * i / (n - 1) - 1) for i in range(n)]


@pytest.mark.parametrize(
    ("metric", "ratio", "spread", "verdict"),
    [
        pytest.param("rps", 0.85, 0.02, Verdict.REGRESSION, id="throughput-15pct-lower"),
        pytest.param("rps", 1.15, 0.02, Verdict.IMPROVEMENT, id="throughput-15pct-higher"),
        pytest.param("p99", 1.25, 0.03, Verdict.REGRESSION, id="p99-25pct-higher"),
        pytest.param("p50", 0.80, 0.03, Verdict.IMPROVEMENT, id="p50-20pct-lower"),
        pytest.param("rps", 0.98, 0.02, Verdict.NO_CHANGE, id="throughput-2pct-within-5pct"),
        pytest.param("p99", 1.05, 0.05, Verdict.NO_CHANGE, id="p99-5pct-within-15pct"),
        pytest.param("rps", 0.95, 0.04, Verdict.INCONCLUSIVE, id="straddles-the-edge"),
        pytest.param("rps", 1.00, 0.20, Verdict.INCONCLUSIVE, id="too-noisy"),
    ],
)
def test_verdicts(metric: str, ratio: float, spread: float, verdict: Verdict) -> None:
    tolerance = {"rps": 0.05, "p50": 0.10, "p99": 0.15}[metric]
    got, interval, more = decide(_ratios(math.log(ratio), spread, 10), metric=metric, tolerance=tolerance)
    assert got is verdict
    assert interval.n == 10
    assert (more is not None) == (verdict is Verdict.INCONCLUSIVE)


def test_too_few_pairs_is_an_invalid_measurement() -> None:
    verdict, _, _ = decide(_ratios(math.log(0.5), 0.01, 5), metric="rps", tolerance=0.05)
    assert verdict is Verdict.TOO_FEW
    assert verdict.status.exit_code() is ExitCode.INVALID_MEASUREMENT


def test_identical_measurements_are_no_change_at_any_count() -> None:
    verdict, interval, _ = decide([0.0, 0.0], metric="p99", tolerance=0.15)
    assert verdict is Verdict.NO_CHANGE
    assert (interval.low, interval.high) == (0.0, 0.0)


_SWAPPED = {
    Verdict.REGRESSION: Verdict.IMPROVEMENT,
    Verdict.IMPROVEMENT: Verdict.REGRESSION,
    Verdict.NO_CHANGE: Verdict.NO_CHANGE,
    Verdict.INCONCLUSIVE: Verdict.INCONCLUSIVE,
    Verdict.TOO_FEW: Verdict.TOO_FEW,
}


@settings(max_examples=300, deadline=None)
@given(
    ratios=st.lists(st.floats(min_value=-0.7, max_value=0.7, allow_nan=False), min_size=0, max_size=30),
    metric=st.sampled_from(["rps", "p50", "p99"]),
    tolerance=st.floats(min_value=0.0, max_value=0.3),
)
def test_swapping_baseline_and_candidate_inverts_the_verdict(
    ratios: list[float], metric: str, tolerance: float
) -> None:
    verdict, interval, more = decide(ratios, metric=metric, tolerance=tolerance)
    swapped, swapped_interval, swapped_more = decide([-r for r in ratios], metric=metric, tolerance=tolerance)
    assert swapped is _SWAPPED[verdict]
    assert swapped_more == more
    if interval.low is not None:
        assert swapped_interval.low == -(interval.high or 0.0)


# ---- pairing and whole comparisons on stand-in trials --------------------------------------------------


def _paired_run(
    factors: list[float], *, base_rps: float = 1000.0, model: str = "uvicorn"
) -> list[TrialResult]:
    """A paired run: round r has a baseline trial and a candidate trial `factors[r]` times as fast."""
    trials = []
    for r, factor in enumerate(factors, start=1):
        drift = 1 + 0.05 * math.sin(r)  # the machine drifts between rounds; pairs cancel it
        for pos, (variant, f) in enumerate((("baseline", 1.0), ("candidate", factor))):
            trials.append(FakeTrial(model=model, variant=variant, round=r, repetition=r, index=2 * r + pos,
                                    rps=base_rps * drift * f))
    return trials


def test_paired_run_finds_a_regression_despite_drift() -> None:
    comparison = compare_in_run(_paired_run([0.85] * 8), baseline=None, candidate=None)
    assert (comparison.baseline, comparison.candidate) == ("baseline", "candidate")
    (group,) = comparison.groups
    assert group.label == "uvicorn /json 64c"
    assert group.verdict is Verdict.REGRESSION
    assert group.change_pct() == pytest.approx(-15.0)
    assert comparison.status is GateStatus.FAIL


def test_comparing_a_variant_with_itself_is_no_change() -> None:
    comparison = compare_in_run(_paired_run([0.8] * 3), baseline="baseline", candidate="baseline")
    assert comparison.verdict is Verdict.NO_CHANGE


def test_saturated_pairs_are_left_out_and_too_few_remain() -> None:
    trials = _paired_run([0.85] * 7)
    trials[3] = replace(trials[3], saturated=True, saturation_reasons=("client CPU 97%",))
    trials[4] = replace(trials[4], status_ok=False)
    (group,) = compare_in_run(trials, baseline="baseline", candidate="candidate").groups
    assert group.n == 5
    assert group.verdict is Verdict.TOO_FEW
    assert group.excluded == (
        "round 2: candidate saturated (client CPU 97%)",
        "round 3: baseline server failed",
    )
    assert "only 5 usable pairs; a 95 % interval needs at least 6" in group.note


def test_overall_verdict_is_the_worst_group() -> None:
    trials = _paired_run([1.0] * 8, model="a") + _paired_run([0.8] * 8, model="b")
    comparison = compare_in_run(trials, baseline="baseline", candidate="candidate")
    assert [g.verdict for g in comparison.groups] == [Verdict.NO_CHANGE, Verdict.REGRESSION]
    assert comparison.verdict is Verdict.REGRESSION


def test_model_names_without_variants() -> None:
    trials = [
        FakeTrial(model=m, round=r, repetition=r, index=2 * r + i, rps=rps * (1 + 0.01 * r))
        for r in range(1, 7)
        for i, (m, rps) in enumerate((("waitress", 1000.0), ("uvicorn", 3000.0)))
    ]
    comparison = compare_in_run(trials, baseline="waitress", candidate="uvicorn")
    (group,) = comparison.groups
    assert group.label == "/json 64c"
    assert group.verdict is Verdict.IMPROVEMENT


@pytest.mark.parametrize(
    ("baseline", "candidate", "message"),
    [
        (None, None, "name both sides: --baseline NAME --candidate NAME, where NAME is a model in the "
                     "results (uvicorn)"),
        ("uvicorn", "nginx", "--candidate 'nginx' is not a model in the results; its models are uvicorn"),
    ],
)
def test_bad_names_are_usage_errors(baseline: str | None, candidate: str | None, message: str) -> None:
    with pytest.raises(UsageError) as info:
        compare_in_run([FakeTrial()], baseline=baseline, candidate=candidate)
    assert str(info.value) == message


def test_a_model_name_in_a_run_with_variants_is_explained() -> None:
    with pytest.raises(UsageError, match="this run has variants, so name a variant rather than the model"):
        compare_in_run(_paired_run([1.0] * 6), baseline="uvicorn", candidate="candidate")


def test_make_pairs_reports_trials_without_partner() -> None:
    trials = _paired_run([1.0] * 3)
    base = [t for t in trials if t.variant == "baseline"]
    cand = [t for t in trials if t.variant == "candidate"][:2]
    pairs, warnings = make_pairs(base, cand, group=lambda t: t.workload, match=lambda t: t.round)
    assert len(pairs["/json"]) == 2
    assert warnings == ["no partner for uvicorn/baseline /json 64c rep 3 round 3; left out"]


def test_cross_run_pairs_by_repetition_and_warns() -> None:
    base = [FakeTrial(repetition=r, round=r, index=r, rps=1000.0 + r) for r in range(1, 9)]
    cand = [replace(t, rps=t.rps * 0.8) for t in base]
    comparison = compare_runs(base, cand, base_name="a.jsonl", cand_name="b.jsonl")
    assert comparison.kind == "cross-run"
    assert comparison.warnings[0] == CROSS_RUN_WARNING
    assert comparison.verdict is Verdict.REGRESSION


def test_calibration_splits_the_baseline_and_warns_when_noisy() -> None:
    quiet = _paired_run([1.0] * 12)
    comparison = calibrate(quiet, baseline=None, tolerance=0.05)
    assert comparison.kind == "calibration"
    (group,) = comparison.groups
    assert group.n == 6  # 12 baseline rounds → 6 pairs of consecutive rounds
    noisy = [replace(t, rps=t.rps * (1.3 if t.round % 4 == 0 else 0.8)) for t in quiet]
    warnings = calibrate(noisy, baseline="baseline", tolerance=0.05).warnings
    assert any(w.startswith("noisy: uvicorn /json 64c varies by ±") for w in warnings)


def test_unknown_metric_and_bad_tolerance() -> None:
    with pytest.raises(UsageError, match="--metric 'p75' is not comparable"):
        compare_in_run(_paired_run([1.0] * 6), baseline=None, candidate=None, metric="p75")
    with pytest.raises(UsageError, match="--tolerance"):
        compare_in_run(_paired_run([1.0] * 6), baseline=None, candidate=None, tolerance=-0.1)
