"""An adaptive run end to end with real servers at a tiny budget: `loadbench run` keeps both servers up,
alternates their short trials round by round, and stops when the rule has decided the claim.

/io?ms=20 at 32 connections: uvicorn overlaps every wait (~1,500 req/s) while waitress with 2 threads
serves 2 at a time (~100 req/s), a gap far beyond any noise, so the claim must be decided at the rule's
minimum of 6 rounds, well inside the budget. Timing figures are not asserted; the decisions are.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from runner_support import watched_run
from schema_check import check_results_file

from loadbench.analysis.summary import summarize
from loadbench.report.markdown import render_markdown
from loadbench.results.file import read_results

pytestmark = pytest.mark.integration

ADAPTIVE = """\
name = "adaptive-smoke"
[[servers]]
model = "waitress"
threads = 2
[[servers]]
model = "uvicorn"
[[endpoints]]
path = "/io?ms=20"
[load]
connections = [32]
duration = "0.2s"
warmup = "0.05s"
timeout = "2s"
adaptive = true
budget = "40s"
max_rounds = 10
"""


def test_an_adaptive_run_stops_when_the_rule_decides_and_writes_its_claim(tmp_path: Path) -> None:
    scenario = tmp_path / "adaptive-smoke.toml"
    scenario.write_text(ADAPTIVE)
    with watched_run([str(scenario), "--no-report"], tmp_path / "run") as run:
        code = run.proc.wait(120)
    assert code == 0, run.output()
    check_results_file(run.results)
    results = read_results(run.results)
    (claim,) = results.claims
    assert (claim.state, claim.a, claim.b) == ("a wins", "uvicorn", "waitress"), claim
    assert claim.pairs == 6 and claim.rounds == 6  # stopped by the rule at its minimum, not by the budget
    assert claim.ratio_low is not None and claim.ratio_low > 1.0
    rounds = sorted((t.round, t.model) for t in results.trials)
    assert [r for r, _ in rounds] == [r for r in range(1, 7) for _ in range(2)]  # both models, each round
    assert all(t.status_ok for t in results.trials)
    started = sorted(p.name for p in (run.out_dir / "logs").iterdir())
    assert started == ["uvicorn", "waitress"]  # one server each, kept up across the rounds
    report = render_markdown(summarize(results))
    assert "uvicorn serves" in report and "the requests of waitress on /io?ms=20 at 32 connections" in report
    assert "Adaptive run: 1 of 1 claims decided at 95 %" in report and "proves little" not in report


PICKY = """\
name = "adaptive-picky"
[app]
module = "tests.apps.picky_wsgi:app"
cwd = "{repo}"
[[servers]]
model = "gunicorn"
[[servers]]
model = "waitress"
[[endpoints]]
path = "/plaintext"
[load]
connections = [2, 4]
duration = "0.2s"
warmup = "0.05s"
timeout = "2s"
adaptive = true
budget = "40s"
"""


def test_a_server_that_does_not_start_is_started_once_and_its_claims_close_undecided(tmp_path: Path) -> None:
    from runner_support import REPO

    scenario = tmp_path / "adaptive-picky.toml"
    scenario.write_text(PICKY.format(repo=REPO))
    with watched_run([str(scenario), "--no-report"], tmp_path / "run") as run:
        run.proc.wait(120)
    results = read_results(run.results)
    gunicorn = [t for t in results.trials if t.model == "gunicorn"]
    assert len(gunicorn) == 1 and not gunicorn[0].status_ok  # its first block failed; no retry after it
    assert {t.round for t in results.trials} == {1}  # the claims closed after round 1
    assert len(results.claims) == 2
    for claim in results.claims:
        assert claim.state == "undecided", claim
        assert "gunicorn was not measured at this point: its server did not start" in claim.why
        assert claim.run_id == results.header.run_id  # stamped like the trials
