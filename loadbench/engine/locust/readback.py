"""Read what a locust run left behind: the harness JSON and, on failure, Locust's stderr.

Pure functions, no locust import. Malformed JSON raises ValueError naming the bad field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SUPPORTED_SCHEMA = 1
ERROR_CLASSES = frozenset(
    {"check_failed", "connect_refused", "connect_timeout", "timeout", "reset", "protocol"}
)


@dataclass(frozen=True)
class NameStats:
    """Locust's numbers for one request name + method over the measured window."""

    name: str
    method: str
    num_requests: int
    num_failures: int
    response_times_ms: tuple[tuple[int, int], ...]  # (rounded ms, count), ascending
    total_content_length: int
    min_response_time_ms: float | None
    max_response_time_ms: float
    status_codes: tuple[tuple[int, int], ...]  # (status, count); 0 = no HTTP response
    error_classes: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class ErrorMessage:
    error_class: str
    method: str
    name: str
    message: str
    count: int


@dataclass(frozen=True)
class Second:
    second: int
    requests: int
    failures: int
    p50_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class LocustResult:
    """The whole harness JSON, validated."""

    complete: bool
    locust_version: str
    mode: str
    workers: int
    measured_s: float
    warmup_s: float
    entries: tuple[NameStats, ...]
    total: NameStats
    errors_by_class: tuple[tuple[str, int], ...]
    error_messages: tuple[ErrorMessage, ...]
    error_messages_dropped: int
    timeline: tuple[Second, ...]
    cpu_total_s: float
    cpu_master_s: float
    cpu_workers_s: tuple[float, ...]
    cpu_warning: bool
    worker_cpu_warning: bool
    users_asked: int
    users_running_at_start: int
    max_process_cpu_fraction: float
    window_monotonic: tuple[float, float]  # master's [start, end] (time.monotonic())
    worker_windows_monotonic: tuple[tuple[float, float], ...]  # each worker's [start, end]


# ---------------------------------------------------------------- validation helpers


def _get(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where}: expected an object, got {type(obj).__name__}")
    if key not in obj:
        raise ValueError(f"{where}.{key}: missing")
    value = obj[key]
    # bool is an int subclass: never accept it where a number is meant.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise ValueError(f"{where}.{key}: expected {_kind_name(kind)}, got {value!r}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _as_tuple(kind))


def _nonneg_int(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = _get(obj, key, int, where)
    if value < 0:
        raise ValueError(f"{where}.{key}: must be >= 0, got {value}")
    return int(value)


def _number(obj: Mapping[str, Any], key: str, where: str, allow_none: bool = False) -> float | None:
    kinds: tuple[type, ...] = (int, float, type(None)) if allow_none else (int, float)
    value = _get(obj, key, kinds, where)
    return None if value is None else float(value)


def _int_keyed_counts(raw: Any, where: str) -> tuple[tuple[int, int], ...]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected an object")
    pairs: list[tuple[int, int]] = []
    for key, count in raw.items():
        try:
            k = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: key {key!r} is not an integer") from None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0 or k < 0:
            raise ValueError(f"{where}[{key!r}]: bad count {count!r}")
        pairs.append((k, count))
    return tuple(sorted(pairs))


# ---------------------------------------------------------------- parsing


def _parse_name_stats(raw: Any, where: str) -> NameStats:
    rt = _int_keyed_counts(_get(raw, "response_times", dict, where), f"{where}.response_times")
    num_requests = _nonneg_int(raw, "num_requests", where)
    # Locust logs a request with response_time None (num_none_requests) outside the dict.
    none_requests = int(raw.get("num_none_requests", 0))
    if sum(c for _, c in rt) + none_requests != num_requests:
        raise ValueError(
            f"{where}: response_times counts {sum(c for _, c in rt)} != num_requests {num_requests}"
        )
    classes = _get(raw, "error_classes", dict, where)
    for cls, count in classes.items():
        if cls not in ERROR_CLASSES or not isinstance(count, int) or count < 0:
            raise ValueError(f"{where}.error_classes: bad entry {cls!r}: {count!r}")
    return NameStats(
        name=_get(raw, "name", str, where),
        method=_get(raw, "method", str, where),
        num_requests=num_requests,
        num_failures=_nonneg_int(raw, "num_failures", where),
        response_times_ms=rt,
        total_content_length=_nonneg_int(raw, "total_content_length", where),
        min_response_time_ms=_number(raw, "min_response_time_ms", where, allow_none=True),
        max_response_time_ms=float(_number(raw, "max_response_time_ms", where) or 0.0),
        status_codes=_int_keyed_counts(_get(raw, "status_codes", dict, where), f"{where}.status_codes"),
        error_classes=tuple(sorted(classes.items())),
    )


def _parse_messages(raw: Any) -> tuple[ErrorMessage, ...]:
    out = []
    for i, m in enumerate(raw):
        where = f"errors.messages[{i}]"
        out.append(
            ErrorMessage(
                error_class=_get(m, "error_class", str, where),
                method=_get(m, "method", str, where),
                name=_get(m, "name", str, where),
                message=_get(m, "message", str, where),
                count=_nonneg_int(m, "count", where),
            )
        )
    return tuple(out)


def _parse_timeline(raw: Any) -> tuple[Second, ...]:
    out = []
    for i, s in enumerate(raw):
        where = f"timeline[{i}]"
        out.append(
            Second(
                second=_nonneg_int(s, "second", where),
                requests=_nonneg_int(s, "requests", where),
                failures=_nonneg_int(s, "failures", where),
                p50_ms=_number(s, "p50_ms", where, allow_none=True),
                p99_ms=_number(s, "p99_ms", where, allow_none=True),
            )
        )
    return tuple(out)


def _pair(raw: Any, where: str) -> tuple[float, float]:
    ok = isinstance(raw, list) and len(raw) == 2
    if not ok or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in raw):
        raise ValueError(f"{where}: expected [start, end] numbers, got {raw!r}")
    return float(raw[0]), float(raw[1])


def _parse_clock(clock: Mapping[str, Any]) -> tuple[tuple[float, float], tuple[tuple[float, float], ...]]:
    master = _pair(clock.get("master"), "clock.master")
    workers = _get(clock, "workers", list, "clock")
    return master, tuple(_pair(w, f"clock.workers[{i}]") for i, w in enumerate(workers))


def parse_result(doc: Mapping[str, Any]) -> LocustResult:
    """Validate the harness JSON (already decoded) into a LocustResult."""
    schema = _get(doc, "schema", int, "result")
    if schema != SUPPORTED_SCHEMA:
        raise ValueError(f"result.schema: unsupported version {schema} (expected {SUPPORTED_SCHEMA})")
    window, cpu, sat, errors = (
        _get(doc, k, dict, "result") for k in ("window", "cpu", "saturation", "errors")
    )
    entries = tuple(
        _parse_name_stats(e, f"entries[{i}]") for i, e in enumerate(_get(doc, "entries", list, "result"))
    )
    workers_cpu = _get(cpu, "workers_s", list, "cpu")
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in workers_cpu):
        raise ValueError(f"cpu.workers_s: expected numbers, got {workers_cpu!r}")
    master_clock, worker_clocks = _parse_clock(_get(doc, "clock", dict, "result"))
    return LocustResult(
        complete=_get(doc, "complete", bool, "result"),
        locust_version=_get(doc, "locust_version", str, "result"),
        mode=_get(doc, "mode", str, "result"),
        workers=_nonneg_int(doc, "workers", "result"),
        measured_s=float(_number(window, "measured_s", "window") or 0.0),
        warmup_s=float(_number(window, "warmup_s", "window") or 0.0),
        entries=entries,
        total=_parse_name_stats(_get(doc, "total", dict, "result"), "total"),
        errors_by_class=tuple(sorted(_get(errors, "by_class", dict, "errors").items())),
        error_messages=_parse_messages(_get(errors, "messages", list, "errors")),
        error_messages_dropped=_nonneg_int(errors, "messages_dropped", "errors"),
        timeline=_parse_timeline(_get(doc, "timeline", list, "result")),
        cpu_total_s=float(_number(cpu, "total_s", "cpu") or 0.0),
        cpu_master_s=float(_number(cpu, "master_s", "cpu") or 0.0),
        cpu_workers_s=tuple(float(x) for x in workers_cpu),
        cpu_warning=_get(sat, "cpu_warning", bool, "saturation"),
        worker_cpu_warning=_get(sat, "worker_cpu_warning", bool, "saturation"),
        users_asked=_nonneg_int(sat, "users_asked", "saturation"),
        users_running_at_start=_nonneg_int(sat, "users_running_at_start", "saturation"),
        max_process_cpu_fraction=float(_number(sat, "max_process_cpu_fraction", "saturation") or 0.0),
        window_monotonic=master_clock,
        worker_windows_monotonic=worker_clocks,
    )


def load_result(text: str) -> LocustResult:
    """Parse the harness JSON file's text."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"harness result is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise ValueError("harness result: top level must be an object")
    return parse_result(doc)


def to_hdr_pairs(response_times_ms: Mapping[int, int] | tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """Locust's rounded {ms: count} as [(value_ns, count)] for recording into an HDR histogram.

    Locust already rounded each time (bucket_response_time in locust/stats.py, 2.47):
    whole ms below 100 ms, 10 ms steps below 1 s, 100 ms steps below 10 s, then 1 s steps.
    The bucket key is the rounded value itself (a 147 ms request is stored as 150), so
    the key in ns is the best value to record; resolution below Locust's is not recoverable.
    Bucket 0 means "< 0.5 ms" and is recorded as 0 ns (HDR histograms accept 0).
    """
    items = response_times_ms.items() if isinstance(response_times_ms, Mapping) else response_times_ms
    pairs = []
    for ms, count in items:
        if int(ms) < 0 or count < 0:
            raise ValueError(f"bad response time bucket {ms!r}: {count!r}")
        if count:
            pairs.append((int(ms) * 1_000_000, int(count)))
    return sorted(pairs)


# ---------------------------------------------------------------- stderr diagnosis

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')
_EXC_LINE = re.compile(
    r"^(?P<type>[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)|SyntaxError|IndentationError|TabError)"
    r"(: (?P<msg>.*))?$"
)
_LOCUST_ERROR = re.compile(r"/ERROR/locust\.[\w.]+: (?P<msg>.+)$")


def _is_internal(path: str) -> bool:
    return path.startswith("<") or "/site-packages/" in path or "/lib/python3" in path


def _last_traceback(lines: list[str]) -> tuple[tuple[str, int] | None, str] | None:
    """(deepest user frame, 'Type: message') of the last traceback in lines."""
    start = max(
        (i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")),
        default=-1,
    )
    if start < 0:
        return None
    frames: list[tuple[str, int]] = []
    exc_line = ""
    for line in lines[start + 1 :]:
        if m := _FRAME.match(line):
            frames.append((m["file"], int(m["line"])))
        elif _EXC_LINE.match(line.strip()) and not line.startswith(" "):
            exc_line = line.strip()
    if not exc_line:
        return None
    user_frames = [f for f in frames if not _is_internal(f[0])]
    candidates = user_frames or frames
    return (candidates[-1] if candidates else None), exc_line


def locustfile_problem(stderr_text: str, locustfile: str | None = None) -> str | None:
    """Explain why locust refused to start, as 'file:line: message', or None if no problem seen.

    Handles a traceback while importing the locustfile (SyntaxError points at the file and
    line itself; other exceptions at their deepest frame outside site-packages/stdlib) and
    Locust's own logged errors such as 'No User class found!', which name no file, so the
    locustfile path is prefixed when given.
    """
    lines = stderr_text.splitlines()
    if "load_locustfile_pytest" in stderr_text:
        # Locust 2.4x tries a file without User classes as a pytest-style locustfile, and with pytest
        # installed that attempt can crash deep inside pytest: the real problem is the missing User class.
        where = locustfile or "the locustfile"
        return f"{where}: No User class found! (define a subclass of locust's HttpUser or FastHttpUser)"
    traceback_info = _last_traceback(lines)
    if traceback_info is not None:
        frame, exc_line = traceback_info
        return f"{frame[0]}:{frame[1]}: {exc_line}" if frame else exc_line
    for line in reversed(lines):
        if m := _LOCUST_ERROR.search(line):
            return f"{locustfile}: {m['msg']}" if locustfile else m["msg"]
    for line in reversed(lines):
        # Some checks write plain text to stderr before logging is set up.
        if line.startswith(("Duplicate user class names", "Duplicate shape classes", "Could not find")):
            return f"{locustfile}: {line.strip()}" if locustfile else line.strip()
    return None
