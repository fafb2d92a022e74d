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
    "Crowd",
    "DriveOptions",
    "ErrorClass",
    "IdleMode",
    "Load",
    "LoadShape",
    "Open",
    "RequestSpec",
    "ResponseCheck",
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
class ResponseCheck:
    """What a response must be to count as one (`--expect-status`, `--expect-body`, `--expect-body-re`,
    a scenario endpoint's `expect_status` / `expect_body`); one that is not is a `check_failed` error.

    `status` lists the accepted codes (empty: any status is a response, and 2xx is `ok`, the default);
    `body` is text the body must contain and `body_re` a regular expression it must match (re.search),
    both on the first MAX_CHECKED_BYTES of the body (a chunked body is checked de-chunked).
    """

    status: tuple[int, ...] = ()
    body: bytes = b""
    body_re: str = ""

    @property
    def active(self) -> bool:
        return bool(self.status or self.body or self.body_re)


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestSpec:
    """One kind of request; `weight` sets its share in a weighted mix (relative to the others); `check`
    what its response must be (None: any response counts, 2xx as ok); `template_dir` whether its path,
    header values and body are templates (see the field)."""

    method: str = "GET"
    path: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    weight: float = 1.0
    check: ResponseCheck | None = None
    # None: path, header values and body are sent as written. A directory: they are templates
    # (loadbench.scenario.templates: {seq}, {random:1:10}, {csv:users.csv:id}), CSV files relative to it.
    template_dir: str | None = None


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
    response), keep-alive, and the CPUs the engine process(es) may use.

    TLS (https targets, every engine): the server's certificate is verified against the system's trust
    store, or against `cacert` (a PEM file of CA certificates) when given; `insecure` skips verification
    (self-signed certificates)."""

    duration_s: float | None = 10.0
    max_requests: int | None = None
    warmup_s: float = 0.0
    timeout_s: float = 2.0
    keepalive: bool = True
    processes: int = 1
    cpus: tuple[int, ...] | None = None
    seed: int = 0  # seeds the Poisson arrivals, the weighted mix and templates: equal seeds, equal requests
    shard: tuple[int, int] = (0, 1)  # (this engine process, of how many): interleaves template {seq}s
    live_figures: bool = False  # each measured tick carries the figures so far (TickInfo.partial)
    pipeline: int = 1  # HTTP/1.1 requests in flight per connection (1: no pipelining)
    unix_socket: str | None = None  # connect to this Unix socket path instead of the target's host:port
    allow_remote: bool = False  # the engine refuses non-loopback targets unless this is set
    insecure: bool = False  # https: do not verify the server's certificate
    cacert: str | None = None  # https: trust these CA certificates (PEM file) instead of the system's
    extra: dict[str, str] = field(default_factory=dict)


IdleMode = Literal["keepalive", "trickle"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Crowd:
    """Clients held open beside the measured load (issue 19: the C10K half of Apache vs nginx).

    `idle` connections are opened before the warm-up and held through the window: in "keepalive" mode
    each sends one request (`idle_path`, default the workload's first path), reads the response and then
    waits; in "trickle" mode each sends one request's header a byte every `trickle_interval_s` and never
    the blank line that would end it (slowloris, bounded to one request's header). `slow_readers` ask for
    `slow_path` (a large response) through a small receive buffer and read it at `read_rate_bps` bytes
    per second each. The measured load runs as without them; nothing here is measured as latency.
    """

    idle: int = 0
    idle_mode: IdleMode = "keepalive"
    trickle_interval_s: float = 1.0
    idle_path: str | None = None
    slow_readers: int = 0
    read_rate_bps: float = 1024.0
    slow_path: str = "/static/1m.bin"

    @property
    def connections(self) -> int:
        """Sockets the crowd holds at most (one per idle client and slow reader)."""
        return self.idle + self.slow_readers

    @property
    def label(self) -> str:
        """The suffix of a load label: "" without a crowd, else e.g. " +1000 idle", " +64 slow"."""
        parts = []
        if self.idle:
            parts.append(f"+{self.idle} {'idle' if self.idle_mode == 'keepalive' else 'trickle'}")
        if self.slow_readers:
            parts.append(f"+{self.slow_readers} slow")
        return "".join(" " + part for part in parts)
