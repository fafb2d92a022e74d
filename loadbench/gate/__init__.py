"""The CI gate: thresholds on results and paired baseline-vs-candidate comparisons, with verdicts and
exit codes.

    thresholds.py  parse `p99{workload=/json} < 20ms` (grammar in its docstring)
    check.py       evaluate thresholds on trials (median over repetitions per selection)
    stats.py       median and its order-statistic confidence interval (exact binomial)
    compare.py     pairs → log ratios → verdict (regression, improvement, no change, inconclusive)
    paired.py      build comparisons: within a paired run, across two runs, or a calibration
    status.py      GateStatus and its exit code
    render.py      terminal text, Markdown and JUnit suites for check reports and comparisons
"""

from __future__ import annotations

from loadbench.gate.check import CheckReport, ThresholdCase, check
from loadbench.gate.compare import DEFAULT_TOLERANCE, Comparison, GroupComparison, Verdict, decide
from loadbench.gate.paired import calibrate, compare_in_run, compare_runs
from loadbench.gate.status import GateStatus
from loadbench.scenario.thresholds import Threshold, parse_threshold, parse_thresholds

__all__ = [
    "DEFAULT_TOLERANCE",
    "CheckReport",
    "Comparison",
    "GateStatus",
    "GroupComparison",
    "Threshold",
    "ThresholdCase",
    "Verdict",
    "calibrate",
    "check",
    "compare_in_run",
    "compare_runs",
    "decide",
    "parse_threshold",
    "parse_thresholds",
]
