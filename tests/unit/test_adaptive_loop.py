"""The adaptive round loop (runner/adaptive.py) on synthetic trial results and a fake clock: claims decided
early stop their point, ties, undecided at the time budget or max_rounds, saturated trials give no pair,
and what a report then says. No server starts; the loop is driven exactly as the runner drives it."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from schema_check import check_results_file

from loadbench.analysis.claims import claim_sentence, claims_note
from loadbench.analysis.summary import summarize
from loadbench.errors import ResultsFormatError, ScenarioError
from loadbench.plan import Block, build_plan, server_order
from loadbench.results.claims import ClaimRecord
from loadbench.results.file import ResultsWriter, read_results
from loadbench.results.records import TrialResult, make_header
from loadbench.runner.adaptive import INTERRUPTED, run_adaptive
from loadbench.scenario import Scenario, apply_quick, parse_scenario

TRIAL_S = 0.5  # what one synthetic trial costs on the fake clock

SCENARIO = """\
name = "adaptive-synthetic"
[[servers]]
model = "waitress"
[[servers]]
model = "gunicorn"
[[servers]]
model = "uvicorn"
[[endpoints]]
path = "/plaintext"
[[endpoints]]
path = "/io?ms=20"
[load]
connections = [8, 64]
duration = "0.3s"
warmup = "0.1s"
adaptive = true
budget = "{budget}"
max_rounds = {max_rounds}
tie_band = "5%"
"""


def _scenario(budget: str = "60s", max_rounds: int = 40) -> Scenario:
    return parse_scenario(SCENARIO.format(budget=budget, max_rounds=max_rounds), path="adaptive.toml",
                          cpus=(0, 1))  # fmt: skip


@dataclass
class FakeRun:
    """Synthetic trials: rps = true rps × lognormal noise; each trial advances the clock by TRIAL_S."""

    true_rps: Mapping[tuple[str, str, str], float]  # (model, workload, load label) -> rps
    noise: float
    saturated: set[tuple[str, int]] = field(default_factory=set)  # (model, round) whose trials saturate
    now: float = 0.0
    run: list[tuple[str, str, str, int]] = field(default_factory=list)
    claims: list[ClaimRecord] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def clock(self) -> float:
        return self.now

    def run_block(self, block: Block) -> list[TrialResult]:
        (trial,) = block.trials
        key = (trial.server.name, trial.workload.name, trial.load.label)
        self.run.append((*key, trial.round))
        self.now += TRIAL_S
        rps = self.true_rps[key] * math.exp(self.rng.gauss(0.0, self.noise))
        return [TrialResult.from_json({
            "trial_id": trial.trial_id, "index": trial.index, "model": trial.server.name,
            "workload": trial.workload.name, "load": {"kind": "closed", "connections": 8},
            "load_label": trial.load.label, "repetition": trial.round, "round": trial.round,
            "duration_s": 0.3, "requests": max(1, round(rps * 0.3)), "ok": max(1, round(rps * 0.3)),
            "rps": rps,
            "saturated": (trial.server.name, trial.round) in self.saturated,
        })]  # fmt: skip

    def go(self, scenario: Scenario) -> list[ClaimRecord]:
        return run_adaptive(scenario, scenario.servers, run_block=self.run_block,
                            write_claim=self.claims.append, clock=self.clock, started_s=0.0)  # fmt: skip

    def rounds_of(self, workload: str, label: str) -> int:
        return max(r for _, w, lab, r in self.run if (w, lab) == (workload, label))


def _rps(**by_point: tuple[float, float, float]) -> dict[tuple[str, str, str], float]:
    """{"plaintext_8c": (waitress, gunicorn, uvicorn), ...} -> the FakeRun table."""
    table = {}
    for name, figures in by_point.items():
        workload, label = name.rsplit("_", 1)
        path = {"plaintext": "/plaintext", "io": "/io?ms=20"}[workload]
        for model, rps in zip(("waitress", "gunicorn", "uvicorn"), figures, strict=True):
            table[(model, path, label)] = rps
    return table


CLEAR = _rps(plaintext_8c=(2700, 1100, 9000), plaintext_64c=(4300, 1200, 9000),
             io_8c=(340, 165, 1000), io_64c=(370, 160, 2400))  # fmt: skip


def test_clear_gaps_are_decided_at_the_sixth_round_and_stop_there() -> None:
    fake = FakeRun(CLEAR, noise=0.03)
    claims = fake.go(_scenario())
    assert [(c.workload, c.load_label, c.state, c.a, c.b) for c in claims] == [
        ("/plaintext", "8c", "a wins", "uvicorn", "waitress"),
        ("/plaintext", "64c", "a wins", "uvicorn", "waitress"),
        ("/io?ms=20", "8c", "a wins", "uvicorn", "waitress"),
        ("/io?ms=20", "64c", "a wins", "uvicorn", "waitress"),
    ]
    assert all(c.pairs == 6 and c.rounds == 6 for c in claims)  # the rule's minimum, then no more rounds
    assert len(fake.run) == 6 * 4 * 3 and fake.claims == claims
    plain = next(c for c in claims if c.load_label == "8c")
    assert plain.ratio is not None and plain.ratio_low is not None and plain.ratio_high is not None
    assert plain.ratio_low < plain.ratio < plain.ratio_high and 3.0 < plain.ratio < 3.7
    assert plain.ratio_low > 1.0


def test_rounds_alternate_the_servers_and_keep_a_points_trials_together() -> None:
    fake = FakeRun(CLEAR, noise=0.03)
    fake.go(_scenario())
    first_round = [(m, w, lab) for m, w, lab, r in fake.run if r == 1]
    assert first_round[:3] == [("waitress", "/plaintext", "8c"), ("gunicorn", "/plaintext", "8c"),
                               ("uvicorn", "/plaintext", "8c")]  # fmt: skip
    orders = {tuple(m for m, w, lab, r in fake.run if r == n and (w, lab) == ("/plaintext", "8c"))
              for n in range(1, 7)}  # fmt: skip
    assert len(orders) == 6  # three servers: every order once in six rounds
    servers = _scenario().servers
    assert [s.name for s in server_order(servers[:2], 1)] == ["waitress", "gunicorn"]
    assert [s.name for s in server_order(servers[:2], 2)] == ["gunicorn", "waitress"]


def test_a_close_point_goes_on_alone_and_ends_undecided_at_the_budget() -> None:
    close = dict(CLEAR) | {("waitress", "/io?ms=20", "8c"): 980.0}  # 2 % behind uvicorn, 10 % noise
    fake = FakeRun(close, noise=0.10)
    claims = fake.go(_scenario(budget="60s"))
    by_point = {(c.workload, c.load_label): c for c in claims}
    undecided = by_point[("/io?ms=20", "8c")]
    assert undecided.state == "undecided" and "budget" in undecided.why
    assert undecided.ratio_low is not None and undecided.ratio_high is not None
    assert undecided.ratio_low < 1.0 < undecided.ratio_high
    assert fake.rounds_of("/plaintext", "8c") == 6  # decided points stopped being measured ...
    assert fake.rounds_of("/io?ms=20", "8c") == undecided.rounds > 6  # ... while the close one went on
    assert fake.now <= 60.0  # no round was started that would overrun the budget
    assert "undecided after" in claim_sentence(undecided) and "0." in claim_sentence(undecided)


def test_equal_models_are_decided_as_a_tie() -> None:
    tie = dict(CLEAR) | {("waitress", "/io?ms=20", "8c"): 1000.0}
    fake = FakeRun(tie, noise=0.004)
    claims = fake.go(_scenario())
    claim = next(c for c in claims if (c.workload, c.load_label) == ("/io?ms=20", "8c"))
    assert claim.state == "tie" and {claim.a, claim.b} == {"waitress", "uvicorn"}
    assert claim.ratio_low is not None and claim.ratio_high is not None
    assert 1 / 1.05 <= claim.ratio_low <= claim.ratio_high <= 1.05
    assert "tie on /io?ms=20 at 8 connections" in claim_sentence(claim) and "±5%" in claim_sentence(claim)


def test_max_rounds_ends_a_claim_undecided() -> None:
    close = dict(CLEAR) | {("waitress", "/plaintext", "64c"): 8900.0}
    fake = FakeRun(close, noise=0.10)
    claims = fake.go(_scenario(budget="1h", max_rounds=8))
    claim = next(c for c in claims if (c.workload, c.load_label) == ("/plaintext", "64c"))
    assert claim.state == "undecided" and "max_rounds" in claim.why and claim.rounds == 8
    assert max(r for *_, r in fake.run) == 8


def test_a_saturated_trial_gives_no_pair_for_its_round() -> None:
    fake = FakeRun(CLEAR, noise=0.03, saturated={("waitress", 2)})
    claims = fake.go(_scenario())
    assert all(c.state == "a wins" for c in claims)
    assert all(c.rounds == 7 and c.pairs == 6 for c in claims)  # round 2 did not count: one more round


def test_a_budget_too_small_for_six_rounds_leaves_every_claim_undecided() -> None:
    fake = FakeRun(CLEAR, noise=0.03)
    claims = fake.go(_scenario(budget="20s"))  # a round costs 6 s: three fit, six would be needed
    assert len(claims) == 4 and all(c.state == "undecided" for c in claims)
    assert all(c.rounds == 3 and "budget" in c.why for c in claims)
    assert claims_note(claims, 4).startswith("Adaptive run: 0 of 4 claims decided at 95 %")


def test_claims_round_trip_through_the_results_file_into_the_report(tmp_path: Path) -> None:
    close = dict(CLEAR) | {("waitress", "/io?ms=20", "8c"): 980.0}
    fake = FakeRun(close, noise=0.10)
    path = tmp_path / "results.jsonl"
    trials: list[TrialResult] = []
    recorder = fake.run_block

    def run_block(block: Block) -> list[TrialResult]:
        got = recorder(block)
        trials.extend(got)
        return got

    fake.run_block = run_block  # type: ignore[method-assign]
    claims = fake.go(_scenario())
    with ResultsWriter(path, make_header(scenario_name="adaptive-synthetic"), overwrite=True) as writer:
        for trial in trials:
            writer.append(trial)
        for claim in claims:
            writer.append_claim(claim)
    check_results_file(path)  # every claim line validates, strictly, against the shipped schema
    results = read_results(path)
    assert results.claims == tuple(claims)
    summary = summarize(results)
    decided = "Adaptive run: 3 of 4 claims decided at 95 % (3 wins)"
    assert any(note.startswith(decided) for note in summary.notes)
    assert not any("proves little" in note for note in summary.notes)
    plaintext = next(w for w in summary.workloads if w.workload == "/plaintext")
    assert plaintext.claims[0].startswith("uvicorn serves 3.")
    assert "95 %" in plaintext.claims[0] and "the requests of waitress on /plaintext at 8 connections" in \
        plaintext.claims[0]
    assert plaintext.verdict is not None and "where it serves" in plaintext.verdict.sentence
    # The worst model's factor comes from medians, not from the claim's interval: said so.
    assert "that of gunicorn () (medians; not tested at 95 %)" in plaintext.verdict.sentence
    counts = Counter((t.workload, t.load_label) for t in results.trials)
    assert counts[("/plaintext", "8c")] == 18 and counts[("/io?ms=20", "8c")] > 18


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ('repeat = 3', "[load] repeat: 3: an adaptive run repeats each load point until its claim is "
                       "decided; remove repeat"),
        ('max_rounds = 3', "[load] max_rounds: 3 is too few: no claim is decided before 6 rounds; use "
                           "max_rounds = 6 or more"),
        ('tie_band = "150%"', "[load] tie_band: '150%' must be a percentage between 0 and 100"),
        ('budget = "0s"', "[load] budget: '0s' must be longer than zero"),
        ('max_rounds = 500', "[load] max_rounds: 500 rounds is more than the limit of 200; use fewer"),
    ],
)
def test_bad_adaptive_settings_are_one_line_with_file_line_key_value_fix(extra: str, problem: str) -> None:
    text = SCENARIO.format(budget="60s", max_rounds=10).replace("max_rounds = 10\n", "")
    text = text.replace('tie_band = "5%"\n', "").replace('budget = "60s"\n', "") + extra + "\n"
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(text, path="adaptive.toml", cpus=(0, 1))
    message = str(raised.value)
    assert f"adaptive.toml:{text.count(chr(10))}: {problem}" in message, message


def test_adaptive_needs_two_servers_a_closed_loop_and_no_keys_without_it() -> None:
    one = SCENARIO.format(budget="60s", max_rounds=10).replace('[[servers]]\nmodel = "waitress"\n', "", 1)
    one = one.replace('[[servers]]\nmodel = "gunicorn"\n', "", 1)
    with pytest.raises(ScenarioError, match=r"adaptive: true needs at least 2 \[\[servers\]\] to compare"):
        parse_scenario(one, path="a.toml", cpus=(0, 1))
    base = SCENARIO.format(budget="60s", max_rounds=10)
    opened = base.replace("connections = [8, 64]", 'rates = ["100/s"]')
    with pytest.raises(ScenarioError, match=r"adaptive: true needs a closed loop"):
        parse_scenario(opened, path="a.toml", cpus=(0, 1))
    off = SCENARIO.format(budget="60s", max_rounds=10).replace("adaptive = true", "adaptive = false")
    with pytest.raises(ScenarioError, match=r"budget: '60s' applies only to adaptive runs; add adaptive"):
        parse_scenario(off, path="a.toml", cpus=(0, 1))


def test_the_plan_of_an_adaptive_run_is_its_first_round() -> None:
    plan = build_plan(_scenario())
    assert len(plan.trials) == 12 and {t.round for t in plan.trials} == {1}
    assert len(plan.blocks) == 12  # one block per trial: the pool keeps every server up between them


def test_quick_runs_an_adaptive_scenario_once_not_adaptively() -> None:
    quick = apply_quick(_scenario())
    assert quick.load.adaptive is None and quick.load.repeat == 1 and quick.quick


def test_an_interrupted_run_closes_its_open_points_as_undecided_and_the_note_says_so() -> None:
    close = dict(CLEAR) | {("waitress", "/io?ms=20", "8c"): 980.0}
    fake = FakeRun(close, noise=0.10)
    recorder = fake.run_block

    def run_block(block: Block) -> list[TrialResult]:
        if block.trials[0].round == 9:  # Ctrl-C while the close point still goes on
            raise KeyboardInterrupt
        return recorder(block)

    fake.run_block = run_block  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):  # the interrupt is not swallowed
        fake.go(_scenario(budget="1h"))
    by_point = {(c.workload, c.load_label): c for c in fake.claims}
    assert len(by_point) == 4  # every point measured has its line: the decided ones and the open one
    open_one = by_point[("/io?ms=20", "8c")]
    assert open_one.state == "undecided" and open_one.why == INTERRUPTED and open_one.rounds == 8
    note = claims_note(fake.claims, 4)
    assert note.startswith("Adaptive run: 3 of 4 claims decided at 95 %") and "1 undecided" in note
    assert "never judged" in claims_note(fake.claims[:3], 4)  # a killed run: the trials count the points


def test_a_server_that_does_not_start_is_not_started_again_and_closes_its_claims() -> None:
    fake = FakeRun(CLEAR, noise=0.03)
    failures: dict[str, str] = {}
    recorder = fake.run_block

    def run_block(block: Block) -> list[TrialResult]:
        if block.server.name != "gunicorn":
            return recorder(block)
        fake.run.append(("gunicorn", "", "", block.trials[0].round))
        failures["gunicorn"] = "gunicorn did not answer /health within 10 s"
        (trial,) = block.trials
        return [TrialResult.from_json({
            "model": "gunicorn", "workload": trial.workload.name,
            "load": {"kind": "closed", "connections": 8}, "load_label": trial.load.label,
            "round": trial.round, "duration_s": 0.0, "requests": 0, "rps": 0.0,
            "status_ok": False, "failure": {"reason": failures["gunicorn"]},
        })]  # fmt: skip

    fake.run_block = run_block  # type: ignore[method-assign]
    claims = run_adaptive(_scenario(), _scenario().servers, run_block=fake.run_block,
                          write_claim=fake.claims.append, clock=fake.clock, started_s=0.0,
                          start_failures=failures)  # fmt: skip
    assert sum(m == "gunicorn" for m, *_ in fake.run) == 1  # tried once, in the first block, never again
    assert max(r for *_, r in fake.run) == 1 and len(claims) == 4
    for claim in claims:
        assert claim.state == "undecided"
        said = "gunicorn was not measured at this point: its server did not start (gunicorn did not answer"
        assert said in claim.why


def test_no_block_starts_once_the_budget_has_passed() -> None:
    fake = FakeRun(CLEAR, noise=0.03)
    claims = fake.go(_scenario(budget="3s"))  # round 1 alone (12 trials of 0.5 s) would take 6 s
    assert len(fake.run) == 6 and fake.now == 3.0  # the round ended at the budget, not after it
    assert [(c.workload, c.load_label) for c in claims] == [("/plaintext", "8c"), ("/plaintext", "64c")]
    assert all(c.state == "undecided" and "budget" in c.why for c in claims)


def test_the_reader_refuses_a_claim_of_another_run(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    header = make_header(scenario_name="adaptive-synthetic", run_id="run-one")
    claim = ClaimRecord(workload="/plaintext", load={"kind": "closed", "connections": 8}, load_label="8c",
                        a="uvicorn", b="waitress", state="a wins", run_id="run-one")  # fmt: skip
    with ResultsWriter(path, header, overwrite=True) as writer:
        writer.append_claim(claim)
        writer.append_claim(replace(claim, load_label="64c", run_id="run-two"))
    with pytest.raises(ResultsFormatError, match=r"results.jsonl:3: claim /plaintext 64c is of another run "
                                                 r"\(run-two; the header's run of 'adaptive-synthetic'"):
        read_results(path)


def test_a_win_inside_the_tie_band_says_it_is_small() -> None:
    from loadbench.results.claims import ClaimRecord

    small = ClaimRecord(workload="/io?ms=20", load={"kind": "closed", "connections": 8}, load_label="8c",
                        a="uvicorn", b="waitress", state="a wins", ratio=1.03, ratio_low=1.004,
                        ratio_high=1.08, pairs=6, rounds=6, tie_band=0.10)  # fmt: skip
    clear = replace(small, ratio=3.0, ratio_low=2.6, ratio_high=3.4)
    assert "by less than the ±10% tie band" in claim_sentence(small)
    assert "tie band" not in claim_sentence(clear)


def test_a_narrow_interval_gets_the_digit_that_tells_its_bounds_apart() -> None:
    from loadbench.results.claims import ClaimRecord

    narrow = ClaimRecord(workload="/io?ms=20", load={"kind": "closed", "connections": 8}, load_label="8c",
                         a="uvicorn", b="waitress", state="a wins", ratio=1.07, ratio_low=1.066,
                         ratio_high=1.073, pairs=6, rounds=6, tie_band=0.10)  # fmt: skip
    assert "(1.066–1.073×, 95 %)" in claim_sentence(narrow)
