"""The claims of an adaptive run: per load point, "best vs runner-up in req/s", judged from the trials so far
by the stop rule (loadbench.analysis.adaptive), and each claim in words.

Pure functions over TrialResults and ClaimRecords. The runner calls `judge_point` after every round for the
load points still open and writes `claim_record` once a claim is final; reports print `claim_sentence`
and `claims_note` from the claim lines of the results file.

Who is "best" is the model with the highest median req/s at the point so far, the runner-up the next; the
claim is on their paired ratios (one pair a round: their two trials of the point, measured back to back).
A trial that failed or saturated the load generator gives no pair for its round: it measured something
else than the server.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from loadbench.analysis.adaptive import Claim, ClaimState, decide_claim
from loadbench.analysis.stats import median
from loadbench.results.claims import ClaimRecord

if TYPE_CHECKING:
    from loadbench.results.records import TrialResult

__all__ = ["PointJudgement", "claim_factor", "claim_record", "claim_sentence", "claims_note", "judge_point",
           "usable"]


def usable(trial: TrialResult) -> bool:
    """True when `trial` measured the server: it did not fail, did not saturate, and served requests."""
    return trial.status_ok and not trial.saturated and math.isfinite(trial.rps) and trial.rps > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class PointJudgement:
    """One load point's claim after the latest round, with what the claim record needs besides."""

    claim: Claim
    medians_rps: dict[str, float]
    rounds: int
    fewest_requests: int | None  # the fewest requests in one trial of the pairs (the count's resolution)


def judge_point(
    trials: Sequence[TrialResult], models: Sequence[str], *, band: float, elapsed_s: float, budget_s: float,
    round_s: float, max_rounds: int,
) -> PointJudgement:  # fmt: skip
    """Apply the stop rule to one load point's `trials` (every round so far, every model).

    `models` are the scenario's server names (the order breaks ties in the ranking). `round_s` is what one
    more round of the run costs, `max_rounds` the cap; a claim the rule cannot decide is CONTINUE while
    both leave room, else UNDECIDED with the reason. A winner is always `a` (B_WINS never comes back).
    """
    by_model: dict[str, dict[int, TrialResult]] = {name: {} for name in models}
    for trial in sorted(trials, key=lambda t: (t.round, t.attempt)):
        if trial.model in by_model:
            by_model[trial.model][trial.round] = trial  # the last attempt of a round counts
    rounds = max((t.round for t in trials), default=0)
    medians = {name: median([t.rps for t in got.values() if usable(t)])
               for name, got in by_model.items() if any(usable(t) for t in got.values())}  # fmt: skip
    ranked = sorted(medians, key=lambda name: (-medians[name], list(models).index(name)))
    ranked += [name for name in models if name not in ranked]
    a, b = ranked[0], ranked[1]
    pairs = [(by_model[a][r], by_model[b][r]) for r in sorted(set(by_model[a]) & set(by_model[b]))]
    pairs = [(x, y) for x, y in pairs if usable(x) and usable(y)]
    logs = [math.log(x.rps / y.rps) for x, y in pairs]
    cap = len(logs) + 1  # the rounds, not the pairs, are capped (below): a lost pair is no round saved
    claim = decide_claim(a, b, logs, band=band, elapsed_s=elapsed_s, budget_s=budget_s, round_s=round_s,
                         max_pairs=cap)  # fmt: skip
    if claim.state is ClaimState.B_WINS:  # the median of the ratios disagrees with the medians' ranking
        claim = decide_claim(b, a, [-d for d in logs], band=band, elapsed_s=elapsed_s, budget_s=budget_s,
                             round_s=round_s, max_pairs=cap)  # fmt: skip
    if claim.state is ClaimState.CONTINUE and rounds >= max_rounds:
        claim = replace(claim, state=ClaimState.UNDECIDED, why=f"max_rounds ({max_rounds}) did not decide it")
    fewest = min((min(x.requests, y.requests) for x, y in pairs), default=None)
    return PointJudgement(claim=claim, medians_rps=medians, rounds=rounds, fewest_requests=fewest)


def claim_record(judgement: PointJudgement, trial: TrialResult, *, elapsed_s: float,
                 confidence: float = 0.95) -> ClaimRecord:  # fmt: skip
    """The claim line of a final judgement; `trial` is any trial of the point (its workload and load)."""
    claim = judgement.claim
    state = {ClaimState.A_WINS: "a wins", ClaimState.TIE: "tie"}.get(claim.state, "undecided")
    why = claim.why
    edge = math.log1p(claim.band)
    fewest = judgement.fewest_requests
    if state == "undecided" and fewest and math.log1p(1 / fewest) > edge / 2:
        # One request more or less moves such a ratio by 1/fewest: the interval cannot fit in the band.
        why += (f"; a trial of {fewest} requests resolves the ratio only to ±{1 / fewest:.1%} against a tie "
                f"band of ±{claim.band:.0%}: lengthen duration or widen tie_band")
    bounds = claim.ratio_interval()
    ratio = claim.ratio()
    return ClaimRecord(
        workload=trial.workload, load=trial.load, load_label=trial.load_label, a=claim.a, b=claim.b,
        state=state, ratio=round(ratio, 4) if math.isfinite(ratio) else None,
        ratio_low=round(bounds[0], 4) if bounds else None, ratio_high=round(bounds[1], 4) if bounds else None,
        confidence=confidence, pairs=claim.interval.n, rounds=judgement.rounds, tie_band=claim.band, why=why,
        elapsed_s=round(elapsed_s, 2), medians_rps={k: round(v, 1) for k, v in judgement.medians_rps.items()},
    )  # fmt: skip


def _ratio(value: float) -> str:
    return f"{value:.2f}" if value < 2 else f"{value:.1f}" if value < 10 else f"{value:.0f}"


def _where(record: ClaimRecord) -> str:
    connections = record.load.get("connections")
    if record.load.get("kind") == "closed" and isinstance(connections, int):
        return f"on {record.workload} at {connections} connection{'s' if connections != 1 else ''}"
    return f"on {record.workload} at {record.load_label}"


def _level(record: ClaimRecord) -> str:
    return f"{record.confidence:.0%}".replace("%", " %")


def claim_factor(record: ClaimRecord) -> str:
    """The claim's ratio with its interval: "3.4× (3.1–3.8×, 95 %)"."""
    ratio = f"{_ratio(record.ratio)}×" if record.ratio is not None else "?×"
    if record.ratio_low is None or record.ratio_high is None:
        return f"{ratio} (no interval yet)"
    return f"{ratio} ({_ratio(record.ratio_low)}–{_ratio(record.ratio_high)}×, {_level(record)})"


def claim_sentence(record: ClaimRecord) -> str:
    """The claim in words, with its interval ("uvicorn serves 3.4× (3.1–3.8×, 95 %) the requests of
    waitress on /plaintext at 16 connections (8 pairs)"), a tie, or undecided with the interval so far."""
    have = record.ratio is not None
    shown = (f"{_ratio(record.ratio_low)}–{_ratio(record.ratio_high)}, {_level(record)}"
             if record.ratio_low is not None and record.ratio_high is not None else "no interval yet")
    pairs = f"{record.pairs} pair{'s' if record.pairs != 1 else ''}"
    if record.state == "a wins" and have:
        factor = claim_factor(record)
        return f"{record.a} serves {factor} the requests of {record.b} {_where(record)} ({pairs})."
    if record.state == "tie":
        return (f"{record.a} and {record.b} tie {_where(record)}: ratio {_ratio(record.ratio or 0.0)} "
                f"({shown}), within ±{record.tie_band:.0%} ({pairs}).")
    ratio = f"ratio {_ratio(record.ratio)} ({shown})" if record.ratio is not None else "no ratio"
    return (f"{_where(record)[0].upper()}{_where(record)[1:]}, {record.a} vs {record.b} is undecided after "
            f"{pairs}: {ratio}; {record.why}.")


def claims_note(claims: Sequence[ClaimRecord]) -> str:
    """The sentence that replaces "this run proves little" in an adaptive run: how many claims were
    decided at 95 %, and how many were left undecided."""
    if not claims:
        return "This adaptive run recorded no claims (it stopped before its first round ended)."
    wins = sum(c.state == "a wins" for c in claims)
    ties = sum(c.state == "tie" for c in claims)
    undecided = len(claims) - wins - ties
    level = _level(claims[0])
    rounds = max(c.rounds for c in claims)
    parts = [f"{wins} win{'s' if wins != 1 else ''}"]
    parts += [f"{ties} tie{'s' if ties != 1 else ''}"] if ties else []
    text = (f"Adaptive run: {wins + ties} of {len(claims)} claims decided at {level} ({', '.join(parts)}), "
            f"each load point repeated until its claim was decided ({rounds} rounds at most)")
    if undecided:
        text += (f"; {undecided} undecided, printed with the interval so far (a longer budget or a quieter "
                 "machine may decide them)")
    return text + "."
