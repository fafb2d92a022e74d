"""Parse threshold expressions such as `p99{workload=/json} < 20ms` into Threshold values.

Grammar (whitespace is allowed between tokens)::

    threshold ::= metric [ "{" filter { "," filter } "}" ] op number [ unit ]
    metric    ::= "rps" | "mean" | "p50" | "p90" | "p95" | "p99" | "p99.9" | "max"
                | "error_rate" | "errors" | "server_cpu" | "server_rss" | "cpu_per_request"
    filter    ::= key "=" value
    key       ::= "model" | "workload" | "load" | "variant"
    value     ::= any characters except "," and "}" (surrounding spaces dropped)
    op        ::= "<" | "<=" | ">" | ">=" | "=="
    number    ::= digits [ "." digits ] | "." digits
    unit      ::= "us" | "µs" | "ms" | "s"       for times: mean, p50 ... p99.9, max, and
                                                 cpu_per_request (the server's CPU time per response)
                | "/s" | "k/s"                   for rps (requests per second)
                | "%"                            for error_rate (of requests) and server_cpu (100 % = 1 core)
                | "MB"                           for server_rss (the server's peak resident memory)
                | (none)                         for errors (a count: transport errors + non-2xx responses)

The unit is mandatory wherever the grammar lists one and forbidden for counts, so `p99 < 50` (50 what?)
is an error. Filters select trials: `model` (the server's name in the scenario), `workload`, `load` (the
load point's label, e.g. `64c` or `500/s`) and `variant` (baseline/candidate in a paired run). Every bad
expression raises one UsageError that prints the expression with a caret under the offending column.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from loadbench.errors import UsageError


class MetricKind(Enum):
    """What a metric measures, which fixes the units it accepts and its base unit."""

    TIME = "a time"  # base: milliseconds
    RATE = "a rate"  # base: requests per second
    FRACTION = "a percentage of requests"  # base: a fraction 0..1, typed in %
    PERCENT = "a CPU percentage"  # base: percent (100 = one core)
    SIZE = "a memory size"  # base: MB
    COUNT = "a count"  # no unit


_UNITS: dict[MetricKind, dict[str, float]] = {
    MetricKind.TIME: {"us": 0.001, "µs": 0.001, "ms": 1.0, "s": 1000.0},
    MetricKind.RATE: {"/s": 1.0, "k/s": 1000.0},
    MetricKind.FRACTION: {"%": 0.01},
    MetricKind.PERCENT: {"%": 1.0},
    MetricKind.SIZE: {"MB": 1.0},
    MetricKind.COUNT: {},
}

# metric name -> kind; the order is the order error messages list them in.
METRICS: dict[str, MetricKind] = {
    "rps": MetricKind.RATE,
    "mean": MetricKind.TIME,
    "p50": MetricKind.TIME,
    "p90": MetricKind.TIME,
    "p95": MetricKind.TIME,
    "p99": MetricKind.TIME,
    "p99.9": MetricKind.TIME,
    "max": MetricKind.TIME,
    "error_rate": MetricKind.FRACTION,
    "errors": MetricKind.COUNT,
    "server_cpu": MetricKind.PERCENT,
    "server_rss": MetricKind.SIZE,
    "cpu_per_request": MetricKind.TIME,
}
FILTER_KEYS = ("model", "workload", "load", "variant")


class Op(Enum):
    """A comparison operator; `holds(value, limit)` applies it."""

    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    EQ = "=="

    def holds(self, value: float, limit: float) -> bool:
        """Return whether `value OP limit`; == compares with a relative tolerance of 1e-9."""
        if self is Op.EQ:
            return math.isclose(value, limit, rel_tol=1e-9, abs_tol=1e-12)
        compare: Callable[[float, float], bool] = _COMPARE[self]
        return compare(value, limit)


_COMPARE: dict[Op, Callable[[float, float], bool]] = {
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """One parsed threshold.

    `text` is the expression as typed; `limit` is in the metric's base unit (ms for times, requests/s,
    a 0..1 fraction for error_rate, percent for server_cpu, MB, or a count); `limit_text` is the limit
    as typed (e.g. "50ms"); `filters` are (key, value) pairs in the order typed; `source` says where
    the expression came from (for messages).
    """

    text: str
    metric: str
    kind: MetricKind
    filters: tuple[tuple[str, str], ...]
    op: Op
    limit: float
    limit_text: str
    source: str = "--threshold"


class _Syntax(Exception):
    """A parse problem at a column; turned into a UsageError with a caret line by parse_threshold."""

    def __init__(self, column: int, problem: str) -> None:
        super().__init__(problem)
        self.column = column
        self.problem = problem


_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_NUMBER_RE = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_OP_RE = re.compile(r"<=|>=|==|<|>|=>|=<|!=|=")


def caret_message(header: str, text: str, column: int) -> str:
    """Return `header`, the expression and a caret under `column`, each on its own line."""
    shown = text.replace("\t", " ")
    return f"{header}\n  {shown}\n  {' ' * column}^"


def parse_threshold(text: str, *, source: str = "--threshold") -> Threshold:
    """Parse one threshold expression (grammar in the module docstring).

    Raises UsageError naming the problem, with the expression and a caret under the offending column.
    """
    try:
        return _Parser(text, source).parse()
    except _Syntax as exc:
        header = f"bad threshold ({source}): {exc.problem}"
        raise UsageError(caret_message(header, text, exc.column)) from None


def parse_thresholds(texts: tuple[str, ...] | list[str], *, source: str) -> tuple[Threshold, ...]:
    """Parse several expressions from one source; the n-th is labelled `source[n]` (1-based)."""
    return tuple(parse_threshold(t, source=f"{source}[{i}]") for i, t in enumerate(texts, start=1))


class _Parser:
    """A one-pass scanner over the expression; each step raises _Syntax at the column it fails."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.pos = 0

    def _skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _at_end(self) -> bool:
        return self.pos >= len(self.text)

    def parse(self) -> Threshold:
        self._skip_ws()
        if self._at_end():
            raise _Syntax(self.pos, "empty expression; write one like 'p99 < 50ms'")
        metric, kind = self._metric()
        self._skip_ws()
        filters = self._filters() if not self._at_end() and self.text[self.pos] == "{" else ()
        self._skip_ws()
        op = self._op(metric)
        self._skip_ws()
        limit, limit_text = self._value(metric, kind)
        return Threshold(
            text=self.text.strip(),
            metric=metric,
            kind=kind,
            filters=filters,
            op=op,
            limit=limit,
            limit_text=limit_text,
            source=self.source,
        )

    def _metric(self) -> tuple[str, MetricKind]:
        match = _NAME_RE.match(self.text, self.pos)
        if not match:
            raise _Syntax(self.pos, f"expected a metric name ({', '.join(METRICS)})")
        name = match.group()
        canonical = "p99.9" if name in ("p99_9", "p999") else name
        if canonical not in METRICS:
            close = difflib.get_close_matches(name, list(METRICS), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise _Syntax(self.pos, f"unknown metric '{name}'; use one of {', '.join(METRICS)}{hint}")
        self.pos = match.end()
        return canonical, METRICS[canonical]

    def _filters(self) -> tuple[tuple[str, str], ...]:
        opening = self.pos
        self.pos += 1  # the "{"
        filters: list[tuple[str, str]] = []
        while True:
            self._skip_ws()
            if self._at_end():
                raise _Syntax(opening, "unclosed '{': close the filters with '}'")
            key_at = self.pos
            match = _NAME_RE.match(self.text, self.pos)
            if not match:
                raise _Syntax(self.pos, f"expected a filter key ({', '.join(FILTER_KEYS)})")
            key = match.group()
            if key not in FILTER_KEYS:
                raise _Syntax(key_at, f"unknown filter key '{key}'; use one of {', '.join(FILTER_KEYS)}")
            if any(key == k for k, _ in filters):
                raise _Syntax(key_at, f"filter key '{key}' given twice")
            self.pos = match.end()
            self._skip_ws()
            if self._at_end() or self.text[self.pos] != "=":
                raise _Syntax(self.pos, f"expected '=' after filter key '{key}'")
            self.pos += 1
            value_at = self.pos
            while not self._at_end() and self.text[self.pos] not in ",}":
                self.pos += 1
            value = self.text[value_at : self.pos].strip()
            if not value:
                raise _Syntax(value_at, f"empty value for filter '{key}'")
            filters.append((key, value))
            if self._at_end():
                raise _Syntax(opening, "unclosed '{': close the filters with '}'")
            if self.text[self.pos] == "}":
                self.pos += 1
                return tuple(filters)
            self.pos += 1  # the ","

    def _op(self, metric: str) -> Op:
        match = _OP_RE.match(self.text, self.pos)
        if not match:
            raise _Syntax(self.pos, f"expected an operator (<, <=, >, >=, ==) after '{metric}'")
        token = match.group()
        try:
            op = Op(token)
        except ValueError:
            raise _Syntax(self.pos, f"unknown operator '{token}'; use <, <=, >, >= or ==") from None
        self.pos = match.end()
        return op

    def _value(self, metric: str, kind: MetricKind) -> tuple[float, str]:
        number_at = self.pos
        match = _NUMBER_RE.match(self.text, self.pos)
        if not match:
            raise _Syntax(self.pos, f"expected a number after the operator (e.g. {_example(kind)})")
        number = float(match.group())
        self.pos = match.end()
        unit_at = self.pos
        self._skip_ws()
        rest = self.text[self.pos :].rstrip()
        units = _UNITS[kind]
        if not rest:
            if units:
                raise _Syntax(
                    unit_at,
                    f"missing unit: {metric} is {kind.value}; write one of {_unit_list(kind)} "
                    f"after the number (e.g. {_example(kind)})",
                )
            return number, self.text[number_at:unit_at]
        unit_start = self.pos
        space = re.search(r"\s+", rest)
        if space:
            extra = rest[space.end() :]
            problem = f"unexpected text '{extra}' after '{rest[: space.start()]}'"
            raise _Syntax(unit_start + space.end(), problem)
        if not units:
            raise _Syntax(unit_start, f"{metric} is {kind.value} and takes no unit; remove '{rest}'")
        if rest not in units:
            raise _Syntax(
                unit_start, f"unit '{rest}' does not fit {metric} ({kind.value}); use {_unit_list(kind)}"
            )
        return number * units[rest], self.text[number_at : unit_start + len(rest)].replace(" ", "")


def _unit_list(kind: MetricKind) -> str:
    names = [u for u in _UNITS[kind] if u != "µs"]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _example(kind: MetricKind) -> str:
    return {
        MetricKind.TIME: "50ms",
        MetricKind.RATE: "1000/s",
        MetricKind.FRACTION: "1%",
        MetricKind.PERCENT: "90%",
        MetricKind.SIZE: "200MB",
        MetricKind.COUNT: "10",
    }[kind]


def format_value(kind: MetricKind, value: float) -> str:
    """Format a value in the metric's base unit for people: 23.4ms, 1234/s, 0.5%, 97%, 41MB, 3."""
    if kind is MetricKind.TIME:
        return f"{value * 1000:.3g}us" if value < 1 else f"{value:.4g}ms"
    if kind is MetricKind.RATE:
        return f"{value:,.0f}/s" if value >= 100 else f"{value:.3g}/s"
    if kind is MetricKind.FRACTION:
        return f"{value * 100:.3g}%"
    if kind is MetricKind.PERCENT:
        return f"{value:.3g}%"
    if kind is MetricKind.SIZE:
        return f"{value:.4g}MB"
    return f"{value:g}"
