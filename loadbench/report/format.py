"""Format figures and flags for people: thousands separators, significant digits, intervals, "–"."""

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
    """A latency in ms with 3 significant digits: 0.412, 12.3, 1,234."""
    if not _ok(value):
        return MISSING
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def pct(value: Any, digits: int = 0) -> str:
    """A 0–1 fraction as a percentage: 0.0123 → 1.2 %; tiny non-zero values keep two significant digits."""
    if not _ok(value):
        return MISSING
    if value and abs(value) < 0.001:
        return f"{value * 100:.2g} %"
    return f"{value * 100:.{digits or 1}f} %"


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


def ratio(value: Any) -> str:
    return f"{value:.2g}×" if _ok(value) else MISSING


def flags(p: Point) -> list[str]:
    """The caveats of one point as short words, the same in every report: saturated ×N, busy ×N, failed ×N."""
    out = []
    for word, count in (("saturated", p.saturated), ("busy", p.busy), ("failed", p.failed)):
        if count:
            out.append(f"{word} ×{count}")
    return out
