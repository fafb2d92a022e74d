"""The round loop of an adaptive run: repeat each load point until its claim is decided, within a budget.

Each round measures every load point still open once on every server (plan.adaptive_round: the points'
trials back to back, the servers in a rotated order, every server kept up by the pool for the whole
run). After the round, each open point's claim ("best vs runner-up in req/s") is judged by the stop rule
(analysis/claims.py, analysis/adaptive.py): a decided claim, or one the budget or max_rounds ends
undecided, is written as a claim line and its point is not measured again. The run ends when every claim
is final.

The budget counts from the start of the run, server starts included. Round 1 always starts; a later
round starts only if the one before suggests it fits, and no block starts once the budget has passed
(the round ends there). So a run overruns its budget by at most one trial (plus the server starts of
round 1 when they alone exceed it), never by a round.

A server that fails to start is not started again: its later blocks are skipped, and every claim it
takes part in is closed undecided with the start error. When the run is interrupted (Ctrl-C), the points
still open get an "undecided: the run was interrupted" claim line before the interrupt goes on, so the
report never counts an open point as decided.

The loop is given its parts (run one block, write a claim, the clock, the start failures the runner saw),
so a test can drive it with synthetic trial results and a fake clock, and the runner with real servers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from loadbench.analysis.adaptive import ClaimState
from loadbench.analysis.claims import PointJudgement, claim_record, judge_point
from loadbench.plan import adaptive_round, load_points

if TYPE_CHECKING:
    from loadbench.plan import Block
    from loadbench.results.claims import ClaimRecord
    from loadbench.results.records import TrialResult
    from loadbench.scenario import Scenario
    from loadbench.scenario.types import Adaptive, ServerEntry

__all__ = ["INTERRUPTED", "run_adaptive"]

_PointKey = tuple[str, str]  # (workload name, load label)
INTERRUPTED = "the run was interrupted before the claim was decided"


def run_adaptive(
    scenario: Scenario, servers: Sequence[ServerEntry], *, run_block: Callable[[Block], list[TrialResult]],
    write_claim: Callable[[ClaimRecord], None], clock: Callable[[], float], started_s: float,
    start_failures: Mapping[str, str] | None = None,
) -> list[ClaimRecord]:  # fmt: skip
    """Run rounds until every load point's claim is final (module docstring); returns the claims written.

    `servers` are the scenario's servers that can run here; with fewer than two there is nothing to
    compare, so one round runs and no claim is made. `started_s` is the clock's reading at the start of
    the run, from which the budget counts. `start_failures` (server name -> error) is filled by
    `run_block` when a server does not start; the loop reads it after every block.
    """
    adaptive = scenario.load.adaptive
    assert adaptive is not None, "run_adaptive needs a scenario with [load] adaptive = true"
    failed_starts: Mapping[str, str] = start_failures if start_failures is not None else {}
    names = [server.name for server in servers]
    open_points = load_points(scenario)
    trials: dict[_PointKey, list[TrialResult]] = {}
    claims: list[ClaimRecord] = []
    next_index = 0
    round_number = 0
    finished = False
    try:
        while open_points:
            round_number += 1
            blocks = adaptive_round(scenario, round_number, open_points, next_index, servers=servers)
            next_index += len(blocks)
            round_started = clock()
            ran = 0
            for block in blocks:
                if block.server.name in failed_starts:  # it did not start before: no retry, no trial
                    continue
                if clock() - started_s >= adaptive.budget_s:  # the budget has passed: end the round here
                    break
                ran += 1
                for result in run_block(block):
                    trials.setdefault((result.workload, result.load_label), []).append(result)
            if len(servers) < 2:
                break
            per_trial_s = (clock() - round_started) / max(ran, 1)
            elapsed = clock() - started_s
            judge = functools.partial(_judge, trials, names, adaptive, elapsed, dict(failed_starts))
            keys = [(workload.name, load.label) for workload, load in open_points]
            # First without the budget, to learn which points the next round still needs (what it costs).
            judged = {key: judge(key, math.inf, 0.0) for key in keys}
            going_on = [key for key in keys if not judged[key].claim.state.final]
            next_round_s = per_trial_s * len(going_on) * (len(servers) - len(failed_starts))
            judged |= {key: judge(key, adaptive.budget_s, next_round_s) for key in going_on}
            still_open = []
            for point, key in zip(open_points, keys, strict=True):
                judgement = judged[key]
                if not judgement.claim.state.final:
                    still_open.append(point)
                    continue
                if key not in trials:  # nothing was recorded for the point: no claim to state
                    continue
                record = claim_record(judgement, trials[key][0], elapsed_s=elapsed)
                write_claim(record)
                claims.append(record)
            open_points = still_open
        finished = True
    finally:
        if not finished and len(servers) >= 2:  # interrupted: the open points are undecided, and say so
            elapsed = clock() - started_s
            for workload, load in open_points:
                key = (workload.name, load.label)
                if key not in trials:
                    continue
                judgement = _judge(trials, names, adaptive, elapsed, dict(failed_starts), key, math.inf, 0.0)
                judgement = replace(judgement, claim=replace(judgement.claim, state=ClaimState.UNDECIDED,
                                                             why=INTERRUPTED))  # fmt: skip
                record = claim_record(judgement, trials[key][0], elapsed_s=elapsed)
                write_claim(record)
                claims.append(record)
    return claims


def _judge(trials: dict[_PointKey, list[TrialResult]], names: list[str], adaptive: Adaptive, elapsed_s: float,
           not_started: dict[str, str], key: _PointKey, budget_s: float,
           round_s: float) -> PointJudgement:  # fmt: skip
    return judge_point(trials.get(key, []), names, band=adaptive.tie_band, elapsed_s=elapsed_s,
                       budget_s=budget_s, round_s=round_s, max_rounds=adaptive.max_rounds,
                       not_started=not_started)  # fmt: skip
