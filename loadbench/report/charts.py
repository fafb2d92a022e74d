"""Draw a Summary's charts as inline SVG text with matplotlib: the only module that imports matplotlib.

Figures are built with the object API (matplotlib.figure.Figure on the Agg/SVG canvases, no pyplot, no
GUI backend, no global state). Output is deterministic: a fixed `svg.hashsalt` per chart (unique, so ids
of several SVGs inlined in one page never collide) and no date in the metadata. Text stays text
(`svg.fonttype = none`), which matplotlib XML-escapes, so user-supplied names cannot inject markup.
Colours: the Okabe-Ito palette (safe for the common colour-vision deficiencies), with a marker per model
as well so no chart depends on colour alone.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from loadbench.analysis import Summary, WorkloadSummary

# Okabe & Ito (2008), "Color Universal Design", reordered so the first colours contrast most on white.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_SPECTRUM_TICKS = ((0.0, "0%"), (1.0, "90%"), (2.0, "99%"), (3.0, "99.9%"), (4.0, "99.99%"))
_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 9.0,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.grid": True,
    "grid.alpha": 0.35,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8.0,
    "legend.frameon": False,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Chart:
    """One drawn chart: an id for the page, its title, an alt text and the SVG markup (no XML prolog)."""

    chart_id: str
    title: str
    alt: str
    svg: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Style:
    color: str
    marker: str


def model_styles(summary: Summary) -> dict[str, Style]:
    """One colour and marker per model, the same in every chart, in order of first appearance."""
    names = dict.fromkeys(m for w in summary.workloads for m in w.models)
    return {
        name: Style(color=OKABE_ITO[i % len(OKABE_ITO)], marker=MARKERS[i % len(MARKERS)])
        for i, name in enumerate(names)
    }


@contextmanager
def _figure(
    chart_id: str, rows: int = 1, height_in: float = 3.4, legend_below: bool = False
) -> Iterator[tuple[Figure, list[Axes]]]:
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    # Fixed margins (in inches) rather than constrained layout: half the drawing time, same result for
    # these few known shapes.
    width_in = 6.4
    bottom_in = 0.55 + (0.3 if legend_below else 0.0)
    settings: Any = {**_RC, "svg.hashsalt": f"loadbench-{chart_id}"}
    with rc_context(settings):
        fig = Figure(figsize=(width_in, height_in))
        fig.subplots_adjust(
            left=0.75 / width_in, right=1 - 0.3 / width_in, top=1 - 0.35 / height_in,
            bottom=bottom_in / height_in, hspace=0.12,
        )
        axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0].tolist()
        yield fig, axes


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    # No date (determinism) and no RDF block: its http:// URIs would only look like fetches.
    fig.savefig(buffer, format="svg", metadata=dict.fromkeys(("Date", "Creator", "Format", "Type")))
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _finite(values: Sequence[float]) -> bool:
    return any(v is not None and math.isfinite(v) for v in values)


def _legend(ax: Axes, **kwargs: Any) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)


def _plain_numbers(ax: Axes, axis: str = "y") -> None:
    """Tick labels as 0.1, 1, 10, 2,000 or 40k rather than 10^-1 or 4e4 (people read them faster)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    def label(value: float, _pos: Any) -> str:
        if value >= 10_000:
            return f"{value / 1000:,.0f}k"
        return f"{value:,.0f}" if value >= 1 else f"{value:.3g}"

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FuncFormatter(label))
    target.set_minor_formatter(NullFormatter())


def _figure_legend(fig: Figure, ax: Axes) -> None:
    """A legend below the axes, in as many rows as it needs, with the bottom margin grown to match."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    columns = min(len(labels), 4)
    rows = math.ceil(len(labels) / columns)
    fig.subplots_adjust(bottom=(0.55 + 0.22 * rows) / fig.get_figheight())
    fig.legend(handles, labels, loc="lower center", ncols=columns)


def throughput_chart(w: WorkloadSummary, styles: dict[str, Style], chart_id: str) -> Chart | None:
    """Median throughput against load, one line per model, with its confidence band."""
    title = f"Throughput vs load — {w.workload}"
    with _figure(chart_id) as (fig, (ax,)):
        for model in w.models:
            pts = [p for p in w.points if p.model == model and p.repetitions]
            if not pts or not _finite([p.rps.median for p in pts]):
                continue
            x = [p.load_value for p in pts]
            style = styles[model]
            ax.plot(x, [p.rps.median for p in pts], color=style.color, marker=style.marker, label=model)
            if any(p.rps.coverage > 0 for p in pts):
                ax.fill_between(x, [p.rps.low for p in pts], [p.rps.high for p in pts], color=style.color,
                                alpha=0.18, linewidth=0)
        if not ax.lines:
            return None
        _load_axis(ax, w)
        ax.set_ylabel("throughput (requests/s)")
        ax.set_ylim(bottom=0)
        _plain_numbers(ax)
        ax.set_title(title)
        _legend(ax, loc="best")
        return Chart(chart_id=chart_id, title=title, alt=f"{title}; shaded bands are confidence intervals",
                     svg=_svg(fig))


def _load_axis(ax: Axes, w: WorkloadSummary) -> None:
    values = sorted({p.load_value for p in w.points if p.load_value > 0})
    if len(values) > 1 and values[-1] / values[0] >= 8:
        ax.set_xscale("log", base=2)
    ax.set_xticks(values, [p for p in dict.fromkeys(
        p.load_label for p in sorted(w.points, key=lambda p: p.load_value) if p.load_value > 0)])
    ax.minorticks_off()
    ax.set_xlabel(w.load_axis)


def latency_chart(w: WorkloadSummary, styles: dict[str, Style], chart_id: str) -> Chart | None:
    """Median p50 (solid) and p99 (dashed) latency against load, log scale."""
    title = f"Latency p50 and p99 vs load — {w.workload}"
    with _figure(chart_id, legend_below=True) as (fig, (ax,)):
        for model in w.models:
            pts = [p for p in w.points if p.model == model and p.repetitions]
            x = [p.load_value for p in pts]
            style = styles[model]
            if _finite([p.p50_ms.median for p in pts]):
                ax.plot(x, [p.p50_ms.median for p in pts], color=style.color, marker=style.marker,
                        label=model)
            if _finite([p.p99_ms.median for p in pts]):
                ax.plot(x, [p.p99_ms.median for p in pts], color=style.color, marker=style.marker,
                        linestyle="--", fillstyle="none")
        if not ax.lines:
            return None
        _load_axis(ax, w)
        ax.set_yscale("log")
        _plain_numbers(ax)
        ax.set_ylabel("latency (ms, log scale)")
        ax.set_title(title)
        ax.plot([], [], color="#555555", label="p50 (solid)")
        ax.plot([], [], color="#555555", linestyle="--", label="p99 (dashed)")
        _figure_legend(fig, ax)
        return Chart(chart_id=chart_id, title=title, alt=f"{title}; solid p50, dashed p99", svg=_svg(fig))


def spectrum_chart(w: WorkloadSummary, styles: dict[str, Style], chart_id: str) -> Chart | None:
    """The HDR-style latency percentile spectrum at the heaviest load point, x on log(1/(1-p))."""
    details = [d for d in w.details if d.spectrum_pct]
    if not details:
        return None
    title = f"Latency by percentile at {details[0].load_label} — {w.workload}"
    with _figure(chart_id) as (fig, (ax,)):
        for d in details:
            x = [-math.log10(max(1.0 - p / 100.0, 1e-12)) for p in d.spectrum_pct]
            ax.plot(x, d.spectrum_ms, color=styles[d.model].color, label=d.model, drawstyle="steps-post")
        ax.set_xticks([t for t, _ in _SPECTRUM_TICKS], [label for _, label in _SPECTRUM_TICKS])
        ax.set_xlim(0, 4)
        ax.set_yscale("log")
        _plain_numbers(ax)
        ax.set_xlabel("percentile (log scale of 1/(1−p))")
        ax.set_ylabel("latency (ms, log scale)")
        ax.set_title(title)
        _legend(ax, loc="upper left")
        return Chart(chart_id=chart_id, title=title, alt=f"{title}, all repetitions merged", svg=_svg(fig))


def timeline_chart(w: WorkloadSummary, styles: dict[str, Style], chart_id: str) -> Chart | None:
    """Requests per second and p99 latency, second by second, at the heaviest load point."""
    details = [d for d in w.details if d.timeline_s]
    if not details:
        return None
    title = f"Over time at {details[0].load_label} — {w.workload}"
    with _figure(chart_id, rows=2, height_in=4.4, legend_below=True) as (fig, (top, bottom)):
        for d in details:
            color = styles[d.model].color
            top.plot(d.timeline_s, d.timeline_rps, color=color, label=d.model)
            bottom.plot(d.timeline_s, d.timeline_p99_ms, color=color, label=d.model)
        top.set_ylabel("requests/s")
        top.set_ylim(bottom=0)
        _plain_numbers(top)
        top.set_title(title)
        _figure_legend(fig, top)
        bottom.set_ylim(bottom=0)
        bottom.set_ylabel("p99 latency (ms)")
        bottom.set_xlabel("time into the measured window (s)")
        return Chart(chart_id=chart_id, title=title, svg=_svg(fig),
                     alt=f"{title}: throughput and p99 latency per second (median repetition)")


def resources_chart(w: WorkloadSummary, styles: dict[str, Style], chart_id: str) -> Chart | None:
    """Server CPU % and RSS over time at the heaviest load point, one line per model."""
    details = [d for d in w.details if d.monitor_s]
    if not details:
        return None
    title = f"Server CPU and memory at {details[0].load_label} — {w.workload}"
    with _figure(chart_id, rows=2, height_in=4.4, legend_below=True) as (fig, (top, bottom)):
        for d in details:
            color = styles[d.model].color
            top.plot(d.monitor_s, d.monitor_cpu_pct, color=color, label=d.model)
            bottom.plot(d.monitor_s, d.monitor_rss_mb, color=color, label=d.model)
        top.set_ylabel("server CPU (%)")
        top.set_ylim(bottom=0)
        top.set_title(title)
        _figure_legend(fig, top)
        bottom.set_ylabel("server RSS (MB)")
        bottom.set_ylim(bottom=0)
        bottom.set_xlabel("time into the trial (s)")
        return Chart(chart_id=chart_id, title=title, svg=_svg(fig),
                     alt=f"{title}: CPU % (100 % = one core) and resident memory of the server's processes")


_CHARTS = (
    ("throughput", throughput_chart),
    ("latency", latency_chart),
    ("spectrum", spectrum_chart),
    ("timeline", timeline_chart),
    ("resources", resources_chart),
)


def workload_charts(summary: Summary) -> list[list[Chart]]:
    """Every chart of every workload, in the Summary's workload order."""
    styles = model_styles(summary)
    out: list[list[Chart]] = []
    for number, w in enumerate(summary.workloads, 1):
        charts = [draw(w, styles, f"w{number}-{name}") for name, draw in _CHARTS]
        out.append([c for c in charts if c is not None])
    return out
