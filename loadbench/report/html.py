"""Render a Summary as one self-contained HTML page: jinja2 templates, autoescaping on, charts inline.

The page fetches nothing: CSS sits in a <style> element, charts are inline SVG, and a Content Security
Policy forbids any script, frame or remote resource. Every string from a results file (scenario, model and
workload names, paths, logs) is escaped by jinja2's autoescape; the chart SVG is marked safe only because
matplotlib wrote it and escapes the text inside it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from loadbench.analysis import format as fmt
from loadbench.analysis.caveats import BUSY_OTHER_CPU_PCT

if TYPE_CHECKING:
    from jinja2 import Environment

    from loadbench.analysis.profiles import ProfileView
    from loadbench.analysis.summary import Summary
    from loadbench.report.registry import Renderer

RAW_TABLE_COLUMNS = (
    ("trial_id", "trial"), ("model", "model"), ("workload", "workload"), ("load_label", "load"),
    ("repetition", "rep"), ("status_ok", "ok"), ("requests", "requests"), ("rps", "req/s"),
    ("latency_p50_ms", "p50 ms"), ("latency_p99_ms", "p99 ms"), ("latency_max_ms", "max ms"),
    ("error_rate", "error rate"), ("server_cpu_pct", "server CPU %"),
    ("cpu_per_request_us", "CPU µs/req"), ("server_rss_mb", "RSS MB"),
    ("client_cpu_pct", "client CPU %"), ("other_cpu_pct", "other CPU %"), ("saturated", "saturated"),
)


def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("loadbench.report", "templates"),
        autoescape=True,  # every template here is HTML: never depend on the file extension
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=fmt.num, ms=fmt.ms, pct=fmt.pct, interval=fmt.interval, with_interval=fmt.with_interval,
        flags=fmt.flags, has_cost=_has_cost,
    )
    return env


def _has_cost(points: Any) -> bool:
    """Whether any point carries the server's CPU per request (files from before it existed do not)."""
    return any(math.isfinite(p.cpu_per_request_us.median) for p in points)


def _raw_cell(key: str, value: Any) -> tuple[str, bool]:
    """(text, is a number) of one raw-table cell."""
    if key == "error_rate":
        return fmt.pct(value), True
    if key.endswith("_ms"):
        return fmt.ms(value), True
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, int | float) and key != "repetition":
        return fmt.num(value, 1 if key.endswith(("_pct", "_mb")) else 0), True
    return (fmt.MISSING if value is None else str(value)), False


def _raw_rows(summary: Summary) -> list[list[tuple[str, bool]]]:
    table = summary.table
    if table.empty:
        return []
    records = table.to_dict("records")
    return [[_raw_cell(key, record.get(key)) for key, _ in RAW_TABLE_COLUMNS] for record in records]


def render_html(summary: Summary) -> str:
    """The whole report page as a string."""
    from markupsafe import Markup

    from loadbench.report.charts import model_styles, timeline_note, workload_charts

    charts = workload_charts(summary)
    # Markup: the SVG is matplotlib's output, whose text nodes it escaped itself (see charts.py); the
    # flame graphs are flamegraph.py's, which escapes every name it writes (xml_text).
    sections = [
        {"w": w, "charts": [{"chart": c, "svg": Markup(c.svg)} for c in wc],
         "notes": [n for n in (timeline_note(w),) if n],
         "intervals": any(p.rps.coverage > 0 or p.p99_ms.coverage > 0 for p in w.points),
         "profiles": [{"v": v, "svg": Markup(_flame(v))} for v in w.profiles]}
        for w, wc in zip(summary.workloads, charts, strict=True)
    ]
    error_points = [p for w in summary.workloads for p in w.points if p.error_total]
    error_classes = list(dict.fromkeys(name for p in error_points for name, n in p.errors if n))
    template = _environment().get_template("report.html.j2")
    return template.render(
        s=summary,
        sections=sections,
        styles=model_styles(summary),
        error_points=error_points,
        error_classes=error_classes,
        raw_columns=[label for _, label in RAW_TABLE_COLUMNS],
        raw_rows=_raw_rows(summary),
        trial_count=len(summary.table),
        busy_limit=f"{BUSY_OTHER_CPU_PCT:.0f}",
        sampling_note=SAMPLING_NOTE,
    )


SAMPLING_NOTE = (
    "py-spy sampled every Python process of the server, keeping running threads only (no --idle) and "
    "Python frames only (no --native: time in C, such as uvloop's, counts in the Python function that "
    "called it). Runs of the server's framework and standard-library frames are folded into their "
    "innermost frame, so the app's code stands out; hover a box for its name and share."
)


def _flame(view: ProfileView) -> str:
    from loadbench.report.flamegraph import flame_svg

    if not view.profiled:
        return ""
    title = f"{view.model}, {view.record.workload} at {view.record.load_label}"
    return flame_svg(view.stacks, total=view.samples, title=title)


class HtmlRenderer:
    """The HTML report format (report.registry.Renderer)."""

    name = "html"
    suffix = ".html"
    suffixes = (".html", ".htm")

    def render(self, summary: Summary) -> str:
        return render_html(summary)


HTML: Renderer = HtmlRenderer()
