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
import itertools
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loadbench.analysis import format as fmt
from loadbench.safe.escape import chart_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from loadbench.analysis.summary import HeavyDetail, Summary, WorkloadSummary

# Okabe & Ito (2008), "Color Universal Design", reordered so the first colours contrast most on white.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
# Up to this many points a line also gets its model's markers, so a short trial's few points stay visible.
MARKERS_UP_TO = 20
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
    # Names come from users: "$x$" must stay text, never mathtext (which can also fail to parse and crash).
    "text.parse_math": False,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Chart:
    """One drawn chart: an id for the page, its title, an alt text (title and how to read it), a caption
    (how to read it, without the title the chart already shows) and the SVG markup (no XML prolog)."""

    chart_id: str
    title: str
    alt: str
    svg: str
    caption: str = ""


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
    import warnings

    buffer = io.StringIO()
    with warnings.catch_warnings():
        # A name in a script the font lacks (emoji, CJK) is drawn as a box; that is no reason to fail.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from (current )?font")
        _save(fig, buffer)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _save(fig: Figure, buffer: io.StringIO) -> None:
    # No date (determinism) and no RDF block: its http:// URIs would only look like fetches.
    fig.savefig(buffer, format="svg", metadata=dict.fromkeys(("Date", "Creator", "Format", "Type")))


def _chart(chart_id: str, title: str, caption: str, fig: Figure) -> Chart:
    return Chart(chart_id=chart_id, title=title, alt=f"{title}. {caption}", caption=caption, svg=_svg(fig))


def _finite(values: Sequence[float]) -> bool:
    return any(v is not None and math.isfinite(v) for v in values)


def _legend(ax: Axes, **kwargs: Any) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)


def _plain_numbers(ax: Axes, axis: str = "y") -> None:
    """Tick labels as 0.1, 1, 10, 500, 2.5k or 40k rather than 10^-1 or 4e4 (people read them faster);
    thousands always as k, so one axis never mixes 5,000 with 10k."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FuncFormatter(lambda value, _pos: fmt.axis_tick(value)))
    target.set_minor_formatter(NullFormatter())


def _log_ticks(ax: Axes) -> None:
    """On a log y axis spanning few decades, label 1-2-3-5 (under ~1.5) or 1-2-5 steps (under ~2.5) too,
    so the axis never shows a single label, or none."""
    from matplotlib.ticker import LogLocator

    low, high = ax.get_ylim()
    if low > 0 and high / low < 300:
        subs = (1.0, 2.0, 3.0, 5.0) if high / low < 30 else (1.0, 2.0, 5.0)
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))


def _marker(style: Style, points: int) -> str | None:
    return style.marker if points <= MARKERS_UP_TO else None


def _figure_legend(fig: Figure, ax: Axes) -> None:
    """A legend below the axes, in as many rows as it needs, with the bottom margin grown to match."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    # As many entries a row as fit the width: ~0.55 in of handle and padding plus ~0.065 in a character.
    columns = len(labels)
    while columns > 1 and sum(0.55 + 0.065 * len(t) for t in labels[:columns]) > fig.get_figwidth() - 0.4:
        columns -= 1
    rows = math.ceil(len(labels) / columns)
    fig.subplots_adjust(bottom=(0.55 + 0.22 * rows) / fig.get_figheight())
    fig.legend(handles, labels, loc="lower center", ncols=columns)


def throughput_chart(w: WorkloadSummary, styles: dict[str, Style], chart_id: str) -> Chart | None:
    """Median throughput against load, one line per model, with its confidence band."""
    title = f"Throughput vs load — {chart_label(w.workload)}"
    with _figure(chart_id) as (fig, (ax,)):
        for model in w.models:
            pts = [p for p in w.points if p.model == model and p.repetitions]
            if not pts or not _finite([p.rps.median for p in pts]):
                continue
            x = [p.load_value for p in pts]
            style = styles[model]
            ax.plot(x, [p.rps.median for p in pts], color=style.color, marker=style.marker,
                    label=chart_label(model))
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
        banded = any(p.rps.coverage > 0 for p in w.points)
        caption = ("Median over repetitions; shaded bands are the intervals of the table." if banded else
                   "One repetition per point, so there is no interval to shade.")
        return _chart(chart_id, title, caption, fig)


def _load_axis(ax: Axes, w: WorkloadSummary) -> None:
    values = sorted({p.load_value for p in w.points if p.load_value > 0})
    if len(values) > 1 and values[-1] / values[0] >= 8:
        ax.set_xscale("log", base=2)
    labels: dict[float, str] = {}  # the first label of each value: several labels can share one
    for p in sorted(w.points, key=lambda p: p.load_value):
        if p.load_value > 0:
            labels.setdefault(p.load_value, p.load_label)
    ax.set_xticks(values, [chart_label(labels[v]) for v in values])
    ax.minorticks_off()
    ax.set_xlabel(w.load_axis)


def latency_chart(w: WorkloadSummary, styles: dict[str, Style], chart_id: str) -> Chart | None:
    """Median p50 (solid) and p99 (dashed) latency against load, log scale."""
    title = f"Latency p50 and p99 vs load — {chart_label(w.workload)}"
    with _figure(chart_id, legend_below=True) as (fig, (ax,)):
        for model in w.models:
            pts = [p for p in w.points if p.model == model and p.repetitions]
            x = [p.load_value for p in pts]
            style = styles[model]
            if _finite([p.p50_ms.median for p in pts]):
                ax.plot(x, [p.p50_ms.median for p in pts], color=style.color, marker=style.marker,
                        label=chart_label(model))
            if _finite([p.p99_ms.median for p in pts]):
                ax.plot(x, [p.p99_ms.median for p in pts], color=style.color, marker=style.marker,
                        linestyle="--", fillstyle="none")
        if not ax.lines:
            return None
        _load_axis(ax, w)
        ax.set_yscale("log")
        _log_ticks(ax)
        _plain_numbers(ax)
        ax.set_ylabel("latency (ms, log scale)")
        ax.set_title(title)
        ax.plot([], [], color="#555555", label="p50 (solid)")
        ax.plot([], [], color="#555555", linestyle="--", label="p99 (dashed)")
        _figure_legend(fig, ax)
        caption = "Solid lines p50, dashed lines p99: medians over repetitions."
        return _chart(chart_id, title, caption, fig)


def spectrum_chart(w: WorkloadSummary, styles: dict[str, Style], chart_id: str) -> Chart | None:
    """The HDR-style latency percentile spectrum at the heaviest load point, x on log(1/(1-p))."""
    details = [d for d in w.details if d.spectrum_pct]
    if not details:
        return None
    title = f"Latency by percentile at {chart_label(details[0].load_label)} — {chart_label(w.workload)}"
    with _figure(chart_id, legend_below=True) as (fig, (ax,)):
        for d in details:
            x = [-math.log10(max(1.0 - p / 100.0, 1e-12)) for p in d.spectrum_pct]
            ax.plot(x, d.spectrum_ms, color=styles[d.model].color, label=chart_label(d.model),
                    drawstyle="steps-post")
        ax.set_xticks([t for t, _ in _SPECTRUM_TICKS], [label for _, label in _SPECTRUM_TICKS])
        ax.set_xlim(0, 4)
        ax.set_yscale("log")
        _log_ticks(ax)
        _plain_numbers(ax)
        ax.set_xlabel("percentile (log scale of 1/(1−p))")
        ax.set_ylabel("latency (ms, log scale)")
        ax.set_title(title)
        _figure_legend(fig, ax)
        caption = ("Every repetition's requests merged; a line stops at the highest percentile its request "
                   "count resolves.")
        return _chart(chart_id, title, caption, fig)


def timeline_note(w: WorkloadSummary) -> str | None:
    """Why the "over time" chart is left out (every model has fewer than two seconds), or None."""
    details = [d for d in w.details if d.timeline_s]
    if not details or any(len(d.timeline_s) >= 2 for d in details):
        return None
    window = max(d.window_s for d in details)
    return (
        f"No chart over time: the measured window lasted {window:.3g} s, so the per-second timeline holds a "
        "single point per model (the table already shows it). Trials of 5 s or more show how throughput "
        "and p99 move during the window."
    )


def _window_end(ax: Axes, window_s: float) -> None:
    """A dotted line where the measured window ends (the monitor runs on while responses drain)."""
    if window_s > 0:
        ax.axvline(window_s, color="#777777", linestyle=":", linewidth=1.0)


def timeline_chart(w: WorkloadSummary, styles: dict[str, Style], chart_id: str) -> Chart | None:
    """Requests per second and p99 latency, second by second, at the heaviest load point.

    Each second is drawn at its middle; with fewer than two seconds per model there is no line to draw,
    and timeline_note says so instead.
    """
    details = [d for d in w.details if d.timeline_s]
    if not details or timeline_note(w) is not None:
        return None
    title = f"Over time at {chart_label(details[0].load_label)} — {chart_label(w.workload)}"
    with _figure(chart_id, rows=2, height_in=4.4, legend_below=True) as (fig, (top, bottom)):
        for d in details:
            style, x = styles[d.model], [s + 0.5 for s in d.timeline_s]
            marker = _marker(style, len(x))
            name = chart_label(d.model)
            top.plot(x, d.timeline_rps, color=style.color, marker=marker, markersize=4, label=name)
            bottom.plot(x, d.timeline_p99_ms, color=style.color, marker=marker, markersize=4, label=name)
        window = max(max(d.window_s, d.timeline_s[-1] + 1) for d in details)
        top.set_xlim(0, window)
        top.set_ylabel("requests/s")
        top.set_ylim(bottom=0)
        _plain_numbers(top)
        top.set_title(title)
        _figure_legend(fig, top)
        bottom.set_ylim(bottom=0)
        bottom.set_ylabel("p99 latency (ms)")
        bottom.set_xlabel("time into the measured window (s)")
        caption = "Each point is one second of the median-throughput repetition, drawn at its middle."
        return _chart(chart_id, title, caption, fig)


# A live process's CPU time is read to the nanosecond, but children reaped meanwhile (CGI) arrive in clock
# ticks (10 ms): a CPU % over a sample much shorter than that (the last one, cut short when the trial
# stops) is mostly rounding, so it is not drawn.
_MIN_CPU_SAMPLE_S = 0.02


def _cpu_points(d: HeavyDetail) -> tuple[list[float], list[float]]:
    xs, ys, previous = [], [], 0.0
    for t, cpu in zip(d.monitor_s, d.monitor_cpu_pct, strict=True):
        if t - previous >= _MIN_CPU_SAMPLE_S:
            xs.append(t)
            ys.append(cpu)
        previous = t
    return xs, ys


def _sample_period_ms(details: list[HeavyDetail]) -> str:
    """The monitor's sampling period as the samples show it (shorter windows are sampled more often)."""
    gaps = sorted(b - a for d in details for a, b in itertools.pairwise(d.monitor_s))
    return f"{gaps[len(gaps) // 2] * 1000:.0f} ms" if gaps else "250 ms"


def resources_chart(w: WorkloadSummary, styles: dict[str, Style], chart_id: str) -> Chart | None:
    """Server CPU % and RSS over time at the heaviest load point, one line per model."""
    details = [d for d in w.details if d.monitor_s]
    if not details:
        return None
    title = f"Server CPU and memory at {chart_label(details[0].load_label)} — {chart_label(w.workload)}"
    with _figure(chart_id, rows=2, height_in=4.4, legend_below=True) as (fig, (top, bottom)):
        for d in details:
            style = styles[d.model]
            marker = _marker(style, len(d.monitor_s))
            cpu_s, cpu = _cpu_points(d)
            top.plot(cpu_s, cpu, color=style.color, marker=marker, markersize=4, label=chart_label(d.model))
            bottom.plot(d.monitor_s, d.monitor_rss_mb, color=style.color, marker=marker, markersize=4,
                        label=chart_label(d.model))
        window = max(d.window_s for d in details)
        for ax in (top, bottom):
            _window_end(ax, window)
        top.set_xlim(left=0)
        top.set_ylabel("server CPU (% of a core)")
        top.set_ylim(bottom=0)
        top.set_title(title)
        _figure_legend(fig, top)
        bottom.set_ylabel("server RSS (MB)")
        bottom.set_ylim(bottom=0)
        bottom.set_xlabel("time into the measured window (s)")
        every = _sample_period_ms(details)
        caption = (f"The server's processes sampled every {every} (100 % = one core; RSS summed over "
                   "processes). Right of the dotted line the window is over and responses drain.")
        return _chart(chart_id, title, caption, fig)


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
