"""The stop rule of adaptive verdicts on synthetic pairs: decided, a tie, continue, undecided."""

from __future__ import annotations

import math
import random

import pytest

from loadbench.analysis.adaptive import ClaimState, decide_claim


def _ratios(factor: float, noise: float, n: int, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [math.log(factor) + rng.gauss(0, noise) for _ in range(n)]


@pytest.mark.parametrize(
    ("name", "factor", "noise", "n", "elapsed", "state"),
    [
        ("a-wins-clearly", 3.4, 0.05, 6, 10.0, ClaimState.A_WINS),
        ("b-wins-clearly", 0.5, 0.05, 6, 10.0, ClaimState.B_WINS),
        ("too-few-pairs-continue", 3.4, 0.05, 5, 10.0, ClaimState.CONTINUE),
        ("tie-within-5pct", 1.0, 0.005, 8, 10.0, ClaimState.TIE),
        ("close-and-noisy-continue", 1.02, 0.08, 8, 10.0, ClaimState.CONTINUE),
        ("close-and-noisy-budget-over", 1.02, 0.08, 8, 58.0, ClaimState.UNDECIDED),
        ("too-few-at-the-budget", 3.4, 0.05, 3, 58.0, ClaimState.UNDECIDED),
    ],
)
def test_stop_rule(name: str, factor: float, noise: float, n: int, elapsed: float, state: ClaimState) -> None:
    claim = decide_claim("uvicorn", "waitress", _ratios(factor, noise, n), band=0.05, elapsed_s=elapsed,
                         budget_s=60.0, round_s=3.0)  # fmt: skip
    assert claim.state is state, claim.sentence
    assert claim.state.final == (state is not ClaimState.CONTINUE)


def test_the_pair_cap_ends_an_endless_straddle() -> None:
    claim = decide_claim("a", "b", _ratios(1.03, 0.2, 40), elapsed_s=0, budget_s=600, round_s=1, max_pairs=40)
    assert claim.state is ClaimState.UNDECIDED and "40 pairs" in claim.why


def test_sentences_carry_the_interval() -> None:
    won = decide_claim("uvicorn", "waitress", _ratios(3.4, 0.05, 6), elapsed_s=0, budget_s=60, round_s=3)
    assert won.sentence.startswith("uvicorn wins: 3.") and "95 % interval" in won.sentence
    assert "6 pairs" in won.sentence
    low, high = won.ratio_interval() or (0, 0)
    assert low <= won.ratio() <= high
    lost = decide_claim("gunicorn", "uvicorn", _ratios(0.4, 0.05, 7), elapsed_s=0, budget_s=60, round_s=3)
    assert lost.sentence.startswith("uvicorn wins: 2.")
    undecided = decide_claim("a", "b", _ratios(1.02, 0.08, 8), elapsed_s=59, budget_s=60, round_s=3)
    assert undecided.sentence.startswith("undecided: a/b") and "the time budget ended" in undecided.sentence


def test_a_real_gap_is_decided_before_the_budget_in_simulation() -> None:
    # A 1.3× gap under 10 % noise per pair: the rule stops once 6+ pairs exclude 1×, well before 40.
    rng = random.Random(7)
    ratios: list[float] = []
    elapsed = 0.0
    while True:
        ratios.append(math.log(1.3) + rng.gauss(0, 0.10))
        elapsed += 3.0
        claim = decide_claim("a", "b", ratios, elapsed_s=elapsed, budget_s=60.0, round_s=3.0)
        if claim.state.final:
            break
    assert claim.state is ClaimState.A_WINS and claim.interval.n <= 10
