"""loadbench.bench(url, ...): one ad-hoc load run from Python, the same run as `loadbench bench URL`.

Values take the CLI's forms (durations "10s"/"1m30s" or seconds, rates "500/s" or per second, counts
"1k") and come back as the TrialResult a results file holds. From a notebook, where an event loop is
already running in this thread, the engine runs in a worker thread and bench() waits for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from loadbench.errors import UsageError

if TYPE_CHECKING:
    from loadbench.results.records import TrialResult
    from loadbench.shapes import Load
    from loadbench.types import DriveOptions, RequestSpec


def bench(
    url: str, *, connections: int | str | None = None, rate: float | str | None = None,
    duration: float | str | None = None, stages: str | None = None, requests: int | str | None = None,
    warmup: float | str = 0.0, timeout: float | str = 2.0, method: str = "GET",
    headers: Mapping[str, str] | None = None, body: bytes | str = b"",
    arrival: Literal["uniform", "poisson"] = "uniform", max_connections: int | str = 1024,
    processes: int = 1, cpus: str | list[int] | None = None, seed: int = 0, keepalive: bool = True,
    engine: str = "native", allow_remote: bool = False, unix_socket: str | None = None,
    pipeline: int = 1, expect_status: str | None = None, expect_body: str | None = None,
    expect_body_re: str | None = None,
) -> TrialResult:  # fmt: skip
    """Send load to `url` and return the measured trial (requests, rps, latency_ms, errors, saturated...).

    The load is one of: `connections` (closed loop, default 10), `rate` (open loop, requests per second,
    latency counted from each scheduled send) or `stages` ("10s:100/s,30s:500/s"). `duration` is the
    measured window after `warmup` (default 10 s unless `requests` bounds the run); `timeout` is each
    request's whole deadline. Only loopback targets unless `allow_remote`. `unix_socket` sends the
    requests to that Unix socket instead of the URL's host:port (whose host names the Host header), as
    `bench --unix-socket`; native engine only. `pipeline` keeps that many requests in flight per
    connection (HTTP/1.1 pipelining, `--pipeline`); `expect_status` ("200,204", "2xx"), `expect_body` and
    `expect_body_re` check every response, a failure counted as error class `check_failed` (`--expect-*`);
    both native engine only. Bad values raise UsageError
    with one line naming the argument; a backend that cannot run here raises EngineUnavailableError.
    """
    import asyncio

    from loadbench.engine.targets import check_target, parse_url

    target, path = parse_url(url)
    check_target(target, allow_remote=allow_remote)
    load = _load(connections, rate, stages, arrival, max_connections, duration)
    options = _options(duration, requests, warmup, timeout, keepalive, processes, cpus, seed, allow_remote)
    if unix_socket is not None:
        import dataclasses

        from loadbench.servers.unixsock import check_client_socket

        check_client_socket(unix_socket, what="unix_socket")
        options = dataclasses.replace(options, unix_socket=unix_socket)
    spec = _request(method, path, headers, body)
    options, spec = _breadth(options, spec, engine, pipeline, expect_status, expect_body, expect_body_re)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _measure(url, spec, load, options, engine)
    # An event loop runs in this thread (Jupyter, IPython): the engine starts its own loop, so it runs in
    # a worker thread while this one waits.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="loadbench-bench") as pool:
        return pool.submit(_measure, url, spec, load, options, engine).result()


def _load(connections: int | str | None, rate: float | str | None, stages: str | None, arrival: str,
          max_connections: int | str, duration: float | str | None) -> Load:  # fmt: skip
    from loadbench.types import Closed, Open
    from loadbench.units import parse_count, parse_rate, parse_stages

    if sum(x is not None for x in (connections, rate, stages)) > 1:
        raise UsageError("connections, rate and stages exclude each other: choose one load shape")
    if arrival not in ("uniform", "poisson"):
        raise UsageError(f"arrival: {arrival!r} is not 'uniform' or 'poisson'")
    max_conns = parse_count(max_connections, what="max_connections")
    if max_conns < 1:
        raise UsageError(f"max_connections: {max_connections!r} must be at least 1")
    if rate is not None:
        return Open(rate_per_s=parse_rate(rate, what="rate"), arrival=arrival, max_connections=max_conns)  # type: ignore[arg-type]
    if stages is not None:
        if duration is not None:
            raise UsageError("duration with stages: the stages set the duration (their total); drop one")
        return parse_stages(stages, what=f"stages {stages!r}", arrival=arrival,  # type: ignore[arg-type]
                            max_connections=max_conns)
    count = parse_count(10 if connections is None else connections, what="connections")
    if count < 1:
        raise UsageError(f"connections: {connections!r} must be at least 1")
    return Closed(connections=count)


def _options(duration: float | str | None, requests: int | str | None, warmup: float | str,
             timeout: float | str, keepalive: bool, processes: int, cpus: str | list[int] | None,
             seed: int, allow_remote: bool) -> DriveOptions:  # fmt: skip
    from loadbench.engine.window import measured_window
    from loadbench.types import DriveOptions
    from loadbench.units import parse_cpus, parse_duration

    run_s, limit, timeout_s = measured_window(
        duration, requests, timeout, name=str,
        said=lambda option, value: f"{option}: {value if option == 'requests' else repr(value)}")  # fmt: skip
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise UsageError(f"processes: {processes!r} must be a whole number, at least 1")
    return DriveOptions(
        duration_s=run_s, max_requests=limit, warmup_s=parse_duration(warmup, what="warmup"),
        timeout_s=timeout_s, keepalive=keepalive, processes=processes,
        cpus=parse_cpus(cpus, what="cpus") if cpus is not None else None, seed=seed,
        allow_remote=allow_remote,
    )  # fmt: skip


def _breadth(options: DriveOptions, spec: RequestSpec, engine: str, pipeline: int, status: str | None,
             body: str | None, body_re: str | None) -> tuple[DriveOptions, RequestSpec]:  # fmt: skip
    """The options and request with `pipeline` and the response check (the native engine's breadth)."""
    import dataclasses

    from loadbench.engine.expect import response_check
    from loadbench.safe import limits

    whole = isinstance(pipeline, int) and not isinstance(pipeline, bool)
    if not whole or not 1 <= pipeline <= limits.MAX_PIPELINE:
        raise UsageError(f"pipeline: {pipeline!r} must be a whole number from 1 (no pipelining) to "
                         f"{limits.MAX_PIPELINE}")  # fmt: skip
    check = response_check(status, body, body_re, names=("expect_status", "expect_body", "expect_body_re"))
    if engine != "native" and (check is not None or pipeline > 1 or options.unix_socket is not None):
        raise UsageError("expect_*, pipeline and unix_socket need engine='native'")
    return dataclasses.replace(options, pipeline=pipeline), dataclasses.replace(spec, check=check)


def _request(method: str, path: str, headers: Mapping[str, str] | None, body: bytes | str) -> RequestSpec:
    from loadbench.types import RequestSpec

    if not isinstance(method, str) or not method.isalpha():
        raise UsageError(f"method: {method!r} is not an HTTP method; use GET, POST, ...")
    pairs = tuple((str(k), str(v)) for k, v in (headers or {}).items())
    payload = body.encode() if isinstance(body, str) else bytes(body)
    return RequestSpec(method=method.upper(), path=path, headers=pairs, body=payload)


def _measure(url: str, spec: RequestSpec, load: Load, options: DriveOptions, engine: str) -> TrialResult:
    from datetime import UTC, datetime
    from urllib.parse import urlsplit

    from loadbench.engine import run_backend
    from loadbench.results.build import TrialIdentity, measured_trial

    started = datetime.now(UTC)
    result = run_backend(engine, _target(url), [spec], load, options, workload=spec.path)
    recording = result.only()
    identity = TrialIdentity(
        trial_id="bench", index=0, model=urlsplit(url).netloc, workload=spec.path, requests_spec=[spec],
        load=recording.load, started=started, url=url,
        cpus={"server": None, "client": list(options.cpus) if options.cpus else None},
        unix_socket=options.unix_socket,
    )  # fmt: skip
    return measured_trial(identity, recording, backend_extras=result.extras)


def _target(url: str) -> Any:
    from loadbench.engine.targets import parse_url

    return parse_url(url)[0]


__all__ = ["bench"]
