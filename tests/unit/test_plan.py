"""Plan expansion: the run order interleaves repetitions, mixes are one workload, variants go ABBA."""

from __future__ import annotations

import pytest

from loadbench.plan import (
    SERVER_START_OVERHEAD_S,
    Plan,
    build_plan,
    describe_plan,
    estimate_seconds,
    variant_order,
)
from loadbench.scenario import Paired, Scenario, parse_scenario
from loadbench.types import Closed, Stages

SWEEP = """\
name = "sweep"

[[servers]]
model = "waitress"

[[servers]]
model = "gunicorn"
name = "gunicorn-2w"
workers = 2

[[servers]]
model = "uvicorn"

[[endpoints]]
path = "/plaintext"

[[endpoints]]
path = "/io?ms=20"

[load]
connections = [1, 64]
duration = "2s"
warmup = "0.5s"
repeat = 2
timeout = "3s"
"""

PAIRED = """\
name = "paired"

[[servers]]
model = "uvicorn"

[[endpoints]]
path = "/plaintext"

[[endpoints]]
path = "/json"

[load]
connections = [16]
duration = "1s"
warmup = "0s"

[[variants]]
name = "baseline"

[[variants]]
name = "candidate"
env = { LOADBENCH_APP_DELAY_US = "200" }

[paired]
rounds = 4
"""


def plan_of(text: str) -> Plan:
    return build_plan(parse_scenario(text, path="t.toml", cpus=(0, 1)))


def test_repetitions_are_interleaved() -> None:
    plan = plan_of(SWEEP)
    assert len(plan.trials) == 3 * 2 * 2 * 2
    # A B C A B C at the block level: every server once per repetition, never twice in a row.
    assert [(b.server.name, b.trials[0].repetition) for b in plan.blocks] == [
        ("waitress", 1), ("gunicorn-2w", 1), ("uvicorn", 1),
        ("waitress", 2), ("gunicorn-2w", 2), ("uvicorn", 2),
    ]
    assert [t.trial_id for t in plan.blocks[0].trials] == [
        "waitress|/plaintext|1c|1", "waitress|/plaintext|64c|1",
        "waitress|/io?ms=20|1c|1", "waitress|/io?ms=20|64c|1",
    ]
    assert plan.trials[-1].trial_id == "uvicorn|/io?ms=20|64c|2"


def test_trials_are_consistent_with_blocks() -> None:
    plan = plan_of(SWEEP)
    assert [t.index for t in plan.trials] == list(range(len(plan.trials)))
    assert tuple(t for b in plan.blocks for t in b.trials) == plan.trials
    for block in plan.blocks:
        assert all(t.block == block.index and t.server == block.server for t in block.trials)
        assert block.variant is None and block.app == plan.scenario.app
    assert len({t.trial_id for t in plan.trials}) == len(plan.trials)
    first = plan.trials[0]
    assert (first.duration_s, first.warmup_s, first.timeout_s) == (2.0, 0.5, 3.0)
    assert (first.repetition, first.round, first.variant) == (1, 1, None)
    assert first.load == Closed(connections=1)
    assert plan.trials[4].server.workers == 2


def test_mix_is_one_workload_in_the_plan() -> None:
    text = SWEEP.replace('[[endpoints]]\npath = "/io?ms=20"',
                         '[[mixes]]\nname = "api"\nendpoints = [{ path = "/json", weight = 3 }, '
                         '{ path = "/db?id=1" }]')
    plan = plan_of(text)
    workloads = [t.workload.name for t in plan.blocks[0].trials]
    assert workloads == ["/plaintext", "/plaintext", "api", "api"]
    mix = plan.blocks[0].trials[2].workload
    assert mix.kind == "mix" and [(r.path, r.weight) for r in mix.requests] == [("/json", 3.0),
                                                                               ("/db?id=1", 1.0)]
    assert plan.blocks[0].trials[2].trial_id == "waitress|api|1c|1"


@pytest.mark.parametrize(
    ("names", "paired", "expected"),
    [
        (("A", "B"), Paired(rounds=4, order="ABBA"), "AB BA AB BA"),
        (("A", "B"), Paired(rounds=3, order="ABAB"), "AB AB AB"),
        (("A", "B", "C"), Paired(rounds=2, order="ABBA"), "ABC CBA"),
        (("A", "B"), Paired(rounds=1, order="ABBA"), "AB"),
    ],
)
def test_variant_order(names: tuple[str, ...], paired: Paired, expected: str) -> None:
    order = variant_order(names, paired)
    rounds = " ".join("".join(n for r, n in order if r == k) for k in range(1, paired.rounds + 1))
    assert rounds == expected
    assert [r for r, _ in order] == sorted(r for r, _ in order)


def test_paired_plan_is_abba_per_workload_and_load_point() -> None:
    plan = plan_of(PAIRED)
    assert len(plan.trials) == 2 * 4 * 2
    first = plan.trials[:8]
    assert [(t.variant, t.round) for t in first] == [
        ("baseline", 1), ("candidate", 1), ("candidate", 2), ("baseline", 2),
        ("baseline", 3), ("candidate", 3), ("candidate", 4), ("baseline", 4),
    ]
    assert {t.workload.name for t in first} == {"/plaintext"}
    assert {t.workload.name for t in plan.trials[8:]} == {"/json"}
    assert first[1].trial_id == "uvicorn|candidate|/plaintext|16c|1"
    # Each trial gets a fresh server running its own variant's app.
    assert len(plan.blocks) == len(plan.trials)
    candidate = plan.blocks[1]
    assert candidate.variant == "candidate" and candidate.trials == (plan.trials[1],)
    assert candidate.app.env_dict == {"LOADBENCH_APP_DELAY_US": "200"}
    assert plan.blocks[0].app.env_dict == {}


def test_estimate_counts_windows_warmups_and_starts() -> None:
    plan = plan_of(SWEEP)
    assert estimate_seconds(plan) == pytest.approx(24 * 2.5 + 6 * SERVER_START_OVERHEAD_S)
    assert estimate_seconds(plan, start_overhead_s=0) == pytest.approx(60.0)


def test_stages_trial_duration_is_the_stages_total() -> None:
    plan = plan_of(SWEEP.replace("connections = [1, 64]", 'stages = ["2s:10/s", "3s:20/s"]')
                   .replace('duration = "2s"\n', ""))
    assert isinstance(plan.trials[0].load, Stages)
    assert {t.duration_s for t in plan.trials} == {5.0}
    assert plan.trials[0].trial_id == "waitress|/plaintext|2s:10/s,3s:20/s|1"


def test_describe_plan_lists_every_trial() -> None:
    plan = plan_of(SWEEP)
    lines = describe_plan(plan)
    assert lines[0] == "Scenario sweep: 24 trials in 6 server starts, about 69 s"
    assert "CPUs: server on CPU 0, client on CPU 1" in lines
    assert "Start 2: gunicorn-2w (gunicorn, workers=2)" in lines
    for trial in plan.trials:
        assert sum(trial.trial_id + " " in line for line in lines) == 1


def test_describe_plan_paired_and_pinning_note() -> None:
    scenario: Scenario = parse_scenario(PAIRED, path="t.toml", cpus=(0,))
    lines = describe_plan(build_plan(scenario))
    assert "Paired: 4 rounds in ABBA order" in lines
    variant_lines = [line for line in lines if line.startswith("Variant candidate:")]
    assert len(variant_lines) == 1 and "LOADBENCH_APP_DELAY_US=200" in variant_lines[0]
    assert any("share" in line for line in lines if line.startswith("CPUs:"))
    assert "Start 2: uvicorn [candidate]" in lines
