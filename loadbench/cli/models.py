"""`loadbench models`: list the server models, their family, and whether each can run on this machine."""

from __future__ import annotations

import click

EPILOG = """\b
Examples:
  loadbench models
  loadbench serve waitress     # then run one of the models listed as "yes"
"""


@click.command(epilog=EPILOG)
def command() -> None:
    """List the server models and whether each can run here (and how to install it if not)."""
    from loadbench.servers.registry import all_models

    rows = [("MODEL", "FAMILY", "AVAILABLE", "DESCRIPTION")]
    for model in all_models():
        why_not = model.available()
        status = "yes" if why_not is None else f"no: {why_not}"
        rows.append((model.name, model.family, status, model.description))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        click.echo("  ".join([*cells, row[3]]))
