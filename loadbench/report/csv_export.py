"""Render a Summary's raw table as CSV: one row per trial, flat columns in base units.

A text cell a spreadsheet would run as a formula gets a leading apostrophe (loadbench.safe.escape.csv_cell).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadbench.analysis.summary import Summary
    from loadbench.report.registry import Renderer


def render_csv(summary: Summary) -> str:
    """The trials as CSV text (header row first, "\\n" line endings, empty cells for missing values)."""
    if summary.table.empty:
        return ""
    from loadbench.safe.escape import csv_cell

    table = summary.table.copy()
    # strings: a spreadsheet must never run one as a formula
    for column in table.columns[[dtype.kind == "O" for dtype in table.dtypes]]:
        table[column] = table[column].map(csv_cell)
    text: str = table.to_csv(index=False, lineterminator="\n")
    return text


class CsvRenderer:
    """The CSV report format (report.registry.Renderer)."""

    name = "csv"
    suffix = ".csv"
    suffixes = (".csv",)

    def render(self, summary: Summary) -> str:
        return render_csv(summary)


CSV: Renderer = CsvRenderer()
