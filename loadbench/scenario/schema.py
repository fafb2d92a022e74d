"""Validate each table of a parsed scenario into frozen dataclasses, recording problems instead of raising.

Every function takes the shared Problems collector and returns its best-effort value; scenario.py raises one
ScenarioError if anything was recorded, so the user sees every mistake at once. The keys, types and
defaults here are the ones docs/scenarios.md documents; change both together.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from loadbench.errors import UsageError
from loadbench.safe import limits
from loadbench.scenario.text import Problems
from loadbench.scenario.types import (
    COMMAND_MODEL,
    AppKind,
    AppSpec,
    Interface,
    Paired,
    PairedOrder,
    ServerEntry,
    Variant,
)
from loadbench.units import parse_count, parse_duration

APP_KEYS = ("kind", "module", "interface", "command", "ready_path", "env", "cwd")
SERVER_KEYS = ("model", "name", "workers", "threads", "tls", "http2", "unix_socket")
CHECK_KEYS = ("expect_status", "expect_body", "expect_body_re")
ENDPOINT_KEYS = ("name", "path", "method", "headers", "body", "standalone", *CHECK_KEYS)
MIX_KEYS = ("name", "endpoints")
MIX_ENTRY_KEYS = ("endpoint", "path", "method", "headers", "body", "weight", *CHECK_KEYS)
LOAD_KEYS = ("connections", "rates", "stages", "arrival", "max_connections", "duration", "warmup", "repeat",
             "timeout", "http2", "streams", "preflight", "pipeline")
CPU_KEYS = ("server", "client")
THRESHOLD_KEYS = ("checks",)
VARIANT_KEYS = ("name", "app", "command", "env", "cwd")
PAIRED_KEYS = ("rounds", "order")

_MODULE_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


#: The `what` passed to the unit parsers; unit_problem strips it, since a problem already names its key.
UNIT_WHAT = "value"


def unit_problem(error: UsageError) -> str:
    """A unit parser's message without its "value: " prefix."""
    return str(error).removeprefix(f"{UNIT_WHAT}: ")


class Reader:
    """Typed getters over one TOML table: a wrong value is recorded as a problem and the default returned."""

    def __init__(self, problems: Problems, table: dict[str, Any], section: str = "",
                 index: int | None = None) -> None:
        self.problems, self.table, self.section, self.index = problems, table, section, index

    def report(self, key: str | None, message: str) -> None:
        self.problems.add(message, section=self.section, key=key, index=self.index)

    def check_keys(self, allowed: Sequence[str]) -> None:
        self.problems.check_keys(self.table, allowed, section=self.section, index=self.index)

    def string(self, key: str, default: str | None = None, *, required: bool = False,
               choices: Sequence[str] = ()) -> str | None:
        value = self.table.get(key)
        if value is None:
            if required:
                self.report(key, f"missing; add {key} = \"...\"")
            return default
        if not isinstance(value, str) or not value.strip():
            self.report(key, f"{value!r} must be a non-empty string")
            return default
        if choices and value not in choices:
            self.report(key, f"{value!r} is not one of {', '.join(map(repr, choices))}")
            return default
        return value

    def count(self, key: str, default: int | None = None, *, minimum: int = 1) -> int | None:
        value = self.table.get(key)
        if value is None:
            return default
        try:
            number = parse_count(value, what=UNIT_WHAT)
        except UsageError as exc:
            self.report(key, unit_problem(exc))
            return default
        if number < minimum:
            self.report(key, f"{value!r} must be at least {minimum}")
            return default
        return number

    def duration(self, key: str, default: float, *, positive: bool = True) -> float:
        value = self.table.get(key)
        if value is None:
            return default
        try:
            seconds = parse_duration(value, what=UNIT_WHAT)
        except UsageError as exc:
            self.report(key, unit_problem(exc))
            return default
        if positive and seconds <= 0:
            self.report(key, f"{value!r} must be longer than zero")
            return default
        if (problem := limits.duration_problem(seconds)) is not None:
            self.report(key, problem)
            return default
        return seconds

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            self.report(key, f"{value!r} must be true or false")
            return default
        return value

    def string_pairs(self, key: str, *, env: bool = False) -> tuple[tuple[str, str], ...]:
        """A table of string values (numbers are accepted for env and turned into strings)."""
        value = self.table.get(key, {})
        if not isinstance(value, dict):
            self.report(key, f"{value!r} must be a table, like {key} = {{ NAME = \"value\" }}")
            return ()
        pairs: list[tuple[str, str]] = []
        for name, item in value.items():
            if env and isinstance(item, int | float) and not isinstance(item, bool):
                item = str(item)
            if not isinstance(item, str):
                self.report(key, f"{name} = {item!r} must be a string")
            elif env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                self.report(key, f"{name!r} is not an environment variable name")
            elif not env and not _HEADER_NAME_RE.fullmatch(name):
                self.report(key, f"{name!r} is not a valid HTTP header name")
            elif not env and ("\r" in item or "\n" in item):
                self.report(key, f"{name} = {item!r}: header values cannot contain line breaks")
            else:
                pairs.append((name, item))
        return tuple(pairs)

    def directory(self, key: str, base_dir: Path) -> str | None:
        raw = self.string(key)
        if raw is None:
            return None
        try:
            path = (base_dir / Path(raw).expanduser()).resolve()
            is_dir = path.is_dir()
        except (OSError, ValueError, RuntimeError) as exc:  # NUL byte, name too long, unknown ~user
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.report(key, f"{raw!r} is not a usable directory ({reason}); paths are relative to the "
                             "scenario file")
            return None
        if not is_dir:
            self.report(key, f"{raw!r} is not a directory (looked for {path}); paths are relative to the "
                             "scenario file")
            return None
        return str(path)

    def command(self, key: str) -> str | None:
        """A server command template (a string, or a list joined shell-style) with {host} and {port}.

        The server layer fills in the placeholders on the whole template, then splits it like a shell;
        this checks both steps with sample values.
        """
        value = self.table.get(key)
        if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            template = shlex.join(value)
        elif isinstance(value, str):
            template = value
        else:
            self.report(key, f"{value!r} must be a string or a non-empty list of strings")
            return None
        try:
            filled = template.format(host="127.0.0.1", port=8000)
        except (KeyError, IndexError, ValueError) as exc:
            self.report(key, f"{template!r} has a bad placeholder ({exc}); only {{host}} and {{port}} are "
                             "known, write {{ and }} for literal braces")
            return None
        try:
            argv = shlex.split(filled)
        except ValueError as exc:
            self.report(key, f"{template!r} cannot be split into arguments: {exc}")
            return None
        if not argv:
            self.report(key, "is empty; give the command that starts your server")
            return None
        if "{port}" not in template:
            self.report(key, f"{template!r} has no {{port}} placeholder; loadbench picks the port, e.g. "
                             "\"myserver --bind {host}:{port}\"")
        return template


def parse_app(problems: Problems, raw: object, base_dir: Path) -> AppSpec:
    """The [app] table, or the shorthand `app = "pkg.module:app"`; absent means the bundled app."""
    if raw is None:
        return AppSpec()
    if isinstance(raw, str):
        raw, section = {"module": raw}, ""
    elif isinstance(raw, dict):
        section = "app"
    else:
        problems.add(f"{raw!r} must be a table [app] or a string \"package.module:app\"", key="app")
        return AppSpec()
    reader = Reader(problems, raw, section)
    if section:
        reader.check_keys(APP_KEYS)
    target = _module(reader, "module" if section else "app", "module")
    if "command" in raw:
        target = reader.command("command")
    inferred: AppKind = "command" if "command" in raw else "import" if "module" in raw else "bundled"
    kind = cast(AppKind, reader.string("kind", inferred, choices=("bundled", "import", "command")))
    if "module" in raw and "command" in raw:
        reader.report("command", "give either module (your app, served by each server model) or command "
                                 "(your own server), not both")
    elif kind != inferred:
        needs = {"bundled": "neither module nor command", "import": "module", "command": "command"}[kind]
        reader.report("kind", f"{kind!r} needs {needs}; this [app] has {_present(raw)}")
    interface = cast(Interface, reader.string("interface", "auto", choices=("auto", "wsgi", "asgi")))
    if "interface" in raw and inferred != "import":
        reader.report("interface", "applies only to module = \"package.module:app\"")
    ready_path = reader.string("ready_path", "/health" if inferred == "bundled" else "/") or "/"
    if not ready_path.startswith("/"):
        reader.report("ready_path", f"{ready_path!r} must start with /")
    return _build_app(problems, kind=inferred, target=target, interface=interface, ready_path=ready_path,
                      env=reader.string_pairs("env", env=True), cwd=reader.directory("cwd", base_dir))


def _build_app(problems: Problems, **fields: Any) -> AppSpec:
    """An AppSpec from `fields`, or the bundled app's as a stand-in when they do not make one.

    Invalid fields have been reported already (their readers report as they read), so the stand-in never
    runs: the scenario fails to load with those problems. Should nothing have been reported, the
    AppSpec's own complaint is, so no invalid [app] can slip through.
    """
    try:
        return AppSpec(**fields)
    except UsageError as exc:
        if not problems.items:
            problems.add(str(exc), key="app")
        return AppSpec()


def _present(raw: dict[str, Any]) -> str:
    present = [key for key in ("module", "command") if key in raw]
    return " and ".join(present) if present else "neither module nor command"


def _module(reader: Reader, key: str, raw_key: str) -> str | None:
    """The "package.module:app" reference at `raw_key` of the table, reported under `key`."""
    value = reader.table.get(raw_key)
    if value is None:
        return None
    if not isinstance(value, str) or not _MODULE_RE.match(value):
        reader.report(key, f"{value!r} is not an app reference; use \"package.module:app\" (a WSGI or ASGI "
                           "callable)")
        return None
    return value


def parse_variants(problems: Problems, raw: object, base: AppSpec, base_dir: Path) -> tuple[Variant, ...]:
    """[[variants]]: at least two named arms, each the scenario's app with an override."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        problems.add("must be [[variants]] tables", key="variants")
        return ()
    variants: list[Variant] = []
    for index, table in enumerate(raw):
        reader = Reader(problems, table, "variants", index)
        reader.check_keys(VARIANT_KEYS)
        name = reader.string("name", required=True) or f"variant{index + 1}"
        if "|" in name:
            reader.report("name", f"{name!r} cannot contain '|'")
        app = base
        if "app" in table:
            module = _module(reader, "app", "app")
            if base.kind == "command":
                reader.report("app", "[app] runs a command; a variant can change its command, not an app")
            app = _build_app(problems, kind="import", target=module,
                             interface=base.interface if base.kind == "import" else "auto",
                             ready_path="/" if base.kind == "bundled" else base.ready_path,
                             env=base.env, cwd=base.cwd)
        if "command" in table:
            if base.kind != "command":
                reader.report("command", "needs [app] command = \"...\" (a variant overrides, it does not "
                                         "change the kind of app)")
            app = _replace_app(problems, app, target=reader.command("command"))
        if "env" in table:
            merged = dict(app.env) | dict(reader.string_pairs("env", env=True))
            app = _replace_app(problems, app, env=tuple(merged.items()))
        if "cwd" in table:
            app = _replace_app(problems, app, cwd=reader.directory("cwd", base_dir))
        variants.append(Variant(name=name, app=app))
    names = [variant.name for variant in variants]
    for index, name in enumerate(names):
        if name in names[:index]:
            problems.add(f"{name!r} is used twice; variant names must be unique", section="variants",
                         key="name", index=index)
    if len(variants) == 1:
        problems.add("a paired comparison needs at least two [[variants]] (e.g. baseline and candidate)",
                     section="variants", index=0)
    return tuple(variants)


def _replace_app(problems: Problems, app: AppSpec, **changes: Any) -> AppSpec:
    fields = {name: getattr(app, name) for name in AppSpec.__dataclass_fields__}
    return _build_app(problems, **(fields | changes))


def parse_paired(problems: Problems, raw: object, has_variants: bool) -> Paired | None:
    """[paired] rounds/order; defaults apply when there are variants, and the table needs them."""
    if raw is None:
        return Paired() if has_variants else None
    if not isinstance(raw, dict):
        problems.add(f"{raw!r} must be a table [paired]", key="paired")
        return None
    reader = Reader(problems, raw, "paired")
    reader.check_keys(PAIRED_KEYS)
    if not has_variants:
        reader.report(None, "applies only with [[variants]]; add them or remove [paired]")
    rounds = reader.count("rounds", Paired().rounds) or Paired().rounds
    order = cast(PairedOrder, reader.string("order", "ABBA", choices=("ABBA", "ABAB")))
    return Paired(rounds=rounds, order=order)


def parse_servers(problems: Problems, raw: object, app: AppSpec, known_models: Sequence[str]
                  ) -> tuple[ServerEntry, ...]:
    """[[servers]]: model (registered), name (unique, default the model), workers, threads, tls, http2,
    unix_socket."""
    if app.kind == "command":
        if raw is not None:
            problems.add("[app] runs its own server command, so there are no [[servers]] to choose; remove "
                         "them, or use module = \"package.module:app\" to run your app under server models",
                         section="servers", index=0)
        return (ServerEntry(name=COMMAND_MODEL, model=COMMAND_MODEL),)
    if raw is None:
        problems.add("no [[servers]]; add one per server model, e.g. [[servers]] model = \"uvicorn\"",
                     key="servers")
        return ()
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        problems.add("must be [[servers]] tables", key="servers")
        return ()
    entries: list[ServerEntry] = []
    for index, table in enumerate(raw):
        reader = Reader(problems, table, "servers", index)
        reader.check_keys(SERVER_KEYS)
        model = reader.string("model", required=True)
        if model is not None and model not in known_models:
            close = _closest(model, known_models)
            hint = f"did you mean {close!r}? " if close else ""
            reader.report("model", f"{model!r} is not a server model; {hint}known: {', '.join(known_models)}")
        name = reader.string("name", model) or f"server{index + 1}"
        if "|" in name:
            reader.report("name", f"{name!r} cannot contain '|'")
        if any(entry.name == name for entry in entries):
            reader.report("name" if "name" in table else "model",
                          f"{name!r} is used twice; give each [[servers]] entry its own name = \"...\"")
        tls, http2 = reader.boolean("tls", False), reader.boolean("http2", False)
        if http2 and not tls:
            reader.report("http2", "HTTP/2 is negotiated over TLS (ALPN h2); add tls = true")
        unix_socket = reader.boolean("unix_socket", False)
        if unix_socket and tls:
            reader.report("unix_socket", "a Unix socket serves plain HTTP; drop tls = true or unix_socket")
        entries.append(ServerEntry(name=name, model=model or "", workers=reader.count("workers"),
                                   threads=reader.count("threads"), tls=tls, http2=http2,
                                   unix_socket=unix_socket))
    return tuple(entries)


def _closest(word: str, choices: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None
