"""The CI gate: thresholds on results and paired baseline-vs-candidate comparisons, with verdicts and
exit codes.

    check.py       evaluate thresholds on TrialResults (median over repetitions per selection); the
                   grammar of `p99{workload=/json} < 20ms` is loadbench.scenario.thresholds (scenarios
                   validate it too), the statistics loadbench.analysis.stats (reports share them)
    trials.py      what the gate reads of a TrialResult: rounds, exclusions, a latency figure by name
    compare.py     pairs → log ratios → verdict (regression, improvement, no change, inconclusive)
    paired.py      build comparisons: within a paired run, across two runs, or a calibration
    status.py      GateStatus and its exit code
    render.py      terminal text, Markdown and JUnit suites for check reports and comparisons
    junit.py       JUnit XML serialization
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
