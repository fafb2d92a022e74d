"""The engine's vocabulary: what to send (RequestSpec), where (Target), and how hard (a Load shape).

These frozen dataclasses (and the ErrorClass names) are shared by the CLI (`bench`), the scenario parser,
the runner and the results reader; the engine itself (aio.py) turns them into traffic. Durations are
seconds, rates requests per second. The load shapes live in loadbench.shapes and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from loadbench.shapes import ArrivalProcess, Closed, Load, LoadShape, Open, Stage, Stages

__all__ = [
    "ArrivalProcess",
    "Closed",
    "DriveOptions",
    "ErrorClass",
    "Load",
    "LoadShape",
    "Open",
    "RequestSpec",
    "Stage",
    "Stages",
    "Target",
]


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
