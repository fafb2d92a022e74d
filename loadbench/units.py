"""Parse the unit-suffixed values users type: durations, rates, counts, CPU lists, load stages.

Durations: "250ms", "10s", "2m", "1h", "500us", compounds as Go writes them ("1m30s", "1h2m3.5s") or a
bare number of seconds. Rates: "500/s", "1k/s",
"30/m" or a bare number per second. Counts: "64", "1k", "2M". Stages: "10s:500/s" or "10s:64c", where
the target always carries its unit (see parse_stages). Every parser raises UsageError naming the value
and the expected form; values come back in base units (seconds, per second, integers).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from typing import Literal

from loadbench.errors import UsageError
from loadbench.shapes import ArrivalProcess, Stage, Stages

_DURATION_UNITS_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_COUNT_SUFFIX = {"": 1, "k": 1_000, "K": 1_000, "m": 1_000_000, "M": 1_000_000}
_RATE_PER_S = {"s": 1.0, "sec": 1.0, "m": 1 / 60, "min": 1 / 60, "h": 1 / 3600}
_MAX_CPU = 1 << 16
_NUMBER = r"(?P<num>\d+(?:\.\d*)?|\.\d+)"
_DURATION_RE = re.compile(rf"^\s*{_NUMBER}\s*(?P<unit>ns|us|µs|ms|s|m|h)?\s*$")
_DURATION_PART = r"(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h)"
_COMPOUND_RE = re.compile(rf"^\s*(?:{_DURATION_PART}){{2,}}\s*$")
_PART_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_COUNT_RE = re.compile(rf"^\s*{_NUMBER}\s*(?P<suffix>[kKmM]?)\s*$")
_RATE_RE = re.compile(rf"^\s*{_NUMBER}\s*(?P<suffix>[kKmM]?)\s*(?:/\s*(?P<per>s|sec|m|min|h))?\s*$")
_ZERO = r"\s*(?:0+(?:\.0*)?|\.0+)\s*"
_ZERO_RE = re.compile(rf"^{_ZERO}$")
_ZERO_RATE_RE = re.compile(rf"^{_ZERO}/\s*(?:s|sec|m|min|h)\s*$")
_BARE_NUMBER_RE = re.compile(rf"^\s*{_NUMBER}\s*[kKmM]?\s*$")
_STAGE_FORM = "write it like 10s:500/s for a rate or 10s:64c for connections"


def parse_duration(text: str | float | int, *, what: str = "duration") -> float:
    """Return the duration in seconds; `text` is "10s", "250ms", "2m", "1m30s" or a bare number of seconds.

    A compound ("1m30s", "1h2m") is the sum of its parts, each with a unit, largest first as in Go's
    time.ParseDuration and k6 (a unit repeated or out of order, "30s1m", is refused).
    """
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise UsageError(f"{what}: {text!r} is not a duration; use a form like 10s, 250ms or 2m")
    if isinstance(text, int | float):
        value = _as_float(text)
    elif _COMPOUND_RE.match(text):
        value = _compound_s(text, what)
    else:
        match = _DURATION_RE.match(text)
        if not match:
            raise UsageError(f"{what}: {text!r} is not a duration; use a form like 10s, 250ms or 2m")
        value = float(match["num"]) * _DURATION_UNITS_S[match["unit"] or "s"]
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{what}: {text!r} must be a finite, non-negative duration")
    return value


def _compound_s(text: str, what: str) -> float:
    """The seconds of "1m30s": every part's unit strictly smaller than the one before."""
    parts = _PART_RE.findall(text)
    scales = [_DURATION_UNITS_S[unit] for _, unit in parts]
    if any(later >= earlier for earlier, later in itertools.pairwise(scales)):
        raise UsageError(f"{what}: {text!r} is not a duration; in a compound each unit comes once, largest "
                         "first, like 1h2m3s or 1m30s")  # fmt: skip
    return sum(float(number) * _DURATION_UNITS_S[unit] for number, unit in parts)


def _as_float(number: int | float) -> float:
    """A number as float; an integer too large for a float becomes infinity (then refused as such)."""
    try:
        return float(number)
    except OverflowError:
        return math.inf


def parse_count(text: str | int, *, what: str = "count") -> int:
    """Return a whole count; `text` is "64", "1k" or "2M"."""
    if isinstance(text, bool):
        raise UsageError(f"{what}: {text!r} is not a count; use a form like 64, 1k or 2M")
    if isinstance(text, int):
        value = text
    else:
        match = _COUNT_RE.match(str(text))
        if not match:
            raise UsageError(f"{what}: {text!r} is not a count; use a form like 64, 1k or 2M")
        scaled = float(match["num"]) * _COUNT_SUFFIX[match["suffix"]]
        if not math.isfinite(scaled):
            raise UsageError(f"{what}: {text!r} is too large")
        if scaled != int(scaled):
            raise UsageError(f"{what}: {text!r} is not a whole number")
        value = int(scaled)
    if value < 0:
        raise UsageError(f"{what}: {text!r} must not be negative")
    return value


def parse_rate(text: str | float | int, *, what: str = "rate") -> float:
    """Return requests per second; `text` is "500/s", "1k/s", "30/m" or a bare number per second."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise UsageError(f"{what}: {text!r} is not a rate; use a form like 500/s or 1k/s")
    if isinstance(text, int | float):
        value = _as_float(text)
    else:
        match = _RATE_RE.match(text)
        if not match:
            raise UsageError(f"{what}: {text!r} is not a rate; use a form like 500/s or 1k/s")
        value = float(match["num"]) * _COUNT_SUFFIX[match["suffix"]] * _RATE_PER_S[match["per"] or "s"]
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{what}: {text!r} must be a positive rate")
    return value


_BYTE_RATE_RE = re.compile(rf"^\s*{_NUMBER}\s*(?P<unit>B|KB|KiB|MB|MiB|kB)?\s*/\s*s\s*$")
_BYTE_UNITS = {None: 1, "B": 1, "KB": 1024, "kB": 1024, "KiB": 1024, "MB": 1024 * 1024, "MiB": 1024 * 1024}


def parse_byte_rate(text: str | float | int, *, what: str = "byte rate") -> float:
    """Return bytes per second; `text` is "1KB/s", "512B/s", "2MB/s" (KB = KiB = 1024 bytes) or a number."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise UsageError(f"{what}: {text!r} is not a byte rate; use a form like 1KB/s or 512B/s")
    if isinstance(text, int | float):
        value = _as_float(text)
    else:
        match = _BYTE_RATE_RE.match(text)
        if not match:
            raise UsageError(f"{what}: {text!r} is not a byte rate; use a form like 1KB/s or 512B/s")
        value = float(match["num"]) * _BYTE_UNITS[match["unit"]]
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{what}: {text!r} must be a positive byte rate")
    return value


def parse_cpus(text: str | list[int] | tuple[int, ...], *, what: str = "cpus") -> tuple[int, ...]:
    """Return a sorted tuple of CPU numbers from "0", "0,2", "0-3" or a list of integers."""
    if isinstance(text, list | tuple):
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in text):
            raise UsageError(f"{what}: {text!r} is not a CPU list; give whole CPU numbers like [0, 1]")
        items = list(text)
    else:
        items = []
        for part in str(text).split(","):
            part = part.strip()
            if re.fullmatch(r"\d{1,9}", part):
                items.append(int(part))
            elif re.fullmatch(r"\d{1,9}-\d{1,9}", part):
                low, high = (int(x) for x in part.split("-"))
                if high < low:
                    raise UsageError(f"{what}: range {part!r} runs backwards")
                if high > _MAX_CPU:  # refuse before building a huge range
                    raise UsageError(f"{what}: range {part!r} names CPUs no machine has")
                items.extend(range(low, high + 1))
            else:
                raise UsageError(f"{what}: {text!r} is not a CPU list; use a form like 0, 0,1 or 0-3")
    if not items or any(c < 0 for c in items):
        raise UsageError(f"{what}: {text!r} must name at least one CPU, none negative")
    return tuple(sorted(set(items)))


def parse_stages(
    spec: str | Sequence[object], *, what: str, arrival: ArrivalProcess = "uniform",
    max_connections: int = 1024,
) -> Stages:  # fmt: skip
    """Return the Stages of `spec`: a comma-separated string or a list of stages (a scenario's).

    Grammar (each target carries its unit, so a rate is never mistaken for a number of users)::

        stages := stage ("," stage)*
        stage  := DURATION ":" target               (DURATION as parse_duration: 10s, 500ms, 2m)
        target := COUNT "/" PER                     a rate, open loop: 500/s, 2k/s, 30/m
                | COUNT "c"                         connections, closed loop: 64c, 1kc
                | "0"                               zero, of the other stages' kind (a ramp down)

    Each stage ramps linearly from the previous target (0 before the first). All stages are rates or
    all are connections; together they last more than 0 s and some target is above 0. Raises
    UsageError starting with `what`, e.g. "--stages '30s:10': stage target '10' has no unit; ...".
    """
    if not isinstance(spec, str | list | tuple):
        example = '["10s:100/s", "20s:500/s"]'
        raise UsageError(f"{what}: {spec!r} is not a list of stages; write them like {example}")
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    if not items:
        raise UsageError(f"{what}: is empty; give at least one stage, like 10s:100/s")
    stages: list[Stage] = []
    kinds: set[Literal["rate", "connections"]] = set()
    for item in items:
        kind, stage = _parse_stage(item, what)
        if kind is not None:
            kinds.add(kind)
        stages.append(stage)
    if len(kinds) > 1:
        raise UsageError(f"{what}: mixes rates and connection counts; all stages must use one kind: "
                         "rates (like 500/s) or connections (like 64c)")  # fmt: skip
    if sum(stage.duration_s for stage in stages) <= 0:
        raise UsageError(f"{what}: the stages last 0 s in total; give them a positive duration")
    if not kinds or all(stage.target == 0 for stage in stages):
        raise UsageError(f"{what}: every stage target is 0, so nothing would be sent; give one a "
                         "positive target, like 10s:100/s or 10s:16c")  # fmt: skip
    return Stages(kind=kinds.pop(), stages=tuple(stages), arrival=arrival, max_connections=max_connections)


def _parse_stage(item: object, what: str) -> tuple[Literal["rate", "connections"] | None, Stage]:
    """One "DURATION:TARGET" stage and its kind (None for a bare 0, which takes the others' kind)."""
    duration_text, sep, target = item.partition(":") if isinstance(item, str) else ("", "", "")
    target = target.strip()
    if not sep or not duration_text.strip() or not target:
        raise UsageError(f"{what}: {item!r} is not a stage (it is not DURATION:TARGET); {_STAGE_FORM}")
    duration = parse_duration(duration_text, what=f"{what}: duration of stage {item!r}")
    if target.endswith("c") and any(char.isdigit() for char in target):
        count = parse_count(target[:-1], what=f"{what}: connections of stage {item!r}")
        return "connections", Stage(duration_s=duration, target=float(count))
    if _ZERO_RATE_RE.match(target):
        return "rate", Stage(duration_s=duration, target=0.0)
    if "/" in target:
        rate = parse_rate(target, what=f"{what}: rate of stage {item!r}")
        return "rate", Stage(duration_s=duration, target=rate)
    if _ZERO_RE.match(target):
        return None, Stage(duration_s=duration, target=0.0)
    if _BARE_NUMBER_RE.match(target):
        raise UsageError(f"{what}: stage target {target!r} has no unit; write {target}/s for a rate "
                         f"(requests per second) or {target}c for connections")  # fmt: skip
    raise UsageError(f"{what}: stage target {target!r} is neither a rate nor connections; {_STAGE_FORM}")


_STATUS_ITEM_RE = re.compile(r"^(?:(?P<code>[1-5]\d\d)(?:-(?P<to>[1-5]\d\d))?|(?P<cls>[1-5])xx)$")


def parse_statuses(text: str, *, what: str = "--expect-status") -> tuple[int, ...]:
    """Return the sorted status codes of "200,204", "2xx,3xx", "200-299" or a mix ("2xx,404")."""
    codes: set[int] = set()
    items = [item.strip() for item in str(text).split(",")]
    for item in items:
        match = _STATUS_ITEM_RE.match(item.lower())
        if not match:
            raise UsageError(f"{what}: {item!r} in {text!r} is not a status; write codes and classes "
                             "like 200,204 or 2xx,3xx (or a range 200-299)")  # fmt: skip
        if match["cls"]:
            start = int(match["cls"]) * 100
            codes.update(range(start, start + 100))
        else:
            low, high = int(match["code"]), int(match["to"] or match["code"])
            if high < low:
                raise UsageError(f"{what}: range {item!r} runs backwards; write it low-high, like 200-299")
            codes.update(range(low, high + 1))
    return tuple(sorted(codes))
