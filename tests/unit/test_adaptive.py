"""The stop rule of adaptive verdicts: its look schedule and alpha spending, decided, a tie, continue,
undecided; the false-win rate of the whole procedure on identical models, through the real judging code."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest

from loadbench.analysis.adaptive import ALPHA, ClaimState, decide_claim, look_alpha, look_schedule
from loadbench.analysis.claims import judge_point
from loadbench.analysis.stats import binomial_cdf_half, median_ci_rank
from loadbench.results.records import TrialResult


def _ratios(factor: float, noise: float, n: int, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [math.log(factor) + rng.gauss(0, noise) for _ in range(n)]


@pytest.mark.parametrize(
    ("name", "factor", "noise", "n", "elapsed", "state"),
    [
        ("a-wins-clearly", 3.4, 0.05, 6, 10.0, ClaimState.A_WINS),
        ("b-wins-clearly", 0.5, 0.05, 6, 10.0, ClaimState.B_WINS),
        ("too-few-pairs-continue", 3.4, 0.05, 5, 10.0, ClaimState.CONTINUE),
        ("between-looks-continue", 3.4, 0.05, 7, 10.0, ClaimState.CONTINUE),  # 7 pairs is no look
        ("tie-within-5pct", 1.0, 0.005, 10, 10.0, ClaimState.TIE),
        ("close-and-noisy-continue", 1.02, 0.08, 10, 10.0, ClaimState.CONTINUE),
        ("close-and-noisy-budget-over", 1.02, 0.08, 10, 58.0, ClaimState.UNDECIDED),
        ("too-few-at-the-budget", 3.4, 0.05, 3, 58.0, ClaimState.UNDECIDED),
    ],
)
def test_stop_rule(name: str, factor: float, noise: float, n: int, elapsed: float, state: ClaimState) -> None:
    claim = decide_claim("uvicorn", "waitress", _ratios(factor, noise, n), band=0.05, elapsed_s=elapsed,
                         budget_s=60.0, round_s=3.0)  # fmt: skip
    assert claim.state is state, claim.why
    assert claim.state.final == (state is not ClaimState.CONTINUE)


def test_the_looks_spend_at_most_five_percent_in_all() -> None:
    for max_rounds in (6, 8, 12, 20, 40, 45, 100, 200):
        looks = look_schedule(max_rounds)
        assert looks[0] == 6 and looks[-1] == max_rounds and list(looks) == sorted(set(looks))
        shares = [look_alpha(n, max_rounds) for n in looks]
        assert all(share is not None for share in shares)
        assert sum(share for share in shares if share is not None) <= ALPHA  # the union bound
        for n, share in zip(looks, shares, strict=True):  # each look's interval errs at most its share
            assert share is not None
            k = median_ci_rank(n, alpha=share)
            assert k is None or 2 * binomial_cdf_half(n, k - 1) <= share
    assert look_schedule(40) == (6, 10, 13, 16, 20, 25, 32, 40)
    assert look_alpha(6, 40) == Fraction(1, 32) and look_alpha(7, 40) is None
    assert look_alpha(10, 40) == (Fraction(1, 20) - Fraction(1, 32)) / 7


def _trial(model: str, round_number: int, rps: float, **changes: object) -> TrialResult:
    requests = max(1, round(rps * 0.3))
    data: dict[str, object] = {"model": model, "workload": "/w", "load": {"kind": "closed", "connections": 8},
                               "load_label": "8c", "round": round_number, "duration_s": 0.3,
                               "requests": requests, "ok": requests, "rps": rps}  # fmt: skip
    return TrialResult.from_json(data | changes)


def _simulate(true_rps: dict[str, float], noise: float, rng: random.Random, max_rounds: int = 40) -> str:
    """One adaptive point through judge_point, round after round: its final state and winner."""
    trials: list[TrialResult] = []
    models = list(true_rps)
    for round_number in range(1, max_rounds + 1):
        trials += [_trial(m, round_number, true_rps[m] * math.exp(rng.gauss(0, noise))) for m in models]
        judged = judge_point(trials, models, band=0.05, elapsed_s=0.0, budget_s=math.inf, round_s=0.0,
                             max_rounds=max_rounds).claim  # fmt: skip
        if judged.state.final:
            return f"{judged.state.value}:{judged.a}"
    raise AssertionError("max_rounds passed without a final claim")


def test_identical_models_rarely_win_over_forty_rounds() -> None:
    # Optional stopping: a 95 % interval checked after every round wins falsely ~15 % of the time in 40
    # rounds. The looks' alpha spending must keep the whole procedure at <= 5 % (the noise is wide
    # against the 5 % tie band, so ties are rare and the runs go to the last look).
    rng = random.Random(20261130)
    runs = 1500
    outcomes = [_simulate({"a": 1000.0, "b": 1000.0}, 0.2, rng) for _ in range(runs)]
    wins = sum(outcome.startswith("a wins") for outcome in outcomes)
    se = math.sqrt(0.05 * 0.95 / runs)  # the simulation's own error at 5 %
    assert wins / runs <= 0.05 + 2 * se, (wins, runs)
    assert wins > 0  # the rule still decides sometimes: the test can tell a broken simulation


def test_a_clear_gap_is_still_decided_at_six_pairs() -> None:
    rng = random.Random(3)
    trials = [_trial(m, r, rps * math.exp(rng.gauss(0, 0.05)))
              for r in range(1, 7) for m, rps in (("slow", 1000.0), ("fast", 3000.0))]  # fmt: skip
    judgement = judge_point(trials, ["slow", "fast"], band=0.05, elapsed_s=0.0, budget_s=60.0, round_s=1.0,
                            max_rounds=40)  # fmt: skip
    claim = judgement.claim
    assert (claim.state, claim.a, claim.b, claim.interval.n) == (ClaimState.A_WINS, "fast", "slow", 6)
    assert "6-pair look" in claim.why and 2.5 < claim.ratio() < 3.5


def test_max_rounds_through_judge_point_ends_an_endless_straddle() -> None:
    rng = random.Random(1)
    trials = [_trial(m, r, 1000.0 * math.exp(rng.gauss(0, 0.3))) for r in range(1, 13) for m in ("a", "b")]
    claim = judge_point(trials, ["a", "b"], band=0.01, elapsed_s=0.0, budget_s=600.0, round_s=1.0,
                        max_rounds=12).claim  # fmt: skip
    assert claim.state is ClaimState.UNDECIDED and "max_rounds (12)" in claim.why


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"saturated": True}, "gunicorn was not measured at this point: the load generator saturated"),
        ({"status_ok": False, "failure": {"reason": "exited with code 3"}},
         "gunicorn was not measured at this point: failed (exited with code 3)"),
        ({"status": {"503": 100}, "ok": 0}, "gunicorn was not measured at this point: errors in 100.0% of"),
        ({"errors": {"reset": 50}}, "gunicorn was not measured at this point: errors in 3."),
    ],
)
def test_a_model_without_a_usable_trial_leaves_the_claim_undecided(changes: dict[str, object],
                                                                     said: str) -> None:  # fmt: skip
    # Fast 503s (or a saturated generator, or a failed server) must not make gunicorn drop out or win.
    rps = {"waitress": 1000.0, "gunicorn": 5000.0, "uvicorn": 3000.0}
    trials = [_trial(m, r, rps[m] * (1 + 0.001 * r), **(changes if m == "gunicorn" else {}))
              for r in range(1, 7) for m in rps]  # fmt: skip
    claim = judge_point(trials, list(rps), band=0.05, elapsed_s=0.0, budget_s=60.0, round_s=1.0,
                        max_rounds=40).claim  # fmt: skip
    assert claim.state is ClaimState.UNDECIDED, claim
    assert said in claim.why and "(6 trials)" in claim.why
    # After one round only, the model may still be measured next round: not final yet.
    first = judge_point([t for t in trials if t.round == 1], list(rps), band=0.05, elapsed_s=0.0,
                        budget_s=60.0, round_s=1.0, max_rounds=40).claim  # fmt: skip
    assert first.state is ClaimState.CONTINUE


def test_a_server_that_did_not_start_closes_the_claim_at_once() -> None:
    trials = [_trial("a", 1, 1000.0), _trial("b", 1, 0.0, status_ok=False, failure={"reason": "no port"})]
    claim = judge_point(trials, ["a", "b"], band=0.05, elapsed_s=0.0, budget_s=60.0, round_s=1.0,
                        max_rounds=40, not_started={"b": "port 8000 in use"}).claim  # fmt: skip
    assert claim.state is ClaimState.UNDECIDED
    assert claim.why == "b was not measured at this point: its server did not start (port 8000 in use)"
