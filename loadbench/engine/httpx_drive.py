"""The httpx backend's run: AsyncClients on one event loop, closed or open loop, into the native Recorder.

Each "connection" is its own `httpx.AsyncClient` holding at most one connection: many tasks sharing one
client collapse (its pool rescans every connection per request; docs MEASURING.md measured 326 against
1,810 req/s). With HTTP/2, `streams` tasks share each client's one connection as concurrent streams (as
h2load's -m); with HTTP/1.1 one task per client. Latency and status go into the native engine's Recorder
(one int per response, folded into the histogram in batches), so figures, timeline, drained responses and
the saturation verdict are computed exactly as the native engine's are.

Closed loop: every task sends its next request when the last completes; latency from the send. Open loop:
one pump sends each request at its scheduled time on a client with a free stream (opening clients up to
the load's connection limit, beyond which the request is dropped and counted); latency from the scheduled
time, service time from the actual send, schedule lag kept. Each request has a total deadline (connect,
send, whole response). `bytes_in`/`bytes_out` count bodies only (httpx hides the wire bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import ssl
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any

from loadbench.engine.native.http1 import mix_sequence
from loadbench.engine.native.pacing import arrivals, connections_at
from loadbench.engine.native.phases import NEVER, SECOND_NS, TICK_NS, run_duration_s, window_profile
from loadbench.engine.native.recorder import STATUS_BITS, STATUS_MASK, Recorder, Shard
from loadbench.results.metrics import WINDOW_OPENS, TickInfo
from loadbench.types import DriveOptions, ErrorClass, Load, RequestSpec, Target

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpxRun", "classify", "drive_httpx"]


@dataclass(slots=True, kw_only=True)
class HttpxRun:
    """What the httpx run measured beyond the Shard: the negotiated HTTP versions (response counts)."""

    shard: Shard
    versions: Counter[str] = field(default_factory=Counter)
    clients_opened: int = 0


def classify(exc: BaseException, timeout_s: float) -> tuple[ErrorClass, str]:
    """The error class and message of an exception from one httpx request (re-raises anything else)."""
    import httpx

    if isinstance(exc, TimeoutError):  # the total deadline (asyncio.timeout)
        return ErrorClass.TIMEOUT, f"no complete response within {timeout_s:g} s"
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return ErrorClass.CONNECT_TIMEOUT, text
    if isinstance(exc, httpx.TimeoutException):
        return ErrorClass.TIMEOUT, text
    if isinstance(exc, httpx.ConnectError):
        if isinstance(exc.__context__, ssl.SSLError) or "SSL" in str(exc) or "certificate" in str(exc):
            return ErrorClass.PROTOCOL, f"TLS: {exc}"
        return ErrorClass.CONNECT_REFUSED, text
    if isinstance(exc, httpx.RemoteProtocolError):
        lowered = str(exc).lower()
        if "disconnected" in lowered or "closed" in lowered:
            return ErrorClass.RESET, text
        return ErrorClass.PROTOCOL, text
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.CloseError):
        return ErrorClass.RESET, text
    if isinstance(exc, httpx.ProtocolError | httpx.DecodingError | httpx.TooManyRedirects):
        return ErrorClass.PROTOCOL, text
    if isinstance(exc, httpx.TransportError):
        return ErrorClass.RESET, text
    raise exc


class _Client:
    """One AsyncClient (one connection) and the requests in flight on it."""

    __slots__ = ("client", "in_flight")

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.in_flight = 0


class _Driver:
    """The shared state of one httpx run; see the module docstring."""

    def __init__(
        self, target: Target, requests: Sequence[RequestSpec], load: Load, options: DriveOptions, *,
        http2: bool, streams: int, context: ssl.SSLContext | None,
    ) -> None:  # fmt: skip
        self.load = load
        self.options = options
        self.http2 = http2
        self.streams = streams
        # One context for every client: httpx would build one per AsyncClient (~18 ms each, http:// too).
        self.context = context if context is not None else ssl.create_default_context()
        self.plain_h2c = http2 and target.scheme == "http"  # prior knowledge, as h2load does for http://
        base = target.base_url
        extra = () if options.keepalive else (("Connection", "close"),)
        self.wire = [(r.method, base + r.path, [*r.headers, *extra], r.body or None) for r in requests]
        self.order = mix_sequence(requests, seed=options.seed)
        self.n_order = len(self.order)
        self.position = 0
        self.open_loop = load.loop == "open"
        self.rec = Recorder(open_loop=self.open_loop)
        self.timeout_s = options.timeout_s
        self.versions: Counter[str] = Counter()
        self.clients: list[_Client] = []
        self.clients_opened = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.sending = True
        self.budget = NEVER  # requests still to send (max_requests)
        self.wanted = 0  # closed loop: connections (clients) to keep busy

    def new_client(self) -> _Client:
        import httpx

        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1 if self.options.keepalive else 0)
        client = httpx.AsyncClient(
            http1=not self.plain_h2c, http2=self.http2, verify=self.context, limits=limits,
            timeout=httpx.Timeout(self.timeout_s), trust_env=False, follow_redirects=False,
        )  # fmt: skip
        self.clients_opened += 1
        if self.rec.measuring:
            self.rec.connections_opened += 1
        wrapped = _Client(client)
        self.clients.append(wrapped)
        return wrapped

    def take(self) -> bool:
        """Count one request against the budget; False when nothing may be sent any more."""
        if not self.sending or self.budget <= 0:
            return False
        if self.budget != NEVER:
            self.budget -= 1
        return True

    async def one(self, slot: _Client, sched: int) -> None:
        """Send the next request of the mix on `slot` and record its outcome; `sched` = 0 in a closed loop."""
        method, url, headers, body = self.wire[self.order[self.position]]
        self.position = (self.position + 1) % self.n_order
        rec = self.rec
        slot.in_flight += 1
        t0 = perf_counter_ns()
        if rec.measuring:
            rec.sent += 1
            rec.bytes_out += len(body or b"")
        if sched:
            rec.lag.append(t0 - sched)
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await slot.client.request(method, url, headers=headers, content=body)
        except Exception as exc:  # classify() re-raises anything that is not a transport failure
            cls, message = classify(exc, self.timeout_s)
            rec.error(cls, message)
        else:
            t = perf_counter_ns()
            rec.lat.append(((t - (sched or t0)) << STATUS_BITS) | (response.status_code & STATUS_MASK))
            if sched:
                rec.svc.append(t - t0)
            self.versions[response.http_version] += 1
            if rec.measuring:
                rec.bytes_in += len(response.content)
        finally:
            slot.in_flight -= 1

    # -- closed loop --------------------------------------------------------------------------
    async def closed_worker(self, index: int, slot: _Client) -> None:
        """Keep one stream of `slot` busy while this connection is wanted and sending goes on."""
        while index < self.wanted and self.take():
            await self.one(slot, 0)

    def set_wanted(self, wanted: int) -> None:
        """Closed loop: open clients (each with `streams` tasks) up to `wanted`; extra ones stop when idle."""
        grow = range(self.wanted, wanted)
        self.wanted = wanted
        for index in grow:
            slot = self.new_client()
            for _ in range(self.streams):
                self.spawn(self.closed_worker(index, slot))

    # -- open loop ----------------------------------------------------------------------------
    async def pump(self, t_start: int, warmup_s: float, span_s: float) -> None:
        """Send every request at its scheduled time (see the module docstring)."""
        rec = self.rec
        limit = self.load.connection_limit
        profile = window_profile(self.load, warmup_s, span_s)
        for t_s in arrivals(profile, self.load.arrival, seed=self.options.seed):
            due = t_start + int(t_s * SECOND_NS)
            wait_ns = due - perf_counter_ns()
            if wait_ns > 0:
                await asyncio.sleep(wait_ns / 1e9)
            if not self.take():
                return
            slot = next((c for c in self.clients if c.in_flight < self.streams), None)
            if slot is None and len(self.clients) < limit:
                slot = self.new_client()
            if slot is None:
                if rec.measuring:
                    rec.dropped += 1
                continue
            self.spawn(self.one(slot, due))

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.gather(*(c.client.aclose() for c in self.clients), return_exceptions=True)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def drive_httpx(
    target: Target, requests: Sequence[RequestSpec], load: Load, options: DriveOptions, *, http2: bool,
    streams: int, context: ssl.SSLContext | None, report: Callable[[TickInfo], bool | None] | None = None,
) -> HttpxRun:  # fmt: skip
    """Run the load with httpx on a fresh event loop (uvloop when installed); see the module docstring."""
    from loadbench.engine.native.phases import event_loop_factory

    factory, loop_name = event_loop_factory()
    driver = _Driver(target, requests, load, options, http2=http2, streams=streams, context=context)
    with asyncio.Runner(loop_factory=factory) as runner:
        shard = runner.run(_phases(driver, loop_name, report))
    return HttpxRun(shard=shard, versions=driver.versions, clients_opened=driver.clients_opened)


async def _phases(driver: _Driver, loop_name: str, report: Callable[[TickInfo], bool | None] | None) -> Shard:
    """Warm-up, measured window, drain: the same phases as the native engine (engine/native/phases.py)."""
    options, load, rec = driver.options, driver.load, driver.rec
    duration_s = run_duration_s(load, options)
    warmup_ns = int(options.warmup_s * SECOND_NS)
    window_ns = int(duration_s * SECOND_NS) if duration_s is not None else NEVER
    span_s = duration_s if duration_s is not None else 10_000_000.0
    schedule = load.schedule(span_s)
    t_start = perf_counter_ns()
    if driver.open_loop:
        driver.spawn(driver.pump(t_start, options.warmup_s, span_s))
    else:
        driver.set_wanted(round(schedule[0].target) if warmup_ns else connections_at(schedule, 0.0))
    measuring = False
    measure_start, cpu0, second = t_start, 0.0, 0
    next_fold, next_second = t_start + TICK_NS, t_start + SECOND_NS

    def begin(now: int) -> None:
        nonlocal measuring, measure_start, cpu0, next_fold, next_second
        rec.begin()
        rec.connections_opened = len(driver.clients)
        measuring, measure_start, cpu0 = True, now, _cpu_s()
        next_fold, next_second = now + TICK_NS, now + SECOND_NS
        if options.max_requests:
            driver.budget = options.max_requests
        if report is not None:
            report(WINDOW_OPENS)

    if warmup_ns == 0:
        begin(t_start)
    while True:
        now = perf_counter_ns()
        if not measuring and now >= t_start + warmup_ns:
            begin(now)
        if now >= next_fold:
            rec.fold()
            next_fold += TICK_NS * max(1, (now - next_fold) // TICK_NS + 1)
        if measuring:
            if now >= next_second:
                rec.fold()
                rec.close_second(second)
                if report is not None:
                    report(TickInfo(phase="measure", elapsed_s=(now - measure_start) / 1e9,
                                    duration_s=window_ns / 1e9, requests=rec.requests,
                                    rps=float(rec.seconds[-1].requests), errors=sum(rec.errors.values())))
                second += 1
                next_second += SECOND_NS
            if not driver.open_loop:
                wanted = connections_at(schedule, (now - measure_start) / 1e9)
                if wanted != driver.wanted:
                    driver.set_wanted(wanted)
            if now - measure_start >= window_ns:
                break
            if options.max_requests and driver.budget <= 0 and not _busy(driver):
                break
        elif now >= next_second:
            next_second += SECOND_NS
            if report is not None:
                report(TickInfo(phase="warmup", elapsed_s=(now - t_start) / 1e9, duration_s=0.0,
                                requests=0, rps=0.0, errors=0))  # fmt: skip
        wake = min(next_fold, next_second, measure_start + window_ns if measuring else t_start + warmup_ns)
        if options.max_requests and measuring and driver.budget <= 0:
            wake = min(wake, now + 1_000_000)
        await asyncio.sleep(max(wake - perf_counter_ns(), 0) / 1e9)

    t_end = perf_counter_ns()
    cpu_s = _cpu_s() - cpu0
    rec.fold()
    if t_end - (next_second - SECOND_NS) >= 100_000_000:
        rec.close_second(second)
    rec.draining = True
    driver.sending = False
    drain_deadline = t_end + int((options.timeout_s + 0.06) * SECOND_NS)
    while _busy(driver) and perf_counter_ns() < drain_deadline:
        await asyncio.sleep(0.002)
    await driver.close()
    rec.fold()
    return rec.shard(event_loop=loop_name, duration_s=(t_end - measure_start) / 1e9, cpu_s=cpu_s)


def _busy(driver: _Driver) -> bool:
    return any(c.in_flight for c in driver.clients)
