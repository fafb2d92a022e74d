"""The measured window from its user-facing spellings: `bench --duration/--requests/--timeout` and
`loadbench.bench(duration=, requests=, timeout=)`, checked the same way for both."""

from __future__ import annotations

from collections.abc import Callable

from loadbench.errors import UsageError
from loadbench.units import parse_count, parse_duration

DEFAULT_DURATION_S = 10.0  # when neither a duration nor a request budget bounds the run


def measured_window(
    duration: float | str | None, requests: int | str | None, timeout: float | str, *,
    name: Callable[[str], str], said: Callable[[str, object], str],
) -> tuple[float | None, int | None, float]:  # fmt: skip
    """(duration_s, max_requests, timeout_s): the window in seconds (None when only the request budget
    bounds it), the request budget (None: none) and each request's deadline. `name` spells an option
    ("--duration" or "duration"), `said` an option with its value at the head of an error."""
    limit = parse_count(requests, what=name("requests")) if requests is not None else None
    if limit == 0:
        raise UsageError(f"{said('requests', 0)} must be at least 1")
    run_s = (parse_duration(duration, what=name("duration")) if duration is not None
             else (None if limit else DEFAULT_DURATION_S))  # fmt: skip
    if run_s is not None and run_s <= 0:
        raise UsageError(f"{said('duration', duration)} must be longer than 0 s")
    timeout_s = parse_duration(timeout, what=name("timeout"))
    if timeout_s <= 0:
        raise UsageError(f"{said('timeout', timeout)} must be longer than 0 s")
    return run_s, limit, timeout_s
