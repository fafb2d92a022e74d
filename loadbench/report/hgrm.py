"""The `hgrm` format: each trial's latency as HdrHistogram's percentile distribution, as wrk2 prints it.

One block per trial (the trial named in a `#` comment line above it), in wrk2's layout
(HdrHistogram's outputPercentileDistribution, values in milliseconds, 5 ticks per half distance):

           Value     Percentile TotalCount 1/(1-Percentile)

           0.921 0.000000000000          1           1.00
    ...
    #[Mean    =        1.234, StdDeviation   =        0.567]
    #[Max     =        9.876, Total count    =        12345]
    #[Buckets =           27, SubBuckets     =         2048]

Blocks are separated by a blank line; HdrHistogram's plotter and wrk2 users' scripts read one block each.
Percentile levels follow HdrHistogram's iteration: from 0, each step halves the remaining distance to
100 % in 2 × ticks steps, until the level the sample count can resolve, then 100 %. Values are taken from
the trial's stored histogram (the record's `histogram`), so they match every other percentile loadbench
reports; trials without one are listed in a comment.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadbench.analysis.summary import Summary
    from loadbench.report.registry import Renderer
    from loadbench.results.metrics import LatencyHistogram

TICKS_PER_HALF_DISTANCE = 5
#: The Buckets/SubBuckets line: loadbench's histogram (results.metrics) is log-linear with 2048 sub-buckets.
SUB_BUCKETS = 2048


def percentile_levels(count: int, ticks: int = TICKS_PER_HALF_DISTANCE) -> list[float]:
    """HdrHistogram's percentile iteration (0..100) for `count` values, ending with 100."""
    levels: list[float] = []
    level = 0.0
    while level < 100.0:
        levels.append(level)
        if (100.0 - level) * count / 100.0 < 1.0:  # finer levels than one value apart say nothing
            break
        halvings = int(math.log2(100.0 / (100.0 - level))) + 1
        level += 100.0 / (ticks * 2**halvings)
    levels.append(100.0)
    return levels


def hgrm_block(histogram: LatencyHistogram) -> str:
    """One trial's distribution in wrk2's layout (module docstring); values in ms."""
    lines = [f"{'Value':>12} {'Percentile':>14} {'TotalCount':>10} {'1/(1-Percentile)':>14}", ""]
    for level in percentile_levels(histogram.count):
        value_ms = histogram.percentile(level) / 1e6
        total = histogram.count_at_percentile(level)
        fraction = level / 100.0
        if fraction < 1.0:
            lines.append(f"{value_ms:12.3f} {fraction:2.12f} {total:10d} {1.0 / (1.0 - fraction):14.2f}")
        else:
            lines.append(f"{value_ms:12.3f} {fraction:2.12f} {total:10d}")
    buckets = max(1, math.ceil(math.log2(max(histogram.max_ns, 1) / SUB_BUCKETS)) + 1)
    mean_ms, stdev_ms = histogram.mean_ns / 1e6, histogram.stdev_ns() / 1e6
    lines.append(f"#[Mean    = {mean_ms:12.3f}, StdDeviation   = {stdev_ms:12.3f}]")
    lines.append(f"#[Max     = {histogram.max_ns / 1e6:12.3f}, Total count    = {histogram.count:12d}]")
    lines.append(f"#[Buckets = {buckets:12d}, SubBuckets     = {SUB_BUCKETS:12d}]")
    return "\n".join(lines) + "\n"


def render_hgrm(summary: Summary) -> str:
    """Every trial with a histogram, one block each, in file order."""
    from loadbench.safe.escape import terminal

    blocks, missing = [], []
    for trial in summary.trials:
        histogram = trial.latency_histogram()
        label = terminal(trial.trial_id or f"{trial.model} {trial.workload} {trial.load_label}")
        if histogram is None or not histogram.count:
            missing.append(label)
            continue
        blocks.append(f"# trial {label}\n" + hgrm_block(histogram))
    if missing:
        blocks.append(f"# no latency histogram: {', '.join(missing)}\n")
    return "\n".join(blocks)


class HgrmRenderer:
    """The hgrm report format (report.registry.Renderer)."""

    name = "hgrm"
    suffix = ".hgrm"
    suffixes = (".hgrm",)

    def render(self, summary: Summary) -> str:
        return render_hgrm(summary)


HGRM: Renderer = HgrmRenderer()
