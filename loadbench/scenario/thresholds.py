"""Parse threshold expressions such as `p99{workload=/json} < 20ms` into Threshold values.

Grammar (whitespace is allowed between tokens)::

    threshold ::= metric [ "{" filter { "," filter } "}" ] op number [ unit ]
    metric    ::= "rps" | "mean" | "min" | "max" | percentile
                | "error_rate" | "errors" | "server_cpu" | "server_rss" | "check_failed"
                | "cpu_per_request"
                | ("connect_" | "tls_" | "ttfb_") ("mean" | "p50" | "p90" | "p95" | "p99" | "p99.9" | "max")
                | k6_metric
    percentile::= "p" digits [ "." digits ]           any percentile above 0 and below 100: p50, p75, p99.99
    k6_metric ::= "p(" digits [ "." digits ] ")"      k6's spelling of a percentile: p(95) = p95
                | "avg" | "med"                       k6's names of mean and p50
                | "rate"                              k6's http_req_failed rate: error_rate as a fraction
    filter    ::= key "=" value
    key       ::= "model" | "workload" | "load" | "variant"
    value     ::= any characters except "," and "}" (surrounding spaces dropped)
    op        ::= "<" | "<=" | ">" | ">=" | "=="
    number    ::= digits [ "." digits ] | "." digits
    unit      ::= "us" | "µs" | "ms" | "s"       for times: mean, p50 ... p99.9, max, connect_*,
                                                 tls_*, ttfb_*, and cpu_per_request (the server's
                                                 CPU time per response)
                | "/s" | "k/s"                   for rps (requests per second)
                | "%"                            for error_rate (of requests) and server_cpu (100 % = 1 core)
                | "MB"                           for server_rss (the server's peak resident memory)
                | (none)                         for errors (a count: transport errors + non-2xx responses)
                                                 and check_failed (responses a check rejected)

`connect_*` is the time to connect of each new connection, `tls_*` its TLS handshake (https) and `ttfb_*`
each response's time to first byte from its send (the native engine's timing breakdown); a trial without
them has no figure for these.
The unit is mandatory wherever the grammar lists one and forbidden for counts, so `p99 < 50` (50 what?)
is an error. There are exactly two unit-less forms, both k6's: `p(95) < 200` means 200 ms (k6's
http_req_duration is in milliseconds), and `rate < 0.01` is a fraction of requests (0.01 = 1 %).
`p(95)<200ms`, `avg`, `med`, `min` and `max` take units as above.
 Filters select trials: `model` (the server's name in the scenario), `workload`, `load` (the
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
    "check_failed": MetricKind.COUNT,
    **{f"{part}_{key}": MetricKind.TIME for part in ("connect", "tls", "ttfb")
       for key in ("mean", "p50", "p90", "p95", "p99", "p99.9", "max")},
}
# The timing breakdown's metrics: `connect_p99` reads the trial's connect_ms, `tls_p99` its tls_ms,
# `ttfb_p50` its ttfb_ms.
BREAKDOWN_PARTS = ("connect", "tls", "ttfb")
# The names an unknown-metric message lists (the breakdown's families are named in the docs; a near miss
# such as 'ttfb_p98' still gets its "did you mean" from every metric).
_BREAKDOWN_PREFIXES = ("connect_", "tls_", "ttfb_")
LISTED_METRICS = [m for m in METRICS if not m.startswith(_BREAKDOWN_PREFIXES) and m != "check_failed"]
FILTER_KEYS = ("model", "workload", "load", "variant")
#: k6's metric names -> ours (k6 docs, "Thresholds": avg, min, med, max, p(N); http_req_failed's rate).
K6_ALIASES = {"avg": "mean", "med": "p50", "rate": "error_rate"}
#: Time metrics beyond METRICS' list (which error messages name): the fastest response.
EXTRA_METRICS: dict[str, MetricKind] = {"min": MetricKind.TIME}
#: The metric spellings after which a bare number is accepted (k6's): p(N) in ms, rate as a fraction.
UNITLESS_SPELLINGS = ("p(N)", "rate")
_PERCENTILE_RE = re.compile(r"p(\d+(?:\.\d+)?)")
_K6_PERCENTILE_RE = re.compile(r"p\(\s*(\d+(?:\.\d+)?)\s*\)")


def percentile_of(metric: str) -> float | None:
    """The percentile a metric name stands for (p99.9 -> 99.9, p50 -> 50), None for other metrics."""
    match = _PERCENTILE_RE.fullmatch(metric)
    return float(match.group(1)) if match else None


def metric_kind(metric: str) -> MetricKind | None:
    """The kind of a canonical metric name: one of METRICS or any pNN; None when it is not a metric."""
    if metric in METRICS:
        return METRICS[metric]
    if metric in EXTRA_METRICS:
        return EXTRA_METRICS[metric]
    return MetricKind.TIME if percentile_of(metric) is not None else None


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
        self.bare_number_ok = False  # set by k6's spellings p(N) and rate

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
        k6 = _K6_PERCENTILE_RE.match(self.text, self.pos)
        if k6:  # p(95): k6's percentile, in ms when the number has no unit
            canonical = self._percentile(k6.group(1), self.pos)
            self.pos, self.bare_number_ok = k6.end(), True
            return canonical, MetricKind.TIME
        if self.text.startswith("p(", self.pos):
            raise _Syntax(self.pos, "write k6's percentile as p(N), N between 0 and 100, like p(95)")
        match = _NAME_RE.match(self.text, self.pos)
        if not match:
            raise _Syntax(self.pos, f"expected a metric name ({_metric_list()})")
        name = match.group()
        canonical = "p99.9" if name in ("p99_9", "p999") else K6_ALIASES.get(name, name)
        known = canonical in METRICS or canonical in EXTRA_METRICS
        if not known and _PERCENTILE_RE.fullmatch(canonical):
            canonical = self._percentile(canonical[1:], self.pos)
        elif not known:
            close = difflib.get_close_matches(name, list(METRICS), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise _Syntax(self.pos, f"unknown metric '{name}'; use one of {_metric_list()}{hint}")
        self.pos = match.end()
        self.bare_number_ok = name == "rate"
        return canonical, metric_kind(canonical) or MetricKind.TIME

    @staticmethod
    def _percentile(number: str, column: int) -> str:
        """The canonical name of percentile `number` ("95" -> "p95", "99.90" -> "p99.9")."""
        value = float(number)
        if not 0 < value < 100:
            other = "max" if value >= 100 else "min"
            raise _Syntax(column, f"percentile {number} is outside (0, 100); use {other} for the extreme")
        return f"p{value:g}"

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
            if units and not self.bare_number_ok:
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


def _metric_list() -> str:
    """The metrics error messages name (the grammar in the module docstring has every spelling)."""
    return ", ".join(LISTED_METRICS)


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
