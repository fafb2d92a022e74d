"""The httpx backend: a full HTTP client (HTTP/1.1, and HTTP/2 through h2) behind the engine-backend seam.

httpx is the client that speaks what the native engine does not: HTTP/2 (ALPN "h2" over TLS, or prior
knowledge on http://), with `streams` concurrent streams per connection. It costs far more CPU per request
than the native engine (about 1.8k requests per CPU-second here against ~100k), so every result states
the client's own capacity (`requests_per_client_cpu_s`) and is flagged saturated as soon as the client
used over 90 % of a core or fell behind an open-loop rate: a figure then measures httpx, not the server.

Settings (bench --http2 / --streams; a scenario's [load] http2 / streams):

    http2    bool, default false: offer HTTP/2 (needs the h2 package: pip install 'loadbench[http2]')
    streams  int ≥ 1, default 1: concurrent requests per connection (HTTP/2 only, as h2load's -m)
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loadbench.engine.backend import BackendResult, TickSink
from loadbench.errors import UsageError

if TYPE_CHECKING:
    from loadbench.types import DriveOptions, Load, RequestSpec, Target

SETTINGS = ("http2", "streams")


def parse_settings(settings: Mapping[str, Any]) -> tuple[bool, int]:
    """(http2, streams) from the backend's settings; UsageError naming every bad or unknown key."""
    problems = [f"unknown setting {key!r}" for key in settings if key not in SETTINGS]
    http2 = settings.get("http2", False)
    streams = settings.get("streams", 1)
    if not isinstance(http2, bool):
        problems.append(f"http2 = {http2!r} must be true or false")
        http2 = False
    if isinstance(streams, bool) or not isinstance(streams, int) or streams < 1:
        problems.append(f"streams = {streams!r} must be a whole number ≥ 1")
        streams = 1
    elif streams > 1 and not http2:
        problems.append(f"streams = {streams} needs HTTP/2 (--http2): HTTP/1.1 carries one request at a "
                        "time per connection; ask for more connections instead")  # fmt: skip
    if problems:
        raise UsageError(f"engine 'httpx': {'; '.join(problems)} (settings: {', '.join(SETTINGS)})")
    return http2, streams


class HttpxBackend:
    """httpx AsyncClients, one per connection: closed and open loop, HTTP/1.1 or HTTP/2, TLS."""

    name = "httpx"
    description = ("httpx AsyncClient per connection: HTTP/1.1 or HTTP/2 (--http2, --streams), TLS; "
                   "~1.8k req per client CPU-second, so its capacity is stated in every result")  # fmt: skip

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.http2, self.streams = parse_settings(settings)

    def available(self) -> str | None:
        if importlib.util.find_spec("httpx") is None:
            return "the httpx package is missing: pip install httpx"
        if self.http2 and importlib.util.find_spec("h2") is None:
            return "HTTP/2 needs the h2 package: pip install 'loadbench[http2]' (or pip install h2)"
        return None

    def drive(
        self, target: Target, requests: Sequence[RequestSpec], load: Load, options: DriveOptions, *,
        workload: str, on_tick: TickSink | None = None,
    ) -> BackendResult:  # fmt: skip
        import httpx

        from loadbench.engine.httpx_drive import drive_httpx
        from loadbench.engine.native.phases import max_connections_of, pinned
        from loadbench.engine.native.recorder import build_recording
        from loadbench.engine.tls import check_handshake, client_context

        if options.processes != 1:
            raise UsageError(f"engine 'httpx' runs in one process; drop --processes {options.processes}")
        context, handshake_ms, alpn = None, None, None
        if target.scheme == "https":
            context = client_context(options, alpn=("h2", "http/1.1") if self.http2 else ("http/1.1",))
            handshake_ms, alpn = check_handshake(target, context, timeout_s=options.timeout_s)
        with pinned(options.cpus):
            run = drive_httpx(target, requests, load, options, http2=self.http2, streams=self.streams,
                              context=context, report=on_tick)  # fmt: skip
        shard = run.shard
        recording = build_recording(
            shard, load=load, warmup_s=options.warmup_s, target_rps=load.mean_rate_per_s,
            max_connections=max_connections_of(load), processes=1, cpus=options.cpus,
            keepalive=options.keepalive,
        )  # fmt: skip
        recording = dataclasses.replace(recording, backend=self.name, engine=f"httpx/{httpx.__version__}")
        per_cpu_s = shard.requests / shard.cpu_s if shard.cpu_s > 0 else None
        version = run.versions.most_common(1)[0][0] if run.versions else None
        extras: dict[str, Any] = {
            "http_version": version,
            "http_versions": dict(run.versions),
            "http2_offered": self.http2,
            "streams": self.streams,
            "tls": target.scheme == "https",
            "tls_alpn": alpn,
            "tls_handshake_ms": round(handshake_ms, 3) if handshake_ms is not None else None,
            "requests_per_client_cpu_s": round(per_cpu_s, 1) if per_cpu_s is not None else None,
            "capacity_note": (
                "httpx is a full Python HTTP client: it costs far more CPU per request than the native "
                "engine; when `saturated` is true the figures measure httpx, not the server"
            ),
        }
        return BackendResult(recordings={workload: recording}, extras=extras)
