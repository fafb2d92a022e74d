"""The validated scenario as a tree of frozen dataclasses: what scenario.py hands to the plan and runner.

Nothing here reads files or validates; scenario_schema.py builds these from TOML and scenario.py is the
public entry point. Durations are seconds, rates requests per second, CPU numbers as the OS counts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from loadbench.errors import UsageError
from loadbench.plugins import COMMAND_MODEL
from loadbench.types import Crowd, Load, RequestSpec, ResponseCheck

AppKind = Literal["bundled", "import", "command"]
Interface = Literal["auto", "wsgi", "asgi"]

@dataclass(frozen=True, slots=True, kw_only=True)
class AppSpec:
    """What to serve.

    kind: "bundled" (loadbench's own app, WSGI or ASGI face as the model needs), "import" (`target` is
    "pkg.module:attr", imported by the server), or "command" (`target` is a command template with
    {host} and {port}, run as is; only the "command" model takes it).
    interface: for "import", which face the app has. "auto" detects it in a short-lived child Python
    (loadbench.servers.appref): a coroutine function, or an object whose __call__ is one, taking 3
    parameters (scope, receive, send) is ASGI; any other callable is WSGI. The child keeps the user's
    imports (monkey-patching, threads, sys.exit) out of loadbench's own process.
    ready_path: probed until ready. The bundled app must answer 200 there; for user apps and commands
    any HTTP response counts.
    env: extra environment variables for the server; cwd: its working directory (default: ours).
    """

    kind: AppKind = "bundled"
    target: str | None = None
    interface: Interface = "auto"
    ready_path: str = "/health"
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None

    @property
    def env_dict(self) -> dict[str, str]:
        """`env` as a fresh dict, ready to merge into os.environ."""
        return dict(self.env)

    def describe(self) -> str:
        """One line for the dry run and the report header."""
        if self.kind == "bundled":
            text = "the bundled app"
        elif self.kind == "import":
            text = f"{self.target} ({self.interface if self.interface != 'auto' else 'WSGI/ASGI detected'})"
        else:
            text = f"command: {self.target}"
        extras = [f"ready at {self.ready_path}"]
        extras += [f"{key}={value}" for key, value in self.env]
        if self.cwd:
            extras.append(f"in {self.cwd}")
        return f"{text}; {', '.join(extras)}"

    def __post_init__(self) -> None:
        if self.kind in ("import", "command") and not self.target:
            raise UsageError(f"app kind {self.kind!r} needs a target (module:attr or a command template)")
        if self.kind == "import" and ":" not in str(self.target):
            raise UsageError(f"app {self.target!r} is not of the form 'package.module:attribute'")
        if not self.ready_path.startswith("/"):
            raise UsageError(f"ready_path {self.ready_path!r} must start with '/'")


WorkloadKind = Literal["endpoint", "mix", "locustfile"]
PairedOrder = Literal["ABBA", "ABAB"]
ProfilePoints = Literal["off", "heaviest", "all"]
PROFILE_POINTS: tuple[ProfilePoints, ...] = ("off", "heaviest", "all")


__all__ = [
    "COMMAND_MODEL",
    "PROFILE_POINTS",
    "Adaptive",
    "AppKind",
    "AppSpec",
    "CpuSplit",
    "Endpoint",
    "Interface",
    "LoadSpec",
    "Paired",
    "PairedOrder",
    "ProfilePoints",
    "Scenario",
    "ServerEntry",
    "Variant",
    "Workload",
    "WorkloadKind",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerEntry:
    """One server to measure: `name` (unique in the scenario, used in results) runs the registered `model`.

    `workers` (processes) and `threads` (per process) are None when the model's own default applies.
    `tls`: the server terminates TLS with a throwaway certificate (the run trusts its CA); `http2`: it
    offers HTTP/2 too (ALPN h2; needs tls). `unix_socket`: it listens on a Unix socket in a private
    directory instead of a port, and the run drives it there (engine native).
    """

    name: str
    model: str
    workers: int | None = None
    threads: int | None = None
    tls: bool = False
    http2: bool = False
    unix_socket: bool = False

    def describe(self) -> str:
        """"gunicorn-4w (gunicorn, workers=4)" or just "uvicorn" when there is nothing to add."""
        options = [f"{key}={value}" for key, value in (("workers", self.workers), ("threads", self.threads))
                   if value is not None]
        options += ["tls"] * self.tls + ["http2"] * self.http2 + ["unix_socket"] * self.unix_socket
        extras = ([self.model] if self.model != self.name else []) + options
        return f"{self.name} ({', '.join(extras)})" if extras else self.name


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """One request a scenario names: `name` defaults to the path; `standalone` makes it its own workload."""

    name: str
    method: str = "GET"
    path: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    check: ResponseCheck | None = None  # expect_status / expect_body / expect_body_re
    standalone: bool = True
    template_dir: str | None = None  # path, header values and body are templates (RequestSpec.template_dir)

    def request(self, weight: float = 1.0) -> RequestSpec:
        """This endpoint as the engine's RequestSpec with the given mix `weight`."""
        return RequestSpec(method=self.method, path=self.path, headers=self.headers, body=self.body,
                           weight=weight, check=self.check, template_dir=self.template_dir)


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """What one trial sends: a single endpoint, or a named weighted mix of requests measured together."""

    name: str
    kind: WorkloadKind
    requests: tuple[RequestSpec, ...]


DEFAULT_BUDGET_S = 60.0
DEFAULT_MAX_ROUNDS = 40
DEFAULT_TIE_BAND = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class Adaptive:
    """How an adaptive run repeats its load points (loadbench.scenario.adaptive).

    `budget_s`: wall seconds for the whole run, server starts included; `max_rounds`: rounds at most;
    `tie_band`: a fraction (0.05 = ±5 %) within which two models count as tied.
    """

    budget_s: float = DEFAULT_BUDGET_S
    max_rounds: int = DEFAULT_MAX_ROUNDS
    tie_band: float = DEFAULT_TIE_BAND

    def describe(self) -> str:
        """One line for the dry run."""
        return (f"rounds repeat each load point until its claim is decided at 95 % (ties within "
                f"±{self.tie_band:.0%}), at most {self.max_rounds} rounds, budget {self.budget_s:g}s")


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadSpec:
    """The load points every workload runs at, and the time budget of each trial.

    `points` are Closed (one per connection count), Open (one per rate) or a single Stages. `duration_s`
    is the measured window (for stages, their total), `warmup_s` precedes it unmeasured, `timeout_s`
    bounds each request, and `repeat` is how many times the whole sweep runs (interleaved). `http2`
    (engine httpx) offers HTTP/2 to the servers that offer it (`http2 = true` in [[servers]]), with
    `streams` concurrent requests per connection; `preflight` fetches every endpoint once per server block
    before any load and checks the answers (run --no-preflight turns it off). `pipeline` (engine native,
    closed loop) keeps that many HTTP/1.1 requests in flight per connection (bench --pipeline). `crowds`
    are the idle/slow clients each point runs beside (loadbench.types.Crowd), one trial per crowd.
    """

    points: tuple[Load, ...]
    duration_s: float = 10.0
    warmup_s: float = 1.0
    repeat: int = 3
    timeout_s: float = 2.0
    http2: bool = False
    streams: int = 1
    preflight: bool = True
    pipeline: int = 1
    abort_delay_s: float | None = None  # run --abort-on-fail: check [thresholds] each second after this
    crowds: tuple[Crowd, ...] = field(default_factory=lambda: (Crowd(),))  # Crowd(): none
    adaptive: Adaptive | None = None  # rounds until each load point's claim is decided (scenario/adaptive.py)

    @property
    def kind(self) -> str:
        """The points' shape, by its JSON kind: "closed", "open" or "stages" (see loadbench.shapes)."""
        return self.points[0].json_kind

    def describe(self) -> str:
        """One line: the load points and the time budget."""
        head = type(self.points[0]).describe_points(self.points)
        crowds = [crowd.label.strip() for crowd in self.crowds if crowd.connections]
        if crowds:
            baseline = "none, " if any(not c.connections for c in self.crowds) else ""
            head += f" (beside: {baseline}{', '.join(crowds)})"
        repeat = "adaptive" if self.adaptive is not None else f"repeat {self.repeat}"
        return (f"{head}; duration {self.duration_s:g}s, warm-up {self.warmup_s:g}s, "
                f"timeout {self.timeout_s:g}s, {repeat}")


@dataclass(frozen=True, slots=True, kw_only=True)
class CpuSplit:
    """CPUs the server tree and the load generator are pinned to.

    `explicit` is True when the scenario's [cpus] chose them. `pinning_note` is None when the two sides
    have CPUs of their own, else a sentence to show the user (they share, so figures mix both costs).
    """

    server: tuple[int, ...]
    client: tuple[int, ...]
    explicit: bool = False
    pinning_note: str | None = None

    def describe(self) -> str:
        """"server on CPU 0, client on CPU 1" (plus the note when they share)."""
        text = f"server on CPU {_cpu_list(self.server)}, client on CPU {_cpu_list(self.client)}"
        return f"{text} ({self.pinning_note})" if self.pinning_note else text


@dataclass(frozen=True, slots=True, kw_only=True)
class Variant:
    """One arm of a paired comparison: its `name` and the app it runs (the scenario's app, overridden)."""

    name: str
    app: AppSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class Paired:
    """How variants alternate: `rounds` rounds, each variant once per round, in `order`.

    "ABBA" reverses every other round (A B, B A, A B, ...), cancelling a linear drift; "ABAB" keeps one
    order.
    """

    rounds: int = 20  # docs/ci.md: 20 pairs of 0.5-s trials decide a 5 % change in cost per request
    order: PairedOrder = "ABBA"


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A validated scenario file: everything the plan and the runner need, and its exact source.

    `path` is the file as given, `text` its full TOML and `sha256` the hex digest of its UTF-8 bytes (the
    results header stores all three). `workloads` lists standalone endpoints in file order, then mixes.
    `thresholds` are the [thresholds] checks, unparsed. `variants` is empty unless the scenario is a paired
    comparison, and then `paired` is set. `quick` records that apply_quick shortened it. `engine` names the
    load engine backend (loadbench.plugins.ENGINE_BACKENDS) and `engine_settings` its own settings, as
    (key, scalar) pairs. `overrides` are the `run --set table.key=value` texts applied over `text`.
    (key, scalar) pairs. `profile` says at which load points `run` takes a sampled profile of each server
    ("off", "heaviest": the highest load of each workload, "all"); see docs/profiling.md.
    """

    name: str
    description: str = ""
    path: str = ""
    text: str = ""
    sha256: str = ""
    app: AppSpec
    servers: tuple[ServerEntry, ...]
    endpoints: tuple[Endpoint, ...]
    workloads: tuple[Workload, ...]
    load: LoadSpec
    cpus: CpuSplit
    thresholds: tuple[str, ...] = ()
    variants: tuple[Variant, ...] = ()
    paired: Paired | None = None
    quick: bool = False
    engine: str = "native"
    engine_settings: tuple[tuple[str, str | int | float | bool], ...] = ()
    overrides: tuple[str, ...] = ()  # `run --set` values applied over the file, as typed
    profile: ProfilePoints = "off"

    @property
    def pinning_note(self) -> str | None:
        """The CPU split's warning, if the server and client share CPUs."""
        return self.cpus.pinning_note

    def variant(self, name: str) -> Variant:
        """The variant called `name`; KeyError if there is none."""
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(name)


def _cpu_list(cpus: tuple[int, ...]) -> str:
    return ",".join(str(cpu) for cpu in cpus)
