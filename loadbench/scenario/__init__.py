"""Read a scenario file into one validated, frozen Scenario; find scenarios by path or by shipped name.

The format is documented in docs/scenarios.md. Validation collects every problem (file:line, table, key,
value and fix) and raises a single ScenarioError; a TOML syntax error is reported with line and column.
The tables are validated in scenario_schema.py (app, servers, variants) and scenario_load.py (endpoints,
mixes, load, cpus, thresholds); the dataclasses live in scenario_types.py and are re-exported here.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import importlib.resources
import os
import tomllib
from collections.abc import Sequence
from pathlib import Path

from loadbench.errors import ScenarioError
from loadbench.plugins import ENGINE_BACKENDS, SERVER_MODELS
from loadbench.safe import limits
from loadbench.scenario.engine_table import check_engine_load, locustfile_workload, parse_locust
from loadbench.scenario.load import (
    default_cpu_split,
    parse_cpus_table,
    parse_load,
    parse_thresholds,
    parse_workloads,
)
from loadbench.scenario.overrides import Override, apply_overrides
from loadbench.scenario.schema import parse_app, parse_paired, parse_servers, parse_variants
from loadbench.scenario.text import Problems, find_key_line, syntax_problem
from loadbench.scenario.types import (
    COMMAND_MODEL,
    PROFILE_POINTS,
    AppSpec,
    CpuSplit,
    Endpoint,
    LoadSpec,
    Paired,
    ProfilePoints,
    Scenario,
    ServerEntry,
    Variant,
    Workload,
)

__all__ = [
    "COMMAND_MODEL",
    "QUICK_DURATION_S",
    "QUICK_ROUNDS",
    "QUICK_WARMUP_S",
    "TOP_LEVEL_KEYS",
    "AppSpec",
    "CpuSplit",
    "Endpoint",
    "LoadSpec",
    "Paired",
    "Scenario",
    "ServerEntry",
    "Variant",
    "Workload",
    "apply_quick",
    "available_cpus",
    "default_cpu_split",
    "find_key_line",
    "find_scenario",
    "known_model_names",
    "load_scenario",
    "parse_scenario",
    "shipped_scenarios",
]

TOP_LEVEL_KEYS = ("name", "description", "engine", "app", "servers", "endpoints", "mixes", "load", "cpus",
                  "thresholds", "variants", "paired", "locust", "profile")
DEFAULT_ENGINE = "native"

#: apply_quick caps: each measured window, each warm-up, and the paired rounds (two keep one A B / B A).
QUICK_DURATION_S = 1.0
QUICK_WARMUP_S = 0.2
QUICK_ROUNDS = 2


def known_model_names() -> tuple[str, ...]:
    """Server models a [[servers]] entry may name (loadbench.plugins; nothing is imported).

    The "command" model is left out: a scenario gets it by giving [app] a command, not by naming it.
    """
    return tuple(name for name in SERVER_MODELS if name != COMMAND_MODEL)


def available_cpus() -> tuple[int, ...]:
    """The CPUs this process may run on (its affinity mask), sorted."""
    if hasattr(os, "sched_getaffinity"):
        return tuple(sorted(os.sched_getaffinity(0)))
    return tuple(range(os.cpu_count() or 1))


def parse_scenario(text: str, *, path: str = "<scenario>", base_dir: Path | None = None,
                   cpus: Sequence[int] | None = None, known_models: Sequence[str] | None = None,
                   overrides: Sequence[Override] = ()) -> Scenario:
    """Validate scenario TOML `text` into a Scenario, or raise one ScenarioError listing every problem.

    `path` names the file in messages; `base_dir` resolves relative `cwd` values (default: the current
    directory); `cpus` are the CPUs to split (default: this process's affinity); `known_models` the valid
    server model names (default: known_model_names()); `overrides` are `run --set` values, applied to the
    parsed TOML before validation and kept in Scenario.overrides.
    """
    depth = limits.toml_depth(text)
    if depth > limits.MAX_TOML_DEPTH:
        raise ScenarioError(path, [f"{path}: arrays or inline tables nested {depth} deep, more than the "
                                   f"limit of {limits.MAX_TOML_DEPTH}; flatten the file"])  # fmt: skip
    try:
        raw = tomllib.loads(text)
    except RecursionError:  # the scan above missed a nesting tomllib still found too deep
        raise ScenarioError(path, [f"{path}: nested too deeply to read; flatten the file"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, [syntax_problem(path, text, exc)]) from None
    except ValueError as exc:  # tomllib lets int()'s digit limit through (a number of 4300+ digits)
        reason = str(exc).split(";")[0]
        raise ScenarioError(path, [f"{path}: a value cannot be read ({reason}); shorten it"]) from None
    if overrides:
        raw = apply_overrides(raw, overrides, where=path)
    problems = Problems(path, text)
    problems.check_keys(raw, TOP_LEVEL_KEYS)
    name = _top_string(problems, raw, "name", Path(path).stem)
    description = _top_string(problems, raw, "description", "")
    engine = _engine(problems, raw)
    base = base_dir if base_dir is not None else Path.cwd()
    app = parse_app(problems, raw.get("app"), base)
    variants = parse_variants(problems, raw.get("variants"), app, base)
    paired = parse_paired(problems, raw.get("paired"), bool(variants))
    # Variants cannot change the kind of app (parse_variants checks), so the base app decides the servers.
    servers = parse_servers(problems, raw.get("servers"), app,
                            known_models if known_models is not None else known_model_names())
    engine_settings = parse_locust(problems, raw.get("locust"), engine, base)
    endpoints: tuple[Endpoint, ...]
    workloads: tuple[Workload, ...]
    if dict(engine_settings).get("file") and raw.get("endpoints") is None and raw.get("mixes") is None:
        endpoints, workloads = (), (locustfile_workload(),)  # the locustfile says what to send
    else:
        endpoints, workloads = parse_workloads(problems, raw.get("endpoints"), raw.get("mixes"), base)
    load = parse_load(problems, raw.get("load"), paired=bool(variants), servers=len(servers))
    check_engine_load(problems, engine, load)
    if load.pipeline > 1 and engine != "native":
        problems.add(f"pipeline = {load.pipeline} needs engine = \"native\" (the {engine} engine does not "
                     "pipeline)", section="load", key="pipeline")
    if load.http2 and engine != "httpx":
        problems.add(f"http2 = true needs engine = \"httpx\" (the {engine} engine speaks HTTP/1.1 only)",
                     section="load", key="http2")
    _check_unix_sockets(problems, servers, engine, load)
    split = parse_cpus_table(problems, raw.get("cpus"), cpus if cpus is not None else available_cpus())
    thresholds = parse_thresholds(problems, raw.get("thresholds"))
    profile = _profile(problems, raw)
    if load.adaptive is not None and profile != "off":
        problems.add(f"{raw.get('profile')!r} cannot combine with [load] adaptive = true (the profiled "
                     "reruns would cost the budget its rounds); remove profile or adaptive", key="profile")
    if problems.items:
        raise ScenarioError(path, problems.items)
    return Scenario(name=name, description=description, path=path, text=text,
                    sha256=hashlib.sha256(text.encode()).hexdigest(), app=app, servers=servers,
                    endpoints=endpoints, workloads=workloads, load=load, cpus=split, thresholds=thresholds,
                    variants=variants, paired=paired, engine=engine, engine_settings=engine_settings,
                    overrides=tuple(o.text for o in overrides), profile=profile)


def _check_unix_sockets(problems: Problems, servers: tuple[ServerEntry, ...], engine: str, load: LoadSpec
                        ) -> None:  # fmt: skip
    """A server on a Unix socket is driven by the native engine alone, and without idle or slow clients
    (those connect over TCP)."""
    for index, server in enumerate(servers):
        if not server.unix_socket:
            continue
        if engine != DEFAULT_ENGINE:
            problems.add(f"unix_socket = true needs engine = \"native\" (the {engine} engine connects over "
                         "TCP only)", section="servers", index=index, key="unix_socket")  # fmt: skip
        if any(crowd.connections for crowd in load.crowds):
            problems.add("unix_socket = true cannot run beside idle or slow clients (they connect over TCP); "
                         "drop [load] idle/slow_readers or unix_socket", section="servers", index=index,
                         key="unix_socket")  # fmt: skip


def _profile(problems: Problems, raw: dict[str, object]) -> ProfilePoints:
    """The `profile` key: true (the heaviest point), false, "heaviest" or "all" (see docs/profiling.md)."""
    value = raw.get("profile", False)
    if value is True:
        return "heaviest"
    if value is False:
        return "off"
    for points in PROFILE_POINTS:
        if value == points:
            return points
    problems.add(f"{value!r} is not a profile setting; use true, false, 'heaviest', 'all' or 'off'",
                 key="profile")
    return "off"


def _engine(problems: Problems, raw: dict[str, object]) -> str:
    """The `engine` key: a backend name from loadbench.plugins.ENGINE_BACKENDS (nothing is imported)."""
    engine = _top_string(problems, raw, "engine", DEFAULT_ENGINE)
    if engine not in ENGINE_BACKENDS:
        close = difflib.get_close_matches(engine, ENGINE_BACKENDS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        problems.add(f"{engine!r} is not an engine; {hint}choose one of {', '.join(ENGINE_BACKENDS)}",
                     key="engine")
        return DEFAULT_ENGINE
    return engine


def _top_string(problems: Problems, raw: dict[str, object], key: str, default: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        problems.add(f"{value!r} must be a string", key=key)
        return default
    return value


def load_scenario(path: str | os.PathLike[str], *, cpus: Sequence[int] | None = None,
                  known_models: Sequence[str] | None = None, overrides: Sequence[Override] = ()) -> Scenario:
    """Read and validate the scenario file at `path` (relative `cwd` values resolve from its directory)."""
    where = str(path)
    try:
        with Path(path).open("rb") as handle:  # capped, so a device or a huge file cannot fill memory
            data = handle.read(limits.MAX_SCENARIO_BYTES + 1)
    except OSError as exc:
        problem = f"{where}: cannot read the scenario file: {exc.strerror or exc}"
        raise ScenarioError(where, [problem]) from None
    if len(data) > limits.MAX_SCENARIO_BYTES:
        size = f"{limits.MAX_SCENARIO_BYTES // 1024} KiB"
        problem = (f"{where}: larger than the limit of {size} for a scenario; a scenario is a short TOML "
                   "file (is this the right file?)")
        raise ScenarioError(where, [problem])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = f"{where}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        raise ScenarioError(where, [problem]) from None
    return parse_scenario(text, path=where, base_dir=Path(path).resolve().parent, cpus=cpus,
                          known_models=known_models, overrides=overrides)


def _shipped_dirs() -> list[Path]:
    dirs: list[Path] = []
    try:
        root = importlib.resources.files("loadbench.scenarios")
    except ModuleNotFoundError:
        root = None
    if isinstance(root, Path) and root.is_dir():
        dirs.append(root)
    checkout = Path(__file__).resolve().parents[2] / "scenarios"
    if checkout.is_dir() and all(checkout.resolve() != d.resolve() for d in dirs):
        dirs.append(checkout)
    return dirs


def shipped_scenarios() -> list[str]:
    """Names of the scenarios shipped with loadbench (usable as `loadbench run NAME`), sorted."""
    return sorted({file.stem for directory in _shipped_dirs() for file in directory.glob("*.toml")})


def find_scenario(name_or_path: str | os.PathLike[str]) -> Path:
    """The scenario file for a path, or for a shipped scenario's name such as "quickstart"."""
    candidate = Path(name_or_path)
    if candidate.is_file():
        return candidate
    text = str(name_or_path)
    has_dir = candidate.parent != Path(".")
    if not has_dir:
        for directory in _shipped_dirs():
            shipped = directory / f"{candidate.stem if candidate.suffix == '.toml' else text}.toml"
            if shipped.is_file():
                return shipped
    names = shipped_scenarios()
    close = difflib.get_close_matches(candidate.stem, names, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    what = "no such file" if has_dir or candidate.suffix == ".toml" else "no such file or shipped scenario"
    raise ScenarioError(text, [f"{what}; {hint}shipped scenarios: {', '.join(names) or 'none found'}"])


def apply_quick(scenario: Scenario) -> Scenario:
    """A copy shortened for smoke runs: every window ≤ 1 s, warm-up ≤ 0.2 s, one repetition (adaptive
    off), ≤ 2 rounds.

    Stages are scaled down proportionally so their total is at most QUICK_DURATION_S; load points,
    servers and workloads stay as they are, so the quick run covers the same grid.
    """
    load = scenario.load
    points = tuple(point.shortened(QUICK_DURATION_S) for point in load.points)
    own = points[0].own_duration_s if points else None
    duration = own if own is not None else min(load.duration_s, QUICK_DURATION_S)
    # A smoke run is one repetition: an adaptive scenario's rounds are dropped with the rest.
    quick_load = dataclasses.replace(load, points=points, duration_s=duration,
                                     warmup_s=min(load.warmup_s, QUICK_WARMUP_S), repeat=1, adaptive=None)
    paired = scenario.paired
    if paired is not None:
        paired = Paired(rounds=min(paired.rounds, QUICK_ROUNDS), order=paired.order)
    return dataclasses.replace(scenario, load=quick_load, paired=paired, quick=True)
