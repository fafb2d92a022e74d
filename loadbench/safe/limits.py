"""Every bound on what a user may ask for, in one place, each refused with one line naming it.

A scenario, a `bench` command line and the Python API meet the same bounds: scenario validation reports
them as problems with file, line and key; the engine checks them again before it starts (so `bench` and
the API are covered); the results reader applies the size limits. Each check returns the problem as a
sentence (None when the value is fine), so every caller words the "where" its own way.

    MAX_REPEAT = 1000                   repetitions of a sweep
    MAX_ROUNDS = 200                    rounds of an adaptive run (its stop rule's last look is at 200 pairs)
    MAX_DURATION_S = 24 h               any duration: a trial, its warm-up, a stage, a request timeout
    MIN_TIMEOUT_S = 10 ms               a shorter per-request deadline is not enforced by any backend
    FD_MARGIN = 64                      connections may use the fd hard limit minus this
    MAX_RATE_PER_PROCESS = 200 000/s    an engine process cannot schedule faster (see rate_problem)
    MAX_SCHEDULED = 50 000 000          requests an open-loop schedule may hold for one trial
    MAX_RESULTS_LINE_BYTES = 16 MiB     one line of a results file
    MAX_RESULTS_FILE_BYTES = 1 GiB      a whole results file (read with this cap, so /dev/zero stops)
    MAX_TOML_DEPTH = 32                 nesting of arrays and inline tables in a scenario
    MAX_SCENARIO_BYTES = 1 MiB          a scenario file

A request line and header that the wire cannot carry (request_problem) is refused here too, at
validation time, rather than after a server has started.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable

__all__ = [
    "FD_MARGIN",
    "MAX_DURATION_S",
    "MAX_RATE_PER_PROCESS",
    "MAX_REPEAT",
    "MAX_RESULTS_FILE_BYTES",
    "MAX_RESULTS_LINE_BYTES",
    "MAX_ROUNDS",
    "MAX_SCENARIO_BYTES",
    "MAX_SCHEDULED",
    "MAX_TOML_DEPTH",
    "MIN_TIMEOUT_S",
    "connections_problem",
    "duration_problem",
    "fd_hard_limit",
    "processes_problem",
    "rate_problem",
    "repeat_problem",
    "request_problem",
    "rounds_problem",
    "timeout_problem",
    "toml_depth",
]

MAX_REPEAT = 1000
MAX_ROUNDS = 200
MAX_PIPELINE = 1024  # requests in flight per connection (bench --pipeline, scenario pipeline)
MAX_DURATION_S = 24 * 3600.0
MIN_TIMEOUT_S = 0.010
FD_MARGIN = 64
MAX_RATE_PER_PROCESS = 200_000.0
MAX_SCHEDULED = 50_000_000
MAX_RESULTS_LINE_BYTES = 16 * 1024 * 1024
MAX_RESULTS_FILE_BYTES = 1024 * 1024 * 1024
MAX_TOML_DEPTH = 32
MAX_SCENARIO_BYTES = 1024 * 1024


def repeat_problem(repeat: int) -> str | None:
    if repeat > MAX_REPEAT:
        return f"{repeat} repetitions is more than the limit of {MAX_REPEAT}; run fewer (3 to 10 is usual)"
    return None


def rounds_problem(rounds: int) -> str | None:
    if rounds > MAX_ROUNDS:
        return (f"{rounds} rounds is more than the limit of {MAX_ROUNDS}; use fewer (the budget usually ends "
                "an adaptive run first)")
    return None


def duration_problem(seconds: float) -> str | None:
    if not seconds <= MAX_DURATION_S:  # also NaN
        return f"{seconds:g} s is longer than the limit of 24 h ({MAX_DURATION_S:g} s); use a shorter one"
    return None


def timeout_problem(seconds: float) -> str | None:
    if seconds < MIN_TIMEOUT_S:
        return (f"{seconds * 1000:g} ms is shorter than the limit of {MIN_TIMEOUT_S * 1000:g} ms, below "
                "which a request deadline is not enforced; use 10ms or more")  # fmt: skip
    return duration_problem(seconds)


def fd_hard_limit() -> int | None:
    """The hard RLIMIT_NOFILE of this process, None when unlimited."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if hard == resource.RLIM_INFINITY else int(hard)


def connections_problem(connections: int, hard_limit: int | None = None) -> str | None:
    """Connections beyond the file-descriptor hard limit minus FD_MARGIN cannot be opened."""
    hard = fd_hard_limit() if hard_limit is None else hard_limit
    if hard is not None and connections > hard - FD_MARGIN:
        return (f"{connections} connections exceed the file-descriptor limit: the hard limit is {hard}, "
                f"minus {FD_MARGIN} kept for the engine itself; ask for at most {max(hard - FD_MARGIN, 1)} "
                "connections, or raise the limit (ulimit -n, and ulimit -Hn as root)")  # fmt: skip
    return None


def processes_problem(processes: int, client_cpus: int | None = None) -> str | None:
    """More engine processes than client CPUs only makes them fight for the same cores."""
    cpus = client_cpus if client_cpus is not None else len(os.sched_getaffinity(0))
    if processes > cpus:
        return (f"{processes} engine processes exceed the {cpus} client CPU(s) they run on; "
                f"use at most {cpus}")
    return None


def rate_problem(rate_per_s: float, duration_s: float | None, processes: int = 1) -> str | None:
    """A rate the engine cannot schedule within its deadline: too fast per process, or too many requests
    to hold in one trial's schedule."""
    if not rate_per_s < float("inf"):
        return f"{rate_per_s:g}/s is not a rate; give a finite one like 500/s"
    ceiling = MAX_RATE_PER_PROCESS * max(processes, 1)
    if rate_per_s > ceiling:
        return (f"{rate_per_s:,.0f}/s is more than {processes} engine process(es) can schedule "
                f"({MAX_RATE_PER_PROCESS:,.0f}/s each); lower the rate or add --processes")
    if duration_s is not None and rate_per_s * duration_s > MAX_SCHEDULED:
        total = rate_per_s * duration_s
        return (f"{rate_per_s:,.0f}/s for {duration_s:g} s is {total:,.0f} requests, more than the "
                f"{MAX_SCHEDULED:,} one trial may schedule; shorten the duration or lower the rate")
    return None


def request_problem(method: str, path: str, headers: Iterable[tuple[str, str]] = ()) -> str | None:
    """Why this request cannot go on the wire as HTTP/1.1 (None when it can).

    The path must start with / and be printable ASCII without spaces (percent-encode anything else);
    header names are tokens, values carry no line breaks or control characters and fit in Latin-1.
    """
    if not method.isascii() or not method.isalpha():
        return f"method {method!r} is not an HTTP method; use one like GET or POST"
    if not path.startswith("/"):
        return f"path {path!r} must start with /"
    bad = [c for c in path if not ("!" <= c <= "~")]
    if bad:
        return (f"path {path!r} contains {bad[0]!r}; a request path is printable ASCII without spaces or "
                "line breaks: percent-encode it (a space is %20)")
    for name, value in headers:
        if not name or not all("!" <= c <= "~" and c != ":" for c in name):
            return f"header name {name!r} is not a token; write it like 'Accept: text/plain'"
        if any(c in value for c in "\r\n\x00") or any(ord(c) > 0xFF or (ord(c) < 0x20 and c != "\t")
                                                    for c in value):
            return (f"header {name}: value {value!r} contains a line break, a control character or a "
                    "character outside Latin-1; remove it or percent-encode it")
    return None


def toml_depth(text: str) -> int:
    """The deepest nesting of arrays and inline tables in TOML `text` (strings and comments skipped).

    Table headers ([a], [[a]]) open nothing; only value brackets count. A cheap scan that lets a
    scenario be refused before tomllib recurses into it.
    """
    depth = deepest = 0
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if c in "\"'":
            quote = text[i:i + 3] if text[i:i + 3] in ('"""', "'''") else c
            j = i + len(quote)
            while j < n and text[j:j + len(quote)] != quote:
                j += 2 if c == '"' and text[j] == "\\" else 1
            i = j + len(quote)
            at_line_start = False
            continue
        if c == "\n":
            at_line_start = depth == 0
        elif c in "[{":
            if at_line_start and c == "[":  # a table header: skip to the end of the line
                end = text.find("\n", i)
                i = n if end < 0 else end
                continue
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(depth - 1, 0)
        elif not c.isspace():
            at_line_start = False
        i += 1
    return deepest
