"""JSON encoding of loadbench records: dataclass <-> validated JSON object, compact lines, load shapes.

The dataclass annotations are the schema: `str`, `int`, `float`, `bool`, `Mapping[...]`, `tuple[...]`,
optionally `| None`; fields without a default are required. Every error names where (file:line) and the key.
Used by results.py and resultsfile.py; pure functions, no I/O.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loadbench.errors import ResultsFormatError
from loadbench.shapes import shape_from_json

if TYPE_CHECKING:
    from loadbench.types import Load, RequestSpec

__all__ = [
    "describe",
    "dumps_line",
    "from_json",
    "load_from_json",
    "load_to_json",
    "request_spec_to_json",
    "scrub_nonfinite",
    "to_json",
]

JsonDict = dict[str, Any]

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
    "Mapping": (dict,), "tuple": (list, tuple),
}
# The typed sub-records of results.records are TypedDicts: JSON objects, read and checked as mappings.
_MAPPING_TYPES = frozenset({"LatencySummary", "ServerStats", "LoadRecord", "Failure", "CrowdRecord"})
_ITEM_CHECKS: dict[str, tuple[type, ...]] = {  # value types inside a few nested keys
    "latency_ms": (int, float, type(None)), "service_ms": (int, float, type(None)),
    "schedule_lag_ms": (int, float, type(None)), "server": (int, float, type(None)),
    "errors": (int,), "error_messages": (int,), "status": (int,), "saturation_reasons": (str,),
    "requests_spec": (dict,), "monitor": (list, tuple), "timeline": (list, tuple),
}


@functools.cache
def _schema(cls: type) -> tuple[tuple[str, str, bool, bool], ...]:
    """(key, base type name, nullable, required) per field, read from the dataclass annotations."""
    rows = []
    for f in dataclasses.fields(cls):
        if f.name == "extra":
            continue
        annotation = str(f.type)
        base = re.split(r"[\[ |]", annotation, maxsplit=1)[0]
        base = "Mapping" if base in _MAPPING_TYPES else base
        nullable = annotation.endswith("| None")
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        rows.append((f.name, base, nullable, required))
    return tuple(rows)


def describe(value: Any) -> str:
    text = repr(value)
    return f"{text[:60]}…" if len(text) > 60 else text


def from_json(cls: Any, data: Mapping[str, Any], where: str) -> Any:
    """Build dataclass `cls` from a JSON object, checking every known key; unknown keys go to `extra`."""
    if not isinstance(data, Mapping):
        raise ResultsFormatError(f"{where}: expected a JSON object, got {type(data).__name__}")
    values: dict[str, Any] = {}
    for key, base, nullable, required in _schema(cls):
        if key not in data:
            if required:
                raise ResultsFormatError(f"{where}: required key {key!r} is missing")
            continue
        value = data[key]
        if value is None and nullable:
            values[key] = None
            continue
        if not isinstance(value, _JSON_TYPES[base]) or (base in ("int", "float") and isinstance(value, bool)):
            null = " or null" if nullable else ""
            raise ResultsFormatError(
                f"{where}: key {key!r} must be {base.lower()}{null}, got {describe(value)}"
            )
        values[key] = _convert(key, base, value, where)
    values["extra"] = {k: v for k, v in data.items() if k not in values and k not in _field_names(cls)}
    return cls(**values)


def _field_names(cls: Any) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


def _convert(key: str, base: str, value: Any, where: str) -> Any:
    if base == "float":
        if not math.isfinite(value):
            raise ResultsFormatError(f"{where}: key {key!r} must be a finite number, got {value!r}")
        return float(value)
    items = _ITEM_CHECKS.get(key)
    if items is not None:
        inner = value.values() if isinstance(value, dict) else value
        for item in inner:
            if not isinstance(item, items) or (int in items and isinstance(item, bool)):
                expected = items[0].__name__
                raise ResultsFormatError(f"{where}: key {key!r} holds {describe(item)}, not {expected}")
    if key in ("monitor", "timeline"):
        for row in value:
            if not all(isinstance(x, int | float | None) and not isinstance(x, bool) for x in row):
                raise ResultsFormatError(f"{where}: key {key!r} has a row that is not all numbers: {row!r}")
        return tuple(tuple(row) for row in value)
    if base == "tuple":
        return tuple(value)
    return value


def to_json(record: Any) -> JsonDict:
    """The JSON object of a record dataclass: tuples become lists, `extra` keys are merged back."""
    out: JsonDict = dict(record.extra)
    for f in dataclasses.fields(record):
        if f.name == "extra":
            continue
        value = getattr(record, f.name)
        if f.name in ("monitor", "timeline"):
            value = [list(row) for row in value]
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        out[f.name] = value
    return out


def _first_nonfinite(value: Any, path: str) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path} = {value!r}"
    if isinstance(value, Mapping):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        found = _first_nonfinite(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


def dumps_line(obj: Mapping[str, Any]) -> str:
    """Compact JSON for one line (ASCII-escaped, so any string survives); non-finite numbers are refused."""
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False)
    except ValueError:
        found = _first_nonfinite(obj, "") or "a value"
        raise ResultsFormatError(
            f"{found} cannot be written: results hold finite numbers only (use null for 'not measured')"
        ) from None


def scrub_nonfinite(value: Any) -> Any:
    """Non-finite floats become None (a percentile of no samples is 'not measured', not NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: scrub_nonfinite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_nonfinite(v) for v in value]
    return value


# -- load shapes and request specs -----------------------------------------------------------------------


def load_to_json(load: Load) -> JsonDict:
    """The results-format object of a load shape."""
    return dict(load.to_json())


def load_from_json(data: Mapping[str, Any]) -> Load:
    """Turn a results-format `load` object back into its load shape (by its "kind", see shapes.SHAPES)."""
    try:
        return shape_from_json(dict(data))
    except (KeyError, TypeError, ValueError) as exc:
        raise ResultsFormatError(f"load {dict(data)!r} is incomplete or malformed ({exc!r})") from None


def request_spec_to_json(spec: RequestSpec | Mapping[str, Any]) -> JsonDict:
    """{"method", "path", "weight"} plus "headers" and "body" when set (body as text, or body_b64),
    "expect" ({"status", "body", "body_re"}, the response check) when one is set, and "template": true
    when path, header values and body are templates (`{seq}` … as written, rendered per send)."""
    if isinstance(spec, Mapping):
        return dict(spec)
    out: JsonDict = {"method": spec.method, "path": spec.path, "weight": spec.weight}
    if spec.headers:
        out["headers"] = [list(pair) for pair in spec.headers]
    if spec.body:
        try:
            out["body"] = spec.body.decode("utf-8")
        except UnicodeDecodeError:
            out["body_b64"] = base64.b64encode(spec.body).decode("ascii")
    if spec.template_dir is not None:
        out["template"] = True
    check = spec.check
    if check is not None and check.active:
        expect: JsonDict = {}
        if check.status:
            expect["status"] = list(check.status) if len(check.status) <= 8 else _status_ranges(check.status)
        if check.body:
            expect["body"] = check.body.decode("utf-8", errors="replace")
        if check.body_re:
            expect["body_re"] = check.body_re
        out["expect"] = expect
    return out


def _status_ranges(codes: tuple[int, ...]) -> str:
    """Sorted codes as "200-299,404" (compact for whole classes)."""
    parts: list[str] = []
    start = prev = codes[0]
    for code in (*codes[1:], -1):
        if code != prev + 1:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = code
        prev = code
    return ",".join(parts)


