"""A paired gate end to end, at ci-smoke size: `loadbench run` of a scenario with variants, then compare.

The candidate is the bundled app made slower on purpose (LOADBENCH_APP_DELAY_US), far beyond any noise,
so the verdict must be a regression with exit code 10, and a JUnit file must say so. The run must start
one server per variant (kept up across the ABBA rounds), not one per trial.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from runner_support import watched_run

from loadbench.cli import main
from loadbench.results.file import read_results

pytestmark = pytest.mark.integration

PAIRED = """\
name = "paired-smoke"
[app]
env = { LOADBENCH_APP_DELAY_US = "0" }
[[servers]]
model = "uvicorn"
[[endpoints]]
path = "/plaintext"
[load]
connections = [4]
duration = "0.3s"
warmup = "0.1s"
timeout = "2s"
[[variants]]
name = "baseline"
[[variants]]
name = "candidate"
env = { LOADBENCH_APP_DELAY_US = "3000" }
[paired]
rounds = 6
order = "ABBA"
"""


def _main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    out, err = capsys.readouterr()
    return int(stopped.value.code or 0), out + err


def test_paired_run_then_compare_finds_the_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "paired-smoke.toml"
    scenario.write_text(PAIRED)
    with watched_run([str(scenario), "--no-report"], tmp_path / "run") as run:
        code = run.proc.wait(120)
    assert code == 0, run.output()
    trials = read_results(run.results).trials
    assert [(t.variant, t.round) for t in trials[:4]] == [
        ("baseline", 1), ("candidate", 1), ("candidate", 2), ("baseline", 2),
    ]
    assert len({t.round for t in trials}) == 6 and all(t.status_ok for t in trials)
    started = sorted(p.name for p in (run.out_dir / "logs").iterdir())
    assert started == ["uvicorn-baseline", "uvicorn-candidate"]  # one server per variant, not per trial

    junit = tmp_path / "junit.xml"
    code, output = _main(["compare", str(run.results), "--metric", "rps", "--junit", str(junit)], capsys)
    assert code == 10, output
    assert "REGRESSION" in output.upper()
    suite = ET.parse(junit).getroot()
    failures = suite.iter("failure")
    assert any("regression" in (f.get("message") or "").lower() for f in failures)

    code, output = _main(["compare", str(run.results), str(run.results)], capsys)
    assert code == 0, output  # a results file against itself is "no change"
