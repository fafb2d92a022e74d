"""`run --set table.key=value`: override one scenario value from the command line, before validation.

    override := PATH "=" VALUE
    PATH     := KEY | TABLE "." KEY | ("servers" | "variants") "." INDEX "." KEY     (INDEX counts from 0)
    VALUE    := a TOML value (5, 1.5, true, "text", [16, 64]) or, when it is not one, the text itself

So `load.duration=1m30s` sets the string "1m30s" and `load.connections=[16,64]` a list. An unknown table or
key is a UsageError naming it and the known ones; the value itself is validated with the scenario, so a
bad value reads like any scenario problem. Overrides are applied in the order given.
"""

from __future__ import annotations

import copy
import difflib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loadbench.errors import UsageError
from loadbench.scenario.engine_table import LOCUST_KEYS
from loadbench.scenario.schema import (
    APP_KEYS,
    CPU_KEYS,
    LOAD_KEYS,
    PAIRED_KEYS,
    SERVER_KEYS,
    THRESHOLD_KEYS,
    VARIANT_KEYS,
)

#: Scalar top-level keys and the tables a --set may reach, with their keys.
SCALAR_KEYS = ("name", "description", "engine")
TABLE_KEYS: Mapping[str, Sequence[str]] = {
    "app": APP_KEYS, "load": LOAD_KEYS, "cpus": CPU_KEYS, "thresholds": THRESHOLD_KEYS,
    "paired": PAIRED_KEYS, "locust": LOCUST_KEYS,
}  # fmt: skip
# variants.N.cwd is how a CI job points a paired run's arms at its two checkouts (action.yml).
ARRAY_TABLE_KEYS: Mapping[str, Sequence[str]] = {"servers": SERVER_KEYS, "variants": VARIANT_KEYS}


@dataclass(frozen=True, slots=True, kw_only=True)
class Override:
    """One `--set`: the key path, the value (a TOML value or a string) and the text as typed."""

    path: tuple[str | int, ...]
    value: Any
    text: str


def parse_overrides(texts: Sequence[str], *, what: str = "--set") -> tuple[Override, ...]:
    """Parse every `table.key=value`; UsageError (one line) for the first that names no known key."""
    return tuple(_parse_one(text, what) for text in texts)


def _parse_one(text: str, what: str) -> Override:
    key_text, sep, value_text = text.partition("=")
    key_text = key_text.strip()
    if not sep or not key_text:
        raise UsageError(f"{what} {text!r}: write it like {what} load.duration=30s (table.key=value)")
    parts = key_text.split(".")
    path: tuple[str | int, ...]
    if len(parts) == 1:
        _known(parts[0], SCALAR_KEYS, what, text, "top-level key")
        path = (parts[0],)
    elif parts[0] in ARRAY_TABLE_KEYS:
        if len(parts) != 3 or not parts[1].isdigit():
            raise UsageError(f"{what} {text!r}: [[{parts[0]}]] entries are chosen by index, like "
                             f"{parts[0]}.0.workers=4")  # fmt: skip
        _known(parts[2], ARRAY_TABLE_KEYS[parts[0]], what, text, f"key of [[{parts[0]}]]")
        path = (parts[0], int(parts[1]), parts[2])
    elif len(parts) == 2:
        _known(parts[0], [*TABLE_KEYS, *ARRAY_TABLE_KEYS], what, text, "table")
        _known(parts[1], TABLE_KEYS[parts[0]], what, text, f"key of [{parts[0]}]")
        path = (parts[0], parts[1])
    else:
        raise UsageError(f"{what} {text!r}: {key_text!r} is not table.key; write it like load.duration=30s")
    return Override(path=path, value=_value(value_text.strip()), text=text.strip())


def _known(name: str, known: Sequence[str], what: str, text: str, kind: str) -> None:
    if name in known:
        return
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UsageError(f"{what} {text!r}: unknown {kind} {name!r}; {hint}known: {', '.join(known)}")


def _value(text: str) -> Any:
    """The TOML value `text` stands for, or `text` itself (so 30s and 1m30s need no quotes)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, ValueError):
        return text


def apply_overrides(raw: Mapping[str, Any], overrides: Sequence[Override], *, where: str) -> dict[str, Any]:
    """A deep copy of the parsed TOML `raw` with every override applied (tables created as needed)."""
    data: dict[str, Any] = copy.deepcopy(dict(raw))
    for override in overrides:
        head = override.path[0]
        if len(override.path) == 1:
            data[str(head)] = override.value
            continue
        if len(override.path) == 3:
            entries = data.get(str(head))
            index = int(override.path[1])
            if not isinstance(entries, list) or not 0 <= index < len(entries):
                count = len(entries) if isinstance(entries, list) else 0
                raise UsageError(f"--set {override.text!r}: {where} has {count} [[{head}]] entries "
                                 f"(indexes 0-{count - 1})" if count else
                                 f"--set {override.text!r}: {where} has no [[{head}]] entries")  # fmt: skip
            entry = entries[index]
            if isinstance(entry, dict):
                entry[str(override.path[2])] = override.value
            continue
        table = data.setdefault(str(head), {})
        if not isinstance(table, dict):
            raise UsageError(f"--set {override.text!r}: {head!r} in {where} is not a table")
        table[str(override.path[1])] = override.value
    return data
