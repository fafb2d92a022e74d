"""Golden tests: the markdown, CSV, JSON and terminal renderings of a stored, seeded results file.

The input (input/results.jsonl) was written once by tests/synthetic.py (seed 11) and is kept as bytes, so
these tests change only when the rendering does. Three trials were then edited by hand to show a busy
machine (other_cpu_pct 23.4, 41.0 and 12.6: waitress 16c /plaintext rep 2, uvicorn 64c /io?ms=20 rep 3,
gunicorn 1c /plaintext rep 1), so the busy flags and note are covered too. The nine uvicorn /plaintext
trials later gained the timing breakdown (synthetic._breakdown's connect and TTFB figures; TLS at 64c only,
pipelining at 16c only; their error counts kept), so the breakdown table is covered. After an intended change,
rewrite the expected files with `pytest tests/golden --update-golden` and review their diff.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from rich.console import Console

from loadbench.analysis.summary import Summary, summarize
from loadbench.report import render_report
from loadbench.report.terminal import render_terminal_summary
from loadbench.results.file import read_results

HERE = Path(__file__).parent
INPUT = HERE / "input" / "results.jsonl"
EXPECTED = HERE / "expected"


def _make_input() -> None:
    from synthetic import write_synthetic_results

    write_synthetic_results(
        INPUT, seed=11, models=("waitress", "gunicorn", "uvicorn"), workloads=("/plaintext", "/io?ms=20"),
        loads=(1, 16, 64), repetitions=3, name="golden", thresholds=("p99 < 50ms",), failed=(7,),
        saturated_every=13, latency_samples=300,
    )


@pytest.fixture(scope="module")
def summary() -> Summary:
    if not INPUT.exists():  # first run only: the stored input is the fixed point of these tests
        _make_input()
    return summarize(read_results(INPUT))


def _terminal(summary: Summary, width: int = 140) -> str:
    console = Console(record=True, width=width, color_system=None, force_terminal=False)
    render_terminal_summary(summary, console)
    return console.export_text()


def _check(name: str, actual: str, update: bool) -> None:
    path = EXPECTED / name
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="")
        return
    if not path.exists():
        pytest.fail(f"{path} is missing; create it with: pytest tests/golden --update-golden")
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True), str(path), "rendered", n=1,
        ))  # fmt: skip
        pytest.fail(f"{name} differs from the golden file (update with --update-golden if intended):\n{diff}")


@pytest.mark.parametrize(
    ("fmt", "name"), [("md", "report.md"), ("csv", "trials.csv"), ("json", "summary.json")]
)
def test_rendering_matches_golden(summary: Summary, update_golden: bool, fmt: str, name: str) -> None:
    _check(name, render_report(summary, fmt), update_golden)


def test_terminal_matches_golden(summary: Summary, update_golden: bool) -> None:
    _check("terminal.txt", _terminal(summary), update_golden)


def test_terminal_at_80_columns_matches_golden(summary: Summary, update_golden: bool) -> None:
    _check("terminal-80.txt", _terminal(summary, width=80), update_golden)
