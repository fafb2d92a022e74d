"""[load]'s idle and slow clients: `idle`, `idle_mode`, `trickle_interval`, `idle_path`, `slow_readers`,
`read_rate`, `slow_path` → the Crowds every load point runs beside (their product, in order).

`idle` and `slow_readers` are counts or lists of counts (0 included: the baseline), swept like the load
points: `idle = [0, 1000, 5000]` runs each load point three times. Problems go to the shared collector.
"""

from __future__ import annotations

from typing import cast

from loadbench.errors import UsageError
from loadbench.scenario.schema import UNIT_WHAT, Reader, unit_problem
from loadbench.types import Crowd, IdleMode
from loadbench.units import parse_byte_rate, parse_count

__all__ = ["CROWD_KEYS", "parse_crowds"]

CROWD_KEYS = ("idle", "idle_mode", "trickle_interval", "idle_path", "slow_readers", "read_rate", "slow_path")


def _sweep(reader: Reader, key: str) -> list[int]:
    value = reader.table.get(key, 0)
    items = value if isinstance(value, list) else [value]
    if not items:
        reader.report(key, "is empty; give at least one count, e.g. [0, 1000]")
    counts: list[int] = []
    for item in items:
        try:
            counts.append(parse_count(item, what=UNIT_WHAT))
        except UsageError as exc:
            reader.report(key, unit_problem(exc))
    return counts or [0]


def parse_crowds(reader: Reader) -> tuple[Crowd, ...]:
    """The crowds of [load], idle counts outermost; (Crowd(),) when none is asked for."""
    mode = cast(IdleMode, reader.string("idle_mode", "keepalive", choices=("keepalive", "trickle")))
    interval = reader.duration("trickle_interval", 1.0)
    paths: dict[str, str | None] = {}
    for key, default in (("idle_path", None), ("slow_path", "/static/1m.bin")):
        path = reader.string(key, default)
        if path is not None and not path.startswith("/"):
            reader.report(key, f"{path!r} must start with / (the server's host and port are used)")
        paths[key] = path
    rate = 1024.0
    if "read_rate" in reader.table:
        try:
            rate = parse_byte_rate(reader.table["read_rate"], what=UNIT_WHAT)
        except UsageError as exc:
            reader.report("read_rate", unit_problem(exc))
    return tuple(
        Crowd(idle=idle, idle_mode=mode, trickle_interval_s=interval, idle_path=paths["idle_path"],
              slow_readers=slow, read_rate_bps=rate, slow_path=paths["slow_path"] or "/static/1m.bin")
        for idle in _sweep(reader, "idle") for slow in _sweep(reader, "slow_readers")
    )  # fmt: skip
