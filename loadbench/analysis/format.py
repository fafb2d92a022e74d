"""Format figures for people, the same way in every report, verdict and gate table.

Thousands separators, three significant digits for small values, "–" for a missing figure. Numbers
arrive in the units shown (ms, req/s, a 0–1 fraction for pct); nothing here converts units. The one
other number format is the threshold grammar's own ("23.4ms", loadbench.scenario.thresholds.format_value),
which a user can paste back into a threshold.

    num(1234.5) "1,234"   num(12.34) "12.3"   num(12.34, 1) "12.3"     counts, rates, CPU %, MB
    ms(0.4123) "0.412"    ms(12.34) "12.3"    ms(1234.5) "1,234"       latencies
    pct(0.0123) "1.2 %"   short_pct(0.0009) "0.09%"                    fractions as percentages
    signed_pct(-3.21) "-3.2%"                                          changes already in percent
    times(1.04) "1.04×"   times(2.5) "2.5×"   times(18.2) "18×"         ratios in a sentence
    interval(est) "1,200–1,300"   with_interval(est) "1,250 (1,200–1,300)"
    axis_tick(2500) "2.5k"                                             chart tick labels
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loadbench.analysis.summary import Estimate, Point

MISSING = "–"


def _ok(value: Any) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def num(value: Any, digits: int = 0) -> str:
    """12,345 (or 12,345.6 with digits=1); small values keep 3 significant digits."""
    if not _ok(value):
        return MISSING
    if digits == 0 and abs(value) < 100 and value != int(value):
        return f"{value:.3g}"
    return f"{value:,.{digits}f}"


def ms(value: Any) -> str:
    """A latency in ms with 3 significant digits: 0.412, 12.3, 1,234 (whole ms from 100 up)."""
    if not _ok(value):
        return MISSING
    # From 100 up, 3 significant digits are the whole number; ",.0f" also keeps 999.7 from becoming 1e+03.
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def pct(value: Any, digits: int = 0) -> str:
    """A 0–1 fraction as a percentage: 0.0123 → 1.2 %; tiny non-zero values keep two significant digits."""
    if not _ok(value):
        return MISSING
    if value and abs(value) < 0.001:
        return f"{value * 100:.2g} %"
    return f"{value * 100:.{digits or 1}f} %"


def short_pct(value: float) -> str:
    """A 0–1 fraction as a narrow percentage for a table cell: 0.09%, 12%, 100% (1–2 significant digits)."""
    rate = value * 100
    return f"{rate:.1g}%" if rate < 1 else f"{rate:.2g}%" if rate < 99.5 else f"{rate:.0f}%"


def signed_pct(value: float) -> str:
    """A change already in percent, with its sign: +4.2%, -0.3%."""
    return f"{value:+.1f}%"


def times(value: float) -> str:
    """A ratio for a sentence: 1.04×, 2.5×, 18×; "?×" when it is not a number."""
    if not math.isfinite(value):
        return "?×"
    return f"{value:.2f}×" if value < 2 else f"{value:.1f}×" if value < 10 else f"{value:.0f}×"


def interval(est: Estimate, unit: str = "num") -> str:
    """"low–high" of an Estimate, or "" when it has no interval (fewer than 2 repetitions)."""
    if est.coverage <= 0 or not _ok(est.low):
        return ""
    fmt = ms if unit == "ms" else num
    return f"{fmt(est.low)}–{fmt(est.high)}"


def with_interval(est: Estimate, unit: str = "num") -> str:
    """"median (low–high)" of an Estimate; just the median when there is no interval."""
    fmt = ms if unit == "ms" else num
    span = interval(est, unit)
    return f"{fmt(est.median)} ({span})" if span else fmt(est.median)


def axis_tick(value: float) -> str:
    """A chart tick label: 0.1, 1, 10, 500, 2.5k, 40k rather than 10^-1 or 4e4; thousands always as k,
    so one axis never mixes 5,000 with 10k."""
    if value >= 1000:
        return f"{value / 1000:,.4g}k"
    return f"{value:,.0f}" if value >= 1 else f"{value:.3g}"


def flags(p: Point) -> list[str]:
    """The caveats of one point as short words, the same in every report: saturated ×N, busy ×N, failed ×N."""
    out = []
    for word, count in (("saturated", p.saturated), ("busy", p.busy), ("failed", p.failed)):
        if count:
            out.append(f"{word} ×{count}")
    return out
