"""The engine's vocabulary: what to send (RequestSpec), where (Target), and how hard (a Load shape).

These frozen dataclasses (and the ErrorClass names) are shared by the CLI (`bench`), the scenario parser,
the runner and the results reader; the engine itself (aio.py) turns them into traffic. Durations are
seconds, rates requests per second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

ArrivalProcess = Literal["uniform", "poisson"]


class ErrorClass(StrEnum):
    """Why a request did not count as a response (the record's `errors` keys): the five transport failure
    classes, and `check_failed`, a response that a check of the load script rejected (Locust's
    `response.failure()`)."""

    CONNECT_REFUSED = "connect_refused"
    CONNECT_TIMEOUT = "connect_timeout"
    TIMEOUT = "timeout"
    RESET = "reset"
    PROTOCOL = "protocol"
    CHECK_FAILED = "check_failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestSpec:
    """One kind of request; `weight` sets its share in a weighted mix (relative to the others)."""

    method: str = "GET"
    path: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    weight: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """Where requests go: scheme, host (a name or an address literal, IPv6 without brackets) and port."""

    scheme: Literal["http", "https"] = "http"
    host: str = "127.0.0.1"
    port: int = 80

    @property
    def authority(self) -> str:
        """The Host header value: host[:port], IPv6 in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.authority}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Closed:
    """Closed loop: `connections` connections, each sends its next request when the last completes."""

    connections: int

    @property
    def label(self) -> str:
        return f"{self.connections}c"


@dataclass(frozen=True, slots=True, kw_only=True)
class Open:
    """Open loop: requests scheduled at `rate_per_s`; latency counts from each scheduled send time.

    When no connection is free a new one opens, up to `max_connections`; beyond that the request is
    dropped and counted as dropped.
    """

    rate_per_s: float
    arrival: ArrivalProcess = "uniform"
    max_connections: int = 1024

    @property
    def label(self) -> str:
        rate = self.rate_per_s
        return f"{rate / 1000:g}k/s" if rate >= 1000 and rate % 100 == 0 else f"{rate:g}/s"


@dataclass(frozen=True, slots=True, kw_only=True)
class Stage:
    """Ramp linearly from the previous stage's target (0 for the first) to `target` over `duration_s`."""

    duration_s: float
    target: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Stages:
    """A k6-style staged load: `kind` says whether targets are rates (per second) or connection counts."""

    kind: Literal["rate", "connections"]
    stages: tuple[Stage, ...]
    arrival: ArrivalProcess = "uniform"
    max_connections: int = 1024

    @property
    def duration_s(self) -> float:
        return sum(stage.duration_s for stage in self.stages)

    @property
    def label(self) -> str:
        unit = "/s" if self.kind == "rate" else "c"
        return ",".join(f"{s.duration_s:g}s:{s.target:g}{unit}" for s in self.stages)


Load = Closed | Open | Stages


@dataclass(frozen=True, slots=True, kw_only=True)
class DriveOptions:
    """Bounds of one run: measured `duration_s` and/or `max_requests`, a `warmup_s` before the measured
    window (excluded from every figure), a total per-request `timeout_s` (connect + send + whole
    response), keep-alive, and the CPUs the engine process(es) may use."""

    duration_s: float | None = 10.0
    max_requests: int | None = None
    warmup_s: float = 0.0
    timeout_s: float = 2.0
    keepalive: bool = True
    processes: int = 1
    cpus: tuple[int, ...] | None = None
    seed: int = 0  # seeds the Poisson arrivals and the weighted mix: equal seeds, equal schedules
    allow_remote: bool = False  # the engine refuses non-loopback targets unless this is set
    extra: dict[str, str] = field(default_factory=dict)


def load_to_dict(load: Load) -> dict[str, object]:
    """The JSON form of a load shape used in result records (docs/results-format.md)."""
    if isinstance(load, Closed):
        return {"kind": "closed", "connections": load.connections}
    if isinstance(load, Open):
        return {"kind": "open", "rate_per_s": load.rate_per_s, "arrival": load.arrival,
                "max_connections": load.max_connections}  # fmt: skip
    return {
        "kind": "stages", "stages_kind": load.kind, "arrival": load.arrival,
        "max_connections": load.max_connections,
        "stages": [[s.duration_s, s.target] for s in load.stages],
    }  # fmt: skip


def load_from_dict(data: dict[str, object]) -> Load:
    """Inverse of load_to_dict; raises KeyError/ValueError/TypeError on a malformed dict."""
    kind = data["kind"]
    if kind == "closed":
        return Closed(connections=int(data["connections"]))  # type: ignore[call-overload]
    if kind == "open":
        return Open(
            rate_per_s=float(data["rate_per_s"]),  # type: ignore[arg-type]
            arrival=data.get("arrival", "uniform"),  # type: ignore[arg-type]
            max_connections=int(data.get("max_connections", 1024)),  # type: ignore[call-overload]
        )
    if kind == "stages":
        stages = tuple(Stage(duration_s=float(d), target=float(t)) for d, t in data["stages"])  # type: ignore[attr-defined]
        return Stages(
            kind=data["stages_kind"],  # type: ignore[arg-type]
            stages=stages,
            arrival=data.get("arrival", "uniform"),  # type: ignore[arg-type]
            max_connections=int(data.get("max_connections", 1024)),  # type: ignore[call-overload]
        )
    raise ValueError(f"unknown load kind {kind!r}; expected closed, open or stages")
