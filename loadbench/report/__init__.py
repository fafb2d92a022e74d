"""Reports built from a results file alone: HTML, markdown, CSV and JSON, plus the end-of-run terminal table.

    write_report(results_path, out_path=None, fmt="html") -> Path     the runner and `loadbench report`
    build_report(results_path, fmt) -> str                             the same text, not written
    render_report(summary, fmt) -> str                                 from an analysis.Summary
    render_html / render_markdown / render_csv / render_json(summary) -> str
    render_terminal_summary(results_or_summary, console)              (loadbench.report.terminal)

This module imports nothing heavy: each renderer (pandas, matplotlib, jinja2) loads when it is used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from loadbench.errors import UsageError

if TYPE_CHECKING:
    from loadbench.analysis.summary import Summary

Format = Literal["html", "md", "csv", "json"]
FORMATS: tuple[Format, ...] = ("html", "md", "csv", "json")
SUFFIXES: dict[Format, str] = {"html": ".html", "md": ".md", "csv": ".csv", "json": ".json"}

__all__ = [
    "FORMATS",
    "build_report",
    "default_report_path",
    "format_for_path",
    "render_report",
    "write_report",
]


def _check(fmt: str) -> Format:
    if fmt not in FORMATS:
        raise UsageError(f"report format {fmt!r} is unknown; choose one of {', '.join(FORMATS)}")
    return fmt


def format_for_path(path: str | os.PathLike[str], default: Format = "html") -> Format:
    """The format an output file name asks for by its suffix (.md, .csv, .json, .html/.htm)."""
    suffix = Path(path).suffix.lower()
    for fmt, known in SUFFIXES.items():
        if suffix == known or (fmt == "html" and suffix == ".htm"):
            return fmt
    return default


def default_report_path(results_path: str | os.PathLike[str], fmt: str = "html") -> Path:
    """report.<ext> next to the results file."""
    return Path(results_path).with_name("report" + SUFFIXES[_check(fmt)])


def render_report(summary: Summary, fmt: str = "html") -> str:
    """Render `summary` in one of FORMATS."""
    fmt = _check(fmt)
    if fmt == "html":
        from loadbench.report.html import render_html

        return render_html(summary)
    if fmt == "md":
        from loadbench.report.markdown import render_markdown

        return render_markdown(summary)
    if fmt == "csv":
        from loadbench.report.csv_export import render_csv

        return render_csv(summary)
    from loadbench.report.json_export import render_json

    return render_json(summary)


def build_report(results_path: str | os.PathLike[str], fmt: str = "html") -> str:
    """Read a results file, summarize it and render it; no server is started."""
    from loadbench.analysis.summary import summarize
    from loadbench.results.file import read_results

    _check(fmt)
    return render_report(summarize(read_results(results_path)), fmt)


def write_report(
    results_path: str | os.PathLike[str], out_path: str | os.PathLike[str] | None = None, fmt: str = "html"
) -> Path:
    """Build the report of `results_path` and write it to `out_path` (default: report.<ext> beside it).

    The file is replaced atomically, so a reader never sees half a report. Returns the path written.
    """
    text = build_report(results_path, fmt)
    target = Path(out_path) if out_path is not None else default_report_path(results_path, fmt)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A sibling temporary file (ordinary permissions, same file system) renamed over the target.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
