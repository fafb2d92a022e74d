"""Reports built from a results file alone: HTML, markdown, CSV, JSON and the CI trend services' JSON
(Bencher, github-action-benchmark), plus the end-of-run terminal table.

    write_report(results_path, out_path=None, fmt="html") -> Path     the runner and `loadbench report`
    build_report(results_path, fmt) -> str                             the same text, not written
    render_report(summary, fmt) -> str                                 from an analysis.Summary
    get_renderer(fmt).render(summary) -> str                           one format (loadbench.report.registry)
    render_terminal_summary(results_or_summary, console)              (loadbench.report.terminal)

The formats are the renderers named in loadbench.plugins.REPORT_FORMATS, one module each. This module
imports nothing heavy: each renderer (pandas, matplotlib, jinja2) loads when it is used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from loadbench.errors import UsageError
from loadbench.report.registry import Renderer, all_renderers, format_names, get_renderer

if TYPE_CHECKING:
    from loadbench.analysis.summary import Summary

__all__ = [
    "Renderer",
    "build_report",
    "default_report_path",
    "format_for_path",
    "format_names",
    "get_renderer",
    "render_report",
    "write_report",
]


def format_for_path(path: str | os.PathLike[str], default: str = "html") -> str:
    """The format an output file name asks for by its suffix (.md, .csv, .json, .html/.htm)."""
    suffix = Path(path).suffix.lower()
    for renderer in all_renderers():
        if suffix in renderer.suffixes:
            return renderer.name
    return default


def default_report_path(results_path: str | os.PathLike[str], fmt: str = "html") -> Path:
    """report.<ext> next to the results file."""
    return Path(results_path).with_name("report" + get_renderer(fmt).suffix)


def _renderer(fmt: str, metric: str | None) -> Renderer:
    """The renderer of `fmt`, set to `metric` when one is given (only formats of one metric take it)."""
    renderer = get_renderer(fmt)
    if metric is None:
        return renderer
    with_metric = getattr(renderer, "with_metric", None)
    if with_metric is None:
        raise UsageError(f"--metric applies to formats of one metric (github-benchmark), not to {fmt!r}")
    chosen: Renderer = with_metric(metric)
    return chosen


def render_report(summary: Summary, fmt: str = "html", *, metric: str | None = None) -> str:
    """Render `summary` in one of the registered formats (UsageError for an unknown one)."""
    return _renderer(fmt, metric).render(summary)


def build_report(
    results_path: str | os.PathLike[str], fmt: str = "html", *, metric: str | None = None
) -> str:
    """Read a results file, summarize it and render it; no server is started."""
    from loadbench.analysis.summary import summarize
    from loadbench.results.file import read_results

    renderer = _renderer(fmt, metric)
    return renderer.render(summarize(read_results(results_path)))


def write_report(
    results_path: str | os.PathLike[str], out_path: str | os.PathLike[str] | None = None, fmt: str = "html",
    *, metric: str | None = None,
) -> Path:  # fmt: skip
    """Build the report of `results_path` and write it to `out_path` (default: report.<ext> beside it).

    Written by the one output writer (loadbench.safe.write): a regular file is replaced atomically, a device
    or FIFO is written in place, a symbolic link is refused. Returns the path written.
    """
    from loadbench.safe.write import write_output

    target = Path(out_path) if out_path is not None else default_report_path(results_path, fmt)
    text = build_report(results_path, fmt, metric=metric)
    write_output(target, text, what="report")
    return target
