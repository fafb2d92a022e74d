"""Point at places in a scenario's TOML text: the line of a key, and problems phrased as file:line messages.

tomllib returns plain dicts without positions, so `find_key_line` scans the text for the table header and
then `key =`. It understands `[table]`, `[[array]]` (the n-th entry), `[table.sub]` headers, quoted keys,
comments and multi-line strings; it does not follow dotted keys or multi-line arrays into their items.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Problems", "find_key_line", "syntax_problem"]

_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_\-.\s\"']+?)\s*\]\]?\s*(?:#.*)?$")
_SYNTAX_POSITION_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_SYNTAX_END_RE = re.compile(r"\s*\(at end of document\)\s*$")


def _normalize_header(raw: str) -> str:
    parts = [part.strip().strip("\"'") for part in raw.split(".")]
    return ".".join(parts)


def _key_pattern(key: str) -> re.Pattern[str]:
    quoted = re.escape(key)
    return re.compile(rf"^\s*(?:{quoted}|\"{quoted}\"|'{quoted}')\s*=")


def find_key_line(text: str, section: str = "", key: str | None = None,
                  index: int | None = None) -> int | None:
    """Return the 1-based line where `key` is set in table `section`, or the table's header line.

    `section` is "" for top-level keys, "load" for `[load]`, "servers" with `index` 0 for the first
    `[[servers]]`. A key given as a sub-table (`[app.env]`) is found by its header. When the key is not
    in the text (a missing required key), the section's header line is returned; None when neither is.
    """
    pattern = _key_pattern(key) if key else None
    inside = section == "" and index is None
    header_line: int | None = None
    counts: dict[str, int] = {}
    in_multiline: str | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        match = _HEADER_RE.match(line)
        if match:
            name = _normalize_header(match[2])
            if match[1] == "[[":
                counts[name] = counts.get(name, 0) + 1
            right_entry = index is None or counts.get(section, 0) == index + 1
            if name == section and right_entry:
                inside, header_line = True, lineno
            else:
                inside = False
                if key and name == f"{section}.{key}".lstrip(".") and right_entry:
                    return lineno
            continue
        if inside and pattern and pattern.match(line):
            return lineno
        for quotes in ('"""', "'''"):
            if line.count(quotes) % 2 == 1:
                in_multiline = quotes
                break
    return header_line


def _where(section: str, index: int | None, key: str | None) -> str:
    if not section:
        return key or "(top level)"
    table = f"[[{section}]] #{index + 1}" if index is not None else f"[{section}]"
    return f"{table} {key}" if key else table


@dataclass(slots=True)
class Problems:
    """Collects every problem of one scenario file as "file:line: [table] key: message" strings."""

    path: str
    text: str
    items: list[str] = field(default_factory=list)

    def add(self, message: str, *, section: str = "", key: str | None = None, index: int | None = None,
            line: int | None = None) -> None:
        """Record one problem; the line is looked up from the section and key unless given."""
        found = line if line is not None else find_key_line(self.text, section, key, index)
        location = f"{self.path}:{found}" if found else self.path
        self.items.append(f"{location}: {_where(section, index, key)}: {message}")

    def check_keys(self, table: dict[str, object], allowed: Iterable[str], *, section: str = "",
                   index: int | None = None) -> None:
        """Record every key of `table` not in `allowed`, suggesting the closest allowed key."""
        known = list(allowed)
        for key in table:
            if key in known:
                continue
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"the keys here are: {', '.join(known)}"
            self.add(f"unknown key {key!r}; {hint}", section=section, key=key, index=index)


def syntax_problem(path: str, text: str, error: tomllib.TOMLDecodeError) -> str:
    """Phrase a TOML syntax error as "file:line:column: TOML syntax error: what" (end of file included)."""
    message = str(error)
    match = _SYNTAX_POSITION_RE.search(message)
    if match:
        line, column = int(match[1]), int(match[2])
        message = message[: match.start()]
    else:
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        message = _SYNTAX_END_RE.sub("", message) + " (at the end of the file: is a string or bracket open?)"
    return f"{path}:{line}:{column}: TOML syntax error: {message}"
