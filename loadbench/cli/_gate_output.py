"""Shared edges of `loadbench check` and `loadbench compare`: parse a percentage, write the Markdown and
JUnit files, print warnings, and end with the gate's exit code."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import click

from loadbench.errors import ExitCode, UsageError
from loadbench.safe.escape import terminal

_PCT_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*%\s*$")


def parse_percent(text: str, *, what: str) -> float:
    """Return a fraction from "5%" (a unit is mandatory, as in threshold expressions)."""
    match = _PCT_RE.match(text)
    if not match:
        raise UsageError(f"{what} {text!r} is not a percentage; write it with a % sign, e.g. 5%")
    return float(match.group(1)) / 100


def write_text(path: str, text: str, *, what: str = "output") -> None:
    """Write `text` to `path` ("-" = stdout). $GITHUB_STEP_SUMMARY is appended to, as GitHub expects."""
    from loadbench.safe.write import write_output

    if path == "-":
        click.echo(text, nl=False)
        return
    target = Path(path)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    append = bool(summary) and target.resolve() == Path(summary or ".").resolve()
    write_output(target, text, what=what, append=append)


def echo_warnings(warnings: Sequence[str]) -> None:
    """Print each warning on stderr, prefixed with 'warning:'."""
    for warning in warnings:
        click.echo(f"warning: {terminal(warning)}", err=True)


def finish(ctx: click.Context, code: ExitCode, outcome: str, *, err: bool = False) -> None:
    """Print the last line (outcome and exit code; on stderr when stdout carries JSON); exit with `code`."""
    click.echo(f"Result: {outcome} (exit {int(code)})", err=err)
    ctx.exit(int(code))


def write_json(path: str, data: object, *, what: str = "--json") -> None:
    """Write `data` as indented JSON to `path` ("-" = stdout) through the safe writer; a non-finite number
    becomes null, and json's ASCII escapes keep control and bidi characters out of terminals."""
    import json

    write_text(path, json.dumps(_finite(data), indent=2, allow_nan=False) + "\n", what=what)


def _finite(value: object) -> object:
    import math

    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
