"""The [locust] table: the Locust backend's own settings, validated into (key, scalar) pairs.

    [locust]
    file = "locust/shop.py"   # relative to the scenario file; made absolute here
    spawn_rate = 50           # users started per second (default: all within about a second)
    workers = 2               # a master plus N local workers (default 0: one process)
    remote_workers = 4        # and N workers you start on other machines (see docs/distributed.md)
    bind = "10.0.0.5"         # the master's address for them (default 127.0.0.1)
    master_port = 5557        # a fixed port for them (default: a free one)
    workers_timeout = "30s"   # how long to wait for every worker to connect

Users come from [load] connections and the window from duration and warmup, as for every engine. A
[locust] table needs engine = "locust"; Locust has no open loop, so rates are refused with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loadbench.scenario.schema import Reader
from loadbench.scenario.text import Problems
from loadbench.scenario.types import LoadSpec, Workload
from loadbench.types import RequestSpec

__all__ = ["LOCUSTFILE_WORKLOAD", "LOCUST_KEYS", "check_engine_load", "locustfile_workload", "parse_locust"]

LOCUST_KEYS = ("file", "spawn_rate", "workers", "remote_workers", "workers_timeout", "bind", "master_port")
#: The one workload of a scenario whose requests come from a locustfile (its request names become the
#: workloads of the results).
LOCUSTFILE_WORKLOAD = "locustfile"

EngineSettings = tuple[tuple[str, str | int | float | bool], ...]


def parse_locust(problems: Problems, raw: object, engine: str, base: Path) -> EngineSettings:
    """The [locust] table as sorted (key, value) pairs; `file` resolved against `base` and checked."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        problems.add(f"{raw!r} must be a table: [locust]", key="locust")
        return ()
    if engine != "locust":
        problems.add(f"[locust] only applies with engine = \"locust\" (engine is {engine!r}); add "
                     "engine = \"locust\" at the top or remove the table", section="locust")  # fmt: skip
    reader = Reader(problems, raw, "locust")
    reader.check_keys(LOCUST_KEYS)
    settings: dict[str, Any] = {}
    file = reader.string("file")
    if file is not None:
        path = (base / file).resolve()
        if not path.is_file():
            reader.report("file", f"{file!r}: no such file (looked for {path})")
        elif path.suffix != ".py":
            reader.report("file", f"{file!r} is not a Python file (a locustfile ends in .py)")
        settings["file"] = str(path)
    spawn_rate = raw.get("spawn_rate")
    if spawn_rate is not None:
        if isinstance(spawn_rate, bool) or not isinstance(spawn_rate, int | float) or spawn_rate <= 0:
            reader.report("spawn_rate", f"{spawn_rate!r} must be a positive number of users per second")
        else:
            settings["spawn_rate"] = float(spawn_rate)
    for key in ("workers", "remote_workers", "master_port"):
        number = reader.count(key, minimum=0 if key != "master_port" else 1)
        if number:
            settings[key] = number
    if "workers_timeout" in raw:
        settings["workers_timeout"] = reader.duration("workers_timeout", 30.0)
    bind = reader.string("bind")
    if bind is not None:
        settings["bind"] = bind
    return tuple(sorted(settings.items()))


def locustfile_workload() -> Workload:
    """The workload of a scenario that sends what its locustfile says (the request is only a placeholder)."""
    return Workload(name=LOCUSTFILE_WORKLOAD, kind="locustfile", requests=(RequestSpec(path="/"),))


def check_engine_load(problems: Problems, engine: str, load: LoadSpec) -> None:
    """Locust has no open loop: rates (and rate stages) are a problem with engine = "locust"."""
    if engine != "locust" or not load.points:
        return
    if any(point.loop == "open" for point in load.points):
        problems.add("Locust has no open loop: use connections (users) or connection stages, not rates",
                     section="load")
