"""loadbench.run(scenario, out=None, quick=False): run a scenario from Python, as `loadbench run` does.

Returns the Results read back from the results.jsonl the run wrote (header, trials, warnings and the
file's path); the HTML report is written beside it unless report=False.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadbench.results.records import Results


def run(
    scenario: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, quick: bool = False, *,
    strict: bool = False, report: bool = True, overrides: Mapping[str, str] | None = None,
) -> Results:  # fmt: skip
    """Run `scenario` (a TOML path or a shipped scenario's name) and return its Results.

    `out` is the run directory (default reports/<scenario>-<time>/; an existing results.jsonl there is
    refused, never overwritten). `quick` shortens every window (a smoke run). `strict` fails when a
    server model cannot run here instead of skipping it. `overrides` are `run --set` values
    ({"load.duration": "5s"}). Ctrl-C stops the run and keeps the trials measured so far; the
    KeyboardInterrupt is re-raised after the results are written.
    """
    from loadbench.plan import build_plan
    from loadbench.results.file import default_run_dir, read_results
    from loadbench.runner import run_plan
    from loadbench.scenario import apply_quick, find_scenario, load_scenario
    from loadbench.scenario.overrides import parse_overrides

    sets = parse_overrides([f"{k}={v}" for k, v in (overrides or {}).items()])
    loaded = load_scenario(find_scenario(scenario), overrides=sets)
    if quick:
        loaded = apply_quick(loaded)
    plan = build_plan(loaded)
    run_dir = Path(out) if out is not None else default_run_dir(loaded.name)
    outcome = run_plan(plan, run_dir=run_dir, strict=strict)
    if report and outcome.trials_written:
        from loadbench.report import write_report

        write_report(outcome.results_path)
    results = read_results(outcome.results_path)
    if outcome.interrupted:
        raise KeyboardInterrupt
    return results


__all__ = ["run"]
