"""A trend as one self-contained HTML page: per series an inline SVG line chart with its steps marked.

The page loads nothing (no script, no remote resource; a Content Security Policy says so). Every string
from results files (model and workload names, paths, commits) goes through `escape` (control characters
made visible by loadbench.safe.escape.xml, then html.escape).
"""

from __future__ import annotations

import html
import itertools
from typing import TYPE_CHECKING

from loadbench.safe.escape import xml

if TYPE_CHECKING:
    from loadbench.gate.trend import Trend, TrendSeries

__all__ = ["render_trend_html"]


def escape(text: str) -> str:
    """`text` for HTML text or a quoted attribute: control characters shown (loadbench.safe.escape.xml),
    then &, <, >, " and ' as entities."""
    return html.escape(xml(text))

_W, _H, _PAD_L, _PAD_R, _PAD_T, _PAD_B = 720, 240, 70, 20, 16, 40
_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 2em}td,th{padding:2px 8px;border-bottom:1px solid #ddd}
td.n{text-align:right;font-variant-numeric:tabular-nums}.bad{color:#b00;font-weight:bold}.good{color:#070}
svg text{font:11px system-ui,sans-serif;fill:#444}
"""


def _chart(trend: Trend, series: TrendSeries) -> str:
    values = [p.value for p in series.points]
    known = [v for v in values if v is not None]
    if not known:
        return "<p>No figures.</p>"
    low, high = min(known), max(known)
    span = (high - low) or abs(high) or 1.0
    low, high = low - 0.1 * span, high + 0.1 * span
    n = len(values)

    def x(i: int) -> float:
        return _PAD_L + (i * (_W - _PAD_L - _PAD_R) / max(n - 1, 1))

    def y(v: float) -> float:
        return _PAD_T + (high - v) * (_H - _PAD_T - _PAD_B) / (high - low)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" role="img" '
             f'aria-label="{escape(trend.metric)} over {n} results">']  # fmt: skip
    axis = _H - _PAD_B
    parts.append(f'<line x1="{_PAD_L}" y1="{axis}" x2="{_W - _PAD_R}" y2="{axis}" stroke="#999"/>')
    for v in (low + 0.1 * span, high - 0.1 * span):
        label = escape(trend.format(v))
        parts.append(f'<text x="{_PAD_L - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{label}</text>')
    # the level of each segment between steps, as a dashed line at its median
    bounds = [0, *(s.index for s in series.steps), n]
    levels: list[float | None] = [series.steps[0].before] if series.steps else [None]
    levels += [s.after for s in series.steps]
    for (a, b), level in zip(itertools.pairwise(bounds), levels, strict=False):
        if level is not None:
            parts.append(f'<line x1="{x(a):.1f}" y1="{y(level):.1f}" x2="{x(b - 1):.1f}" y2="{y(level):.1f}" '
                         'stroke="#aaa" stroke-dasharray="4 3"/>')  # fmt: skip
    path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values) if v is not None)
    parts.append(f'<polyline points="{path}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
    for i, value in enumerate(values):
        if value is not None:
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="3" fill="#1f77b4"/>')
        parts.append(f'<text x="{x(i):.1f}" y="{_H - _PAD_B + 14}" text-anchor="middle">{i + 1}</text>')
    for step in series.steps:
        colour = "#b00" if trend.is_bad(step) else "#070"
        xs = (x(step.index - 1) + x(step.index)) / 2
        parts.append(f'<line x1="{xs:.1f}" y1="{_PAD_T}" x2="{xs:.1f}" y2="{axis}" stroke="{colour}"/>')
        parts.append(f'<text x="{xs + 4:.1f}" y="{_PAD_T + 10}" style="fill:{colour}">'
                     f'{step.change_pct:+.1f}%</text>')  # fmt: skip
    parts.append(f'<text x="{(_W + _PAD_L) / 2:.0f}" y="{_H - 6}" text-anchor="middle">results, oldest first'
                 "</text></svg>")  # fmt: skip
    return "".join(parts)


def _table(trend: Trend, series: TrendSeries) -> str:
    rows = ["<table><tr><th>#</th><th>created</th><th>commit</th><th>file</th>"
            f"<th>{escape(trend.metric)}</th><th>step</th></tr>"]  # fmt: skip
    for i, p in enumerate(series.points):
        step = series.step_at(i)
        mark = ""
        if step is not None:
            cls = "bad" if trend.is_bad(step) else "good"
            before, after = escape(trend.format(step.before)), escape(trend.format(step.after))
            mark = (f'<span class="{cls}">{step.change_pct:+.1f}% ({before} → {after}, '
                    f"confidence {step.confidence:.1%})</span>")  # fmt: skip
        commit = escape((p.commit or "–")[:12])
        rows.append(
            f"<tr><td class=n>{i + 1}</td><td>{escape(p.created)}</td><td><code>{commit}</code></td>"
            f"<td>{escape(p.path)}</td><td class=n>{escape(trend.format(p.value))}</td><td>{mark}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def render_trend_html(trend: Trend) -> str:
    """The whole page."""
    bad = trend.regressions
    verdict = (
        "<p class=bad>Regression: " + "; ".join(
            f"{escape(s.label)} {step.change_pct:+.1f}% at #{step.index + 1}" for s, step in bad) + "</p>"
        if bad else "<p class=good>No regression: no series' newest step goes the bad way.</p>"
    )  # fmt: skip
    body = [f"<h1>loadbench trend: {escape(trend.metric)}</h1>", verdict]
    for series in trend.series:
        body.append(f"<h2>{escape(series.label)}</h2>")
        body.append(_chart(trend, series))
        body.append(_table(trend, series))
    for warning in trend.warnings:
        body.append(f"<p><em>{escape(warning)}</em></p>")
    body.append(
        "<p><small>Steps: CUSUM of deviations from the mean with a 999-permutation test at 95 % confidence "
        "(W. A. Taylor, <i>Change-Point Analysis: A Powerful New Tool for Detecting Changes</i>, 2000), by "
        f"binary segmentation, at least 2 results on each side and a change of at least "
        f"{trend.min_change:.0%}. Dashed lines: each segment's median.</small></p>"
    )
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        "<meta http-equiv=\"Content-Security-Policy\" "
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>loadbench trend: {escape(trend.metric)}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(body) + "</body></html>\n"
    )
