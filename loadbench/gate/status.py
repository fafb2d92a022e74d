"""The gate's overall outcome and how it maps to a process exit code (see docs/ci.md)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from loadbench.errors import ExitCode


class GateStatus(Enum):
    """What a check or comparison concluded, worst last in `_SEVERITY`."""

    PASS = "pass"
    INCONCLUSIVE = "inconclusive"  # the data cannot decide; a warning unless --fail-on-inconclusive
    INVALID = "invalid"  # too few valid measurements (saturated, failed, too few pairs)
    FAIL = "fail"  # a threshold failed or a regression was found

    def exit_code(self, *, fail_on_inconclusive: bool = False) -> ExitCode:
        """Return the process exit code for this outcome."""
        if self is GateStatus.FAIL:
            return ExitCode.GATE_FAILED
        if self is GateStatus.INVALID:
            return ExitCode.INVALID_MEASUREMENT
        if self is GateStatus.INCONCLUSIVE and fail_on_inconclusive:
            return ExitCode.INCONCLUSIVE
        return ExitCode.OK


# A failure measured on valid data outranks invalid data elsewhere: it is real whatever else happened.
_SEVERITY = (GateStatus.PASS, GateStatus.INCONCLUSIVE, GateStatus.INVALID, GateStatus.FAIL)


def worst(statuses: Iterable[GateStatus]) -> GateStatus:
    """Return the most severe status (PASS for none)."""
    return max(statuses, key=_SEVERITY.index, default=GateStatus.PASS)
