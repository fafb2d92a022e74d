"""Say in words how far a run's figures can be trusted: too few repetitions, a machine that was not quiet.

Pure functions over plain numbers; analysis.py calls them and every renderer shows the same sentences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from loadbench.analysis.stats import ci_coverage

# MEASURING.md item 5: other processes using more than a tenth of a core make a figure suspect.
BUSY_OTHER_CPU_PCT = 10.0


def is_busy(other_cpu_pct: float | None) -> bool:
    """True when other processes used more than BUSY_OTHER_CPU_PCT % of a core (unknown counts as quiet)."""
    return other_cpu_pct is not None and math.isfinite(other_cpu_pct) and other_cpu_pct > BUSY_OTHER_CPU_PCT


def busy_note(busy_other_cpu_pcts: Sequence[float], measured: int) -> str:
    """The warning every report puts first, given the other processes' CPU % of each busy trial and how
    many trials were measured in all; "" when no trial was busy."""
    busy = len(busy_other_cpu_pcts)
    if not busy:
        return ""
    if busy != measured:
        during = f"{busy} of {measured} trials"
    else:
        during = "the only trial" if busy == 1 else f"all {busy} trials"
    return (
        f"Other processes used up to {max(busy_other_cpu_pcts):,.0f} % of a core during {during} (a quiet "
        f"machine stays under {BUSY_OTHER_CPU_PCT:.0f} %): figures from those trials are suspect; "
        "rerun on a quiet machine."
    )


def repetition_note(max_repetitions: int, confidence: float) -> str | None:
    """What the number of repetitions allows one to conclude, or None when it reaches `confidence`."""
    if max_repetitions <= 1:
        return (
            "Each point was measured once: with a single repetition there is no estimate of the noise, "
            "so this run proves little. Use at least 3 repetitions (6 for a 95 % interval) before "
            "drawing conclusions."
        )
    if max_repetitions < 6:
        return (
            f"With {max_repetitions} repetitions the intervals are min–max ranges covering the median with "
            f"{ci_coverage(max_repetitions, 1):.1%} probability, not {confidence:.0%}; 6 or more repetitions "
            f"give {confidence:.0%} intervals."
        )
    return None


def precision_note(precisions: Sequence[tuple[str, str]]) -> str | None:
    """A note on latencies an engine rounded before loadbench saw them, given (backend, its stated
    precision) of each trial (a Locust trial's `backend_extras.latency_precision`); None when none did."""
    stated = dict(precisions)
    if not stated:
        return None
    parts = "; ".join(f"{backend}: {precision}" for backend, precision in sorted(stated.items()))
    return f"Latency percentiles of these engines are no finer than their own rounding ({parts})."
