"""Validate what a scenario sends and how hard: [[endpoints]], [[mixes]], [load], [cpus] and [thresholds].

Like scenario_schema.py, every function records problems in the shared collector and returns its
best-effort value; scenario.py raises once at the end.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from loadbench.errors import UsageError
from loadbench.safe import limits
from loadbench.scenario.adaptive import ADAPTIVE_KEYS, parse_adaptive
from loadbench.scenario.crowd import CROWD_KEYS, parse_crowds
from loadbench.scenario.schema import (
    CHECK_KEYS,
    CPU_KEYS,
    ENDPOINT_KEYS,
    LOAD_KEYS,
    MIX_ENTRY_KEYS,
    MIX_KEYS,
    THRESHOLD_KEYS,
    UNIT_WHAT,
    Reader,
    unit_problem,
)
from loadbench.scenario.templates import TemplateState, compile_template
from loadbench.scenario.text import Problems
from loadbench.scenario.types import CpuSplit, Endpoint, LoadSpec, Workload
from loadbench.types import ArrivalProcess, Closed, Load, Open, RequestSpec, ResponseCheck, Stages
from loadbench.units import parse_count, parse_cpus, parse_rate, parse_stages, parse_statuses

__all__ = ["default_cpu_split", "parse_cpus_table", "parse_load", "parse_thresholds", "parse_workloads"]

_METHOD_RE = re.compile(r"^[A-Z]+$")


def _check(reader: Reader) -> ResponseCheck | None:
    """`expect_status` ("2xx,404", 200 or a list of either), `expect_body` and `expect_body_re`."""
    table = reader.table
    statuses: tuple[int, ...] = ()
    raw = table.get("expect_status")
    if raw is not None:
        items = raw if isinstance(raw, list) else [raw]
        if not items or any(isinstance(i, bool) or not isinstance(i, int | str) for i in items):
            reader.report("expect_status", f"{raw!r} must be a status, a string like \"2xx,404\" or a list")
        else:
            try:
                statuses = parse_statuses(",".join(str(i) for i in items), what="expect_status")
            except UsageError as exc:
                reader.report("expect_status", str(exc).removeprefix("expect_status: "))
    body = reader.string("expect_body") or ""
    body_re = reader.string("expect_body_re") or ""
    if body_re:
        try:
            re.compile(body_re.encode())
        except re.error as exc:
            reader.report("expect_body_re", f"{body_re!r} is not a regular expression ({exc})")
            body_re = ""
    check = ResponseCheck(status=statuses, body=body.encode(), body_re=body_re)
    return check if check.active else None


def _request_fields(reader: Reader, base_dir: Path) -> tuple[str, str, tuple[tuple[str, str], ...], bytes,
                                                            str | None]:  # fmt: skip
    """method, path, headers, body and template directory shared by [[endpoints]] and inline mix entries.

    Path, header values and body may hold templates (scenario/templates.py), compiled here once so a bad
    one is reported at its key; CSV files resolve from the scenario's directory."""
    path = reader.string("path", required=True) or "/"
    if not path.startswith("/"):
        reader.report("path", f"{path!r} must start with / (the target's host and port come from the server)")
    method = reader.string("method", "GET") or "GET"
    if not _METHOD_RE.match(method):
        reader.report("method", f"{method!r} is not an HTTP method; use upper case, e.g. \"POST\"")
    body = reader.table.get("body", "")
    if not isinstance(body, str):
        reader.report("body", f"{body!r} must be a string (sent as UTF-8)")
        body = ""
    headers = reader.string_pairs("headers")
    templated = False
    samples: dict[str, str] = {}  # a templated text's first rendering, checked like a plain one
    for key, text, context in [("path", path, "path"), ("body", body, "body"),
                               *(("headers", value, "header") for _, value in headers)]:  # fmt: skip
        try:
            template = compile_template(text, context=context, base_dir=base_dir)  # type: ignore[arg-type]
        except UsageError as exc:
            reader.report(key, str(exc))
            continue
        if template is not None:
            templated = True
            samples[text] = TemplateState(seed=0).render(template, 0, {}).decode("latin-1", errors="replace")
    if path.startswith("/") and _METHOD_RE.match(method):  # what the wire cannot carry, refused now
        problem = limits.request_problem(method, samples.get(path, path),
                                         [(name, samples.get(value, value)) for name, value in headers])
        if problem is not None:
            reader.report("headers" if problem.startswith("header") else "path", problem)
    return method, path, headers, body.encode(), str(base_dir) if templated else None


def parse_workloads(problems: Problems, raw_endpoints: object, raw_mixes: object,
                    base_dir: Path | None = None) -> tuple[tuple[Endpoint, ...], tuple[Workload, ...]]:
    """Endpoints, then the workloads: each standalone endpoint alone, then each mix as one workload.

    An endpoint a mix refers to by name stops being measured alone unless it sets `standalone = true`.
    """
    reported_before = len(problems.items)
    base = base_dir if base_dir is not None else Path.cwd()
    endpoints: list[Endpoint] = []
    explicit_standalone: dict[str, bool] = {}
    for index, table in enumerate(_tables(problems, raw_endpoints, "endpoints")):
        reader = Reader(problems, table, "endpoints", index)
        reader.check_keys(ENDPOINT_KEYS)
        method, path, headers, body, template_dir = _request_fields(reader, base)
        name = reader.string("name") or (path if method == "GET" else f"{method} {path}")
        if any(endpoint.name == name for endpoint in endpoints):
            reader.report("name" if "name" in table else "path",
                          f"{name!r} is used twice; give one of them name = \"...\"")
        if "standalone" in table:
            explicit_standalone[name] = reader.boolean("standalone", True)
        endpoints.append(Endpoint(name=name, method=method, path=path, headers=headers, body=body,
                                  check=_check(reader), template_dir=template_dir))
    by_name = {endpoint.name: endpoint for endpoint in endpoints}
    mixes: list[Workload] = []
    used: set[str] = set()
    for index, table in enumerate(_tables(problems, raw_mixes, "mixes")):
        reader = Reader(problems, table, "mixes", index)
        reader.check_keys(MIX_KEYS)
        name = reader.string("name", required=True) or f"mix{index + 1}"
        requests = _mix_requests(reader, by_name, used, base)
        if name in by_name or any(mix.name == name for mix in mixes):
            reader.report("name", f"{name!r} is already the name of an endpoint or mix; names must be unique")
        mixes.append(Workload(name=name, kind="mix", requests=requests))
    final = tuple(Endpoint(name=e.name, method=e.method, path=e.path, headers=e.headers, body=e.body,
                           check=e.check, standalone=explicit_standalone.get(e.name, e.name not in used),
                           template_dir=e.template_dir)
                  for e in endpoints)
    workloads = tuple(Workload(name=e.name, kind="endpoint", requests=(e.request(),))
                      for e in final if e.standalone) + tuple(mixes)
    for workload in workloads:
        if "|" in workload.name:
            problems.add(f"{workload.name!r} cannot contain '|' (it separates the parts of trial ids)",
                         key="endpoints")
    if not workloads and len(problems.items) == reported_before:
        problems.add("nothing to send: add [[endpoints]] (path = \"/plaintext\") or [[mixes]]",
                     key="endpoints")
    return final, workloads


def _tables(problems: Problems, raw: object, key: str) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if isinstance(raw, list) and all(isinstance(item, dict) for item in raw):
        return raw
    problems.add(f"must be [[{key}]] tables", key=key)
    return []


def _mix_requests(reader: Reader, by_name: dict[str, Endpoint], used: set[str], base_dir: Path,
                  ) -> tuple[RequestSpec, ...]:  # fmt: skip
    entries = reader.table.get("endpoints")
    if not isinstance(entries, list) or not entries:
        reader.report("endpoints", f"{entries!r} must be a non-empty list, e.g. endpoints = "
                                   "[{ path = \"/json\", weight = 3 }, { endpoint = \"plaintext\" }]")
        return ()
    requests: list[RequestSpec] = []
    for number, entry in enumerate(entries, start=1):
        if isinstance(entry, str):
            entry = {"endpoint": entry}
        if not isinstance(entry, dict):
            reader.report("endpoints", f"entry {number} ({entry!r}) must be an endpoint name or a table")
            continue
        sub = _EntryReader(reader, entry, number)
        sub.check_keys(MIX_ENTRY_KEYS)
        weight = entry.get("weight", 1)
        if (isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0
                or not math.isfinite(weight)):
            sub.report("weight", f"{weight!r} must be a positive number (finite)")
            weight = 1
        if "endpoint" in entry:
            clash = [key for key in ("path", "method", "headers", "body", *CHECK_KEYS) if key in entry]
            ref = entry["endpoint"]
            if clash:
                sub.report(clash[0], "either refer to an endpoint by name or describe the request, not both")
            elif not isinstance(ref, str) or ref not in by_name:
                known = ", ".join(map(repr, by_name)) or "none defined"
                sub.report("endpoint", f"{ref!r} is not the name of an [[endpoints]] entry ({known})")
            else:
                used.add(ref)
                requests.append(by_name[ref].request(float(weight)))
        else:
            method, path, headers, body, template_dir = _request_fields(sub, base_dir)
            requests.append(RequestSpec(method=method, path=path, headers=headers, body=body,
                                        weight=float(weight), check=_check(sub), template_dir=template_dir))
    return tuple(requests)


class _EntryReader(Reader):
    """A reader for one inline entry of a mix's list: problems name the entry's number."""

    def __init__(self, parent: Reader, table: dict[str, Any], number: int) -> None:
        super().__init__(parent.problems, table, parent.section, parent.index)
        self.number = number

    def report(self, key: str | None, message: str) -> None:
        label = f"entry {self.number}" + (f" {key}" if key else "")
        self.problems.add(f"{label}: {message}", section=self.section, key="endpoints", index=self.index)

    def check_keys(self, allowed: Sequence[str]) -> None:
        for key in self.table:
            if key not in allowed:
                close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else f"the keys here are: {', '.join(allowed)}"
                self.report(None, f"unknown key {key!r}; {hint}")


def parse_load(problems: Problems, raw: object, *, paired: bool, servers: int = 2) -> LoadSpec:
    """[load]: exactly one of connections / rates / stages, and the time budget of every trial."""
    if not isinstance(raw, dict):
        message = ("missing; add [load] with connections = [1, 16, 64] (or rates / stages)" if raw is None
                   else f"{raw!r} must be a table [load]")
        problems.add(message, key="load")
        return LoadSpec(points=())
    reader = Reader(problems, raw, "load")
    reader.check_keys(LOAD_KEYS + CROWD_KEYS + ADAPTIVE_KEYS)
    shapes = [key for key in ("connections", "rates", "stages") if key in raw]
    if len(shapes) != 1:
        what = "none" if not shapes else " and ".join(shapes)
        reader.report(shapes[1] if len(shapes) > 1 else None,
                      f"give exactly one of connections, rates or stages (found {what})")
    arrival = cast(ArrivalProcess, reader.string("arrival", "uniform", choices=("uniform", "poisson")))
    max_connections = reader.count("max_connections", 1024) or 1024
    closed_only = shapes == ["connections"]
    for key in ("arrival", "max_connections"):
        if key in raw and closed_only:
            reader.report(key, "applies only to rates or stages (a closed loop has a fixed connection count)")
    points: tuple[Load, ...] = ()
    if "connections" in raw:
        points = tuple(Closed(connections=count) for count in _counts(reader, "connections"))
    elif "rates" in raw:
        points = tuple(Open(rate_per_s=rate, arrival=arrival, max_connections=max_connections)
                       for rate in _rates(reader))
    elif "stages" in raw:
        stages = _stages(reader, arrival, max_connections)
        points = (stages,) if stages else ()
        if "duration" in raw:
            reader.report("duration", "with stages the duration is the stages' total; remove duration")
    repeat = reader.count("repeat", 1 if paired else 3) or 1
    if (problem := limits.repeat_problem(repeat)) is not None:
        reader.report("repeat", problem)
    if paired and "repeat" in raw and not raw.get("adaptive"):
        reader.report("repeat", "with [[variants]] the rounds of [paired] repeat the trials; remove repeat "
                                "and set [paired] rounds = N")
    own = points[0].own_duration_s if points else None
    duration = own if own is not None else reader.duration("duration", 10.0)
    if own is not None and (problem := limits.duration_problem(own)) is not None:
        reader.report("stages", f"the stages add up to {problem}")
    warmup = reader.duration("warmup", 1.0, positive=False)
    timeout = reader.duration("timeout", 2.0)
    if (problem := limits.timeout_problem(timeout)) is not None and "timeout" in raw:
        reader.report("timeout", problem)
    for point in points:
        problem = limits.connections_problem(point.connection_limit)
        if problem is None and isinstance(point, Open):
            problem = limits.rate_problem(point.rate_per_s, duration)
        if problem is None and isinstance(point, Stages) and point.kind == "rate":
            problem = limits.rate_problem(max(s.target for s in point.stages), point.own_duration_s)
        if problem is not None:
            reader.report(next(k for k in ("connections", "rates", "stages", "max_connections") if k in raw),
                          problem)
            break
    http2 = reader.boolean("http2", False)
    streams = reader.count("streams", 1) or 1
    if streams > 1 and not http2:
        reader.report("streams", "concurrent streams need HTTP/2: add http2 = true (HTTP/1.1 carries one "
                                 "request at a time per connection)")
    pipeline = reader.count("pipeline", 1) or 1
    if pipeline > limits.MAX_PIPELINE:
        reader.report("pipeline", f"{pipeline} must be 1 (no pipelining) to {limits.MAX_PIPELINE}")
        pipeline = 1
    if pipeline > 1 and any(point.loop == "open" for point in points):
        reader.report("pipeline", f"{pipeline}: pipelining needs a closed loop (connections = [...] or "
                      "connection stages such as \"10s:64c\"); drop rates or the pipeline")  # fmt: skip
    crowds = parse_crowds(reader)
    adaptive = parse_adaptive(reader, servers=servers, paired=paired, closed_only=closed_only,
                              crowds=any(crowd.connections for crowd in crowds))  # fmt: skip
    return LoadSpec(points=points, duration_s=duration, warmup_s=warmup, repeat=repeat, timeout_s=timeout,
                    http2=http2, streams=streams, preflight=reader.boolean("preflight", True),
                    pipeline=pipeline, crowds=crowds, adaptive=adaptive)  # fmt: skip


def _items(reader: Reader, key: str) -> list[Any]:
    value = reader.table[key]
    items = value if isinstance(value, list) else [value]
    if not items:
        reader.report(key, "is empty; give at least one value")
    return items


def _counts(reader: Reader, key: str) -> list[int]:
    counts: list[int] = []
    for item in _items(reader, key):
        try:
            count = parse_count(item, what=UNIT_WHAT)
        except UsageError as exc:
            reader.report(key, unit_problem(exc))
            continue
        if count < 1:
            reader.report(key, f"{item!r} must be at least 1")
        else:
            counts.append(count)
    return counts


def _rates(reader: Reader) -> list[float]:
    rates: list[float] = []
    for item in _items(reader, "rates"):
        try:
            rates.append(parse_rate(item, what=UNIT_WHAT))
        except UsageError as exc:
            reader.report("rates", unit_problem(exc))
    return rates


def _stages(reader: Reader, arrival: ArrivalProcess, max_connections: int) -> Stages | None:
    try:
        return parse_stages(reader.table["stages"], what=UNIT_WHAT, arrival=arrival,
                            max_connections=max_connections)  # fmt: skip
    except UsageError as exc:
        reader.report("stages", unit_problem(exc))
        return None


def default_cpu_split(available: Sequence[int]) -> CpuSplit:
    """Server on the first half of `available` CPUs, client on the rest; on one CPU both share it."""
    cpus = tuple(sorted(set(available)))
    if len(cpus) == 1:
        return CpuSplit(server=cpus, client=cpus, pinning_note=(
            f"only CPU {cpus[0]} is available: server and load generator share it, so each slows the other"))
    half = len(cpus) // 2
    return CpuSplit(server=cpus[:half], client=cpus[half:])


def parse_cpus_table(problems: Problems, raw: object, available: Sequence[int]) -> CpuSplit:
    """[cpus] server/client (lists or "0-3" strings) within `available`; missing sides are filled in."""
    default = default_cpu_split(available)
    if raw is None:
        return default
    if not isinstance(raw, dict):
        problems.add(f"{raw!r} must be a table [cpus] with server = [0] and client = [1]", key="cpus")
        return default
    reader = Reader(problems, raw, "cpus")
    reader.check_keys(CPU_KEYS)
    allowed = set(available)
    chosen: dict[str, tuple[int, ...]] = {}
    for side in ("server", "client"):
        if side not in raw:
            continue
        value = raw[side]
        try:
            text = value if isinstance(value, str | list) else str(value)
            cpus = parse_cpus(text, what=UNIT_WHAT)
        except UsageError as exc:
            reader.report(side, unit_problem(exc))
            continue
        except (ValueError, TypeError):
            reader.report(side, f"{value!r} is not a CPU list; use [0, 1] or \"0-3\"")
            continue
        outside = [cpu for cpu in cpus if cpu not in allowed]
        if outside:
            reader.report(side, f"CPU {', '.join(map(str, outside))} is not available to this process "
                                f"(available: {', '.join(map(str, sorted(allowed)))})")
            continue
        chosen[side] = cpus
    if not chosen:
        return default
    rest = tuple(sorted(allowed - set(chosen.get("server", ()) + chosen.get("client", ()))))
    server = chosen.get("server") or rest or chosen["client"]
    client = chosen.get("client") or rest or server
    shared = sorted(set(server) & set(client))
    note = None
    if shared:
        note = (f"server and load generator share CPU {', '.join(map(str, shared))}, so each slows the other")
    return CpuSplit(server=server, client=client, explicit=True, pinning_note=note)


def parse_thresholds(problems: Problems, raw: object) -> tuple[str, ...]:
    """[thresholds] checks: expressions kept as text for the gate, parsed here so a typo fails early."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        problems.add(f"{raw!r} must be a table [thresholds] with checks = [\"p99 < 50ms\"]", key="thresholds")
        return ()
    reader = Reader(problems, raw, "thresholds")
    reader.check_keys(THRESHOLD_KEYS)
    checks = raw.get("checks", [])
    if not isinstance(checks, list):
        reader.report("checks", f"{checks!r} must be a list of strings like [\"p99 < 50ms\"]")
        return ()
    kept: list[str] = []
    for check in checks:
        if isinstance(check, str) and check.strip():
            problem = _threshold_problem(check)
            if problem:
                reader.report("checks", problem)
            kept.append(check.strip())
        else:
            reader.report("checks", f"{check!r} must be a non-empty string like \"error_rate < 1%\"")
    return tuple(kept)


def _threshold_problem(text: str) -> str | None:
    """The gate's first-line complaint about a threshold expression, so a typo fails before the run."""
    from loadbench.scenario.thresholds import parse_threshold  # light, but only needed when there are checks

    try:
        parse_threshold(text, source="[thresholds] checks")
    except UsageError as exc:
        return f"{text!r}: {str(exc).splitlines()[0].removeprefix('bad threshold ([thresholds] checks): ')}"
    return None
