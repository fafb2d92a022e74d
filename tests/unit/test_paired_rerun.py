"""A paired run reruns a saturated round once; compare then uses the round's last attempt."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from gate_fakes import FakeTrial

from loadbench.gate.compare import make_pairs
from loadbench.plan import build_plan
from loadbench.results.records import TrialResult
from loadbench.runner import _rounds
from loadbench.scenario import find_scenario, load_scenario


def test_rounds_group_each_variant_of_one_round_together() -> None:
    scenario = load_scenario(find_scenario("paired-example"))
    assert scenario.paired is not None
    plan = build_plan(scenario)
    groups = _rounds(list(plan.blocks), paired=True)
    assert len(groups) == scenario.paired.rounds == 20  # rounds of one server x one workload x load point
    for number, group in enumerate(groups, 1):
        assert sorted(block.variant or "" for block in group) == ["baseline", "candidate"]
        assert {block.trials[0].round for block in group} == {number}
    assert [block.variant for block in groups[1]] == ["candidate", "baseline"]  # ABBA reverses round 2


def test_rounds_without_variants_are_single_blocks() -> None:
    plan = build_plan(load_scenario(find_scenario("quickstart")))
    assert _rounds(list(plan.blocks), paired=False) == [[block] for block in plan.blocks]


def _key(trial: TrialResult) -> tuple[str, str, str]:
    return (trial.model, trial.workload, trial.load_label)


def _match(trial: TrialResult) -> int:
    return trial.round


def test_compare_uses_the_last_attempt_of_a_rerun_round() -> None:
    base = [FakeTrial(variant="baseline", round=r, index=2 * r, rps=1000.0) for r in (1, 2)]
    cand = [FakeTrial(variant="candidate", round=r, index=2 * r + 1, rps=900.0) for r in (1, 2)]
    saturated = replace(cand[1], saturated=True, rps=100.0)
    rerun_base = replace(base[1], index=10, rps=1010.0)
    rerun_cand = replace(cand[1], index=11, rps=910.0)
    pairs, warnings = make_pairs(
        [base[0], base[1], _attempt(rerun_base)], [cand[0], saturated, _attempt(rerun_cand)],
        group=_key, match=_match,
    )
    (only_group,) = pairs.values()
    assert [(b.rps, c.rps) for b, c in only_group] == [(1000.0, 900.0), (1010.0, 910.0)]
    assert any("measured again" in w for w in warnings)


def _attempt(trial: TrialResult) -> TrialResult:
    """The trial marked as the runner's second attempt of its round."""
    return replace(trial, attempt=2)


def test_latest_attempts_drops_the_saturated_first_measurement(tmp_path: Path) -> None:
    from synthetic import write_synthetic_results

    from loadbench.analysis.summary import summarize
    from loadbench.results.file import read_results
    from loadbench.results.records import latest_attempts

    path = write_synthetic_results(
        tmp_path / "r.jsonl", models=("uvicorn",), workloads=("/json",), loads=(8,), repetitions=2
    )
    lines = path.read_text().splitlines()
    rerun = json.loads(lines[-1]) | {"attempt": 2, "index": 99}
    first = json.loads(lines[-1]) | {"saturated": True, "saturation_reasons": ["engine CPU 95 %"]}
    path.write_text("\n".join([*lines[:-1], json.dumps(first), json.dumps(rerun)]) + "\n")
    results = read_results(path)
    kept = latest_attempts(results.trials)
    assert [t.attempt for t in kept] == [1, 2]
    assert not any(t.saturated for t in kept)
    (point,) = summarize(results).workloads[0].points
    assert point.repetitions == 2 and point.saturated == 0
