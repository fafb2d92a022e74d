"""The claims of an adaptive run: per load point, "best vs runner-up in req/s", judged from the trials so far
by the stop rule (loadbench.analysis.adaptive), and each claim in words.

Pure functions over TrialResults and ClaimRecords. The runner calls `judge_point` after every round for the
load points still open and writes `claim_record` once a claim is final; reports print `claim_sentence`
and `claims_note` from the claim lines of the results file.

Who is "best" is the model with the highest median req/s at the point so far, the runner-up the next; the
claim is on their paired ratios (one pair a round: their two trials of the point, measured back to back).
A trial that failed, saturated the load generator, or answered 1 % of its requests or more with errors
gives no pair for its round: it measured something else than the server. A model with no usable trial at
a point leaves its claim undecided, saying which model and why.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from loadbench.analysis.adaptive import Claim, ClaimState, decide_claim
from loadbench.analysis.stats import median
from loadbench.results.claims import ClaimRecord

if TYPE_CHECKING:
    from loadbench.results.records import TrialResult

__all__ = ["MAX_ERROR_SHARE", "PointJudgement", "claim_factor", "claim_record", "claim_sentence",
           "claims_note", "error_share", "judge_point", "unusable_reason", "usable"]


#: A trial whose errors (transport errors, failed checks, non-2xx answers) reach this share of its requests
#: measured something else than serving: a server answering fast 503s must not win on req/s.
MAX_ERROR_SHARE = 0.01


def error_share(trial: TrialResult) -> float:
    """(transport errors + failed checks + non-2xx responses) / (responses + transport errors)."""
    errors = trial.error_count + max(trial.requests - trial.ok, 0)  # `errors` holds check_failed too
    attempts = trial.requests + trial.error_count
    return errors / attempts if attempts else 0.0


def unusable_reason(trial: TrialResult) -> str | None:
    """Why `trial` did not measure the server (None when it did): it failed, saturated the load generator,
    served no requests, or answered with errors in 1 % of its requests or more."""
    if not trial.status_ok:
        reason = (trial.failure or {}).get("reason") or "the server failed"
        return f"failed ({reason[:200]})"
    if trial.saturated:
        return "the load generator saturated"
    if not (math.isfinite(trial.rps) and trial.rps > 0):
        return "no requests were served"
    if (share := error_share(trial)) >= MAX_ERROR_SHARE:
        return f"errors in {share:.1%} of requests (at most {MAX_ERROR_SHARE:.0%} counts)"
    return None


def usable(trial: TrialResult) -> bool:
    """True when `trial` measured the server (unusable_reason is None)."""
    return unusable_reason(trial) is None


@dataclass(frozen=True, slots=True, kw_only=True)
class PointJudgement:
    """One load point's claim after the latest round, with what the claim record needs besides."""

    claim: Claim
    medians_rps: dict[str, float]
    rounds: int
    fewest_requests: int | None  # the fewest requests in one trial of the pairs (the count's resolution)


def judge_point(
    trials: Sequence[TrialResult], models: Sequence[str], *, band: float, elapsed_s: float, budget_s: float,
    round_s: float, max_rounds: int, not_started: Mapping[str, str] | None = None,
) -> PointJudgement:  # fmt: skip
    """Apply the stop rule to one load point's `trials` (every round so far, every model).

    `models` are the scenario's server names (the order breaks ties in the ranking). `round_s` is what one
    more round of the run costs, `max_rounds` the cap (and the look schedule's); a claim the rule cannot
    decide is CONTINUE while both leave room, else UNDECIDED with the reason. A winner is always `a`
    (B_WINS never comes back). A model with no usable trial at the point makes the claim UNDECIDED, naming
    it and why (a best-of-the-rest claim would pass for the point's answer); after one round it may still
    be measured in the next, unless `not_started` (server name -> start error) says its server cannot start.
    """
    by_model: dict[str, dict[int, TrialResult]] = {name: {} for name in models}
    for trial in sorted(trials, key=lambda t: (t.round, t.attempt)):
        if trial.model in by_model:
            by_model[trial.model][trial.round] = trial  # the last attempt of a round counts
    rounds = max((t.round for t in trials), default=0)
    measured = {name: {r: t for r, t in got.items() if usable(t)} for name, got in by_model.items()}
    medians = {name: median([t.rps for t in got.values()]) for name, got in measured.items() if got}
    ranked = sorted(medians, key=lambda name: (-medians[name], list(models).index(name)))
    ranked += [name for name in models if name not in ranked]
    a, b = ranked[0], ranked[1]
    pairs = [(measured[a][r], measured[b][r]) for r in sorted(set(measured[a]) & set(measured[b]))]
    logs = [math.log(x.rps / y.rps) for x, y in pairs]
    claim = decide_claim(a, b, logs, band=band, elapsed_s=elapsed_s, budget_s=budget_s, round_s=round_s,
                         max_rounds=max_rounds)  # fmt: skip
    if claim.state is ClaimState.B_WINS:  # the median of the ratios disagrees with the medians' ranking
        claim = decide_claim(b, a, [-d for d in logs], band=band, elapsed_s=elapsed_s, budget_s=budget_s,
                             round_s=round_s, max_rounds=max_rounds)  # fmt: skip
    if claim.state is ClaimState.CONTINUE and rounds >= max_rounds:
        claim = replace(claim, state=ClaimState.UNDECIDED, why=f"max_rounds ({max_rounds}) did not decide it")
    unmeasured = _unmeasured(by_model, measured, not_started or {})
    if unmeasured:
        why = "; ".join(f"{name} was not measured at this point: {reason}"
                        for name, reason in unmeasured.items())  # fmt: skip
        final = (claim.state.final or rounds >= 2 or any(name in (not_started or {}) for name in unmeasured))
        claim = replace(claim, state=ClaimState.UNDECIDED if final else ClaimState.CONTINUE, why=why)
    fewest = min((min(x.requests, y.requests) for x, y in pairs), default=None)
    return PointJudgement(claim=claim, medians_rps=medians, rounds=rounds, fewest_requests=fewest)


def _unmeasured(by_model: Mapping[str, Mapping[int, TrialResult]],
                measured: Mapping[str, Mapping[int, TrialResult]],
                not_started: Mapping[str, str]) -> dict[str, str]:  # fmt: skip
    """The models without a usable trial at the point, with why (their trials' reasons, or the start
    error: a server that did not start counts as unmeasured even after earlier usable trials)."""
    missing: dict[str, str] = {}
    for name, got in by_model.items():
        if name in not_started:  # measured before or not, it is measured no more
            missing[name] = f"its server did not start ({not_started[name][:200]})"
            continue
        if measured[name]:
            continue
        reasons = [reason for t in got.values() if (reason := unusable_reason(t)) is not None]
        if reasons:
            counts = Counter(reasons)
            missing[name] = "; ".join(f"{r} ({n} trial{'s' if n != 1 else ''})"
                                      for r, n in counts.most_common(2))  # fmt: skip
        else:
            missing[name] = "no trial ran"
    return missing


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


def _span(low: float, high: float) -> str:
    """An interval's bounds, "3.1–3.8", one more digit where the usual ones would print the same twice."""
    shown = (_ratio(low), _ratio(high))
    if shown[0] == shown[1] and low != high:
        shown = (f"{low:.3g}" if low < 1 else f"{low:.4g}", f"{high:.3g}" if high < 1 else f"{high:.4g}")
    return f"{shown[0]}–{shown[1]}"


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
    return f"{ratio} ({_span(record.ratio_low, record.ratio_high)}×, {_level(record)})"


def claim_sentence(record: ClaimRecord) -> str:
    """The claim in words, with its interval ("uvicorn serves 3.4× (3.1–3.8×, 95 %) the requests of
    waitress on /plaintext at 16 connections (8 pairs)"), a tie, or undecided with the interval so far."""
    have = record.ratio is not None
    shown = (f"{_span(record.ratio_low, record.ratio_high)}, {_level(record)}"
             if record.ratio_low is not None and record.ratio_high is not None else "no interval yet")
    pairs = f"{record.pairs} pair{'s' if record.pairs != 1 else ''}"
    if record.state == "a wins" and have:
        factor = claim_factor(record)
        small = record.ratio_high is not None and record.ratio_high < 1 + record.tie_band
        margin = f", ahead, but by less than the ±{record.tie_band:.0%} tie band" if small else ""
        return f"{record.a} serves {factor} the requests of {record.b} {_where(record)} ({pairs}{margin})."
    if record.state == "tie":
        return (f"{record.a} and {record.b} tie {_where(record)}: ratio {_ratio(record.ratio or 0.0)} "
                f"({shown}), within ±{record.tie_band:.0%} ({pairs}).")
    ratio = f"ratio {_ratio(record.ratio)} ({shown})" if record.ratio is not None else "no ratio"
    return (f"{_where(record)[0].upper()}{_where(record)[1:]}, {record.a} vs {record.b} is undecided after "
            f"{pairs}: {ratio}; {record.why}.")


def claims_note(claims: Sequence[ClaimRecord], points: int) -> str:
    """The sentence that replaces "this run proves little" in an adaptive run: how many of its `points`
    (the load points its trials measured) have a claim decided at 95 %, and how many were not."""
    points = max(points, len(claims))
    wins = sum(c.state == "a wins" for c in claims)
    ties = sum(c.state == "tie" for c in claims)
    undecided = len(claims) - wins - ties
    unjudged = points - len(claims)
    level = _level(claims[0])
    rounds = max(c.rounds for c in claims)
    parts = [f"{wins} win{'s' if wins != 1 else ''}"]
    parts += [f"{ties} tie{'s' if ties != 1 else ''}"] if ties else []
    text = (f"Adaptive run: {wins + ties} of {points} claims decided at {level} ({', '.join(parts)}), "
            f"each load point repeated until its claim was decided ({rounds} rounds at most)")
    if undecided:
        text += (f"; {undecided} undecided, printed with the interval so far (a longer budget or a quieter "
                 "machine may decide them)")
    if unjudged:
        text += (f"; {unjudged} load point{'s' if unjudged != 1 else ''} measured but never judged (the run "
                 "stopped first): no claim there")
    return text + "."
