"""Shell completion of the names users type: server models (`serve MODEL`) and scenarios (`run NAME|FILE`).

Click completes commands, options and choices by itself; enable it in a shell with
`eval "$(_LOADBENCH_COMPLETE=bash_source loadbench)"` (zsh_source, fish_source likewise; README.md). These
callbacks run only while completing, and read names from the plug-in table and the shipped scenarios.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from click.shell_completion import CompletionItem

__all__ = ["complete_models", "complete_scenarios"]


def complete_models(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Server model names starting with `incomplete` (loadbench.plugins; nothing is imported)."""
    from loadbench.plugins import SERVER_MODELS

    return [CompletionItem(name) for name in SERVER_MODELS if name.startswith(incomplete)]


def complete_scenarios(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shipped scenario names starting with `incomplete`, and the .toml files and directories here that do;
    a path (with a / or a leading .) is left to the shell's own file completion."""
    if os.sep in incomplete or incomplete.startswith("."):
        return [CompletionItem(incomplete, type="file")]
    from loadbench.scenario import shipped_scenarios

    items = [CompletionItem(name) for name in shipped_scenarios() if name.startswith(incomplete)]
    try:
        entries = sorted(entry for entry in Path(".").iterdir()
                         if entry.name.startswith(incomplete) and not entry.name.startswith("."))
    except OSError:
        entries = []
    for entry in entries:
        if entry.is_dir():
            items.append(CompletionItem(entry.name + os.sep))
        elif entry.suffix == ".toml":
            items.append(CompletionItem(entry.name))
    return items or [CompletionItem(incomplete, type="file")]
