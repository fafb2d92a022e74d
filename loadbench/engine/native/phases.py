"""One engine process's run, phase by phase: warm-up, measured window, drain; returns its Shard.

The phase loop is the only clock the run obeys: it folds the recorder every 100 ms, closes a timeline
second every second of the measured window, ramps connection stages, ends the window on time (or when
`max_requests` have completed), stops sending, gives the requests in flight up to the timeout to
finish, and closes every connection. Nothing here outlives the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import os
import resource
import socket
import ssl
from collections.abc import Callable, Iterator, Sequence
from time import perf_counter_ns

from loadbench.engine.native.checks import CompiledCheck
from loadbench.engine.native.http1 import encode_request, mix_sequence
from loadbench.engine.native.pacing import RateProfile, arrivals, connections_at
from loadbench.engine.native.recorder import Recorder, Shard
from loadbench.engine.native.run import Run
from loadbench.errors import EngineError, UsageError
from loadbench.results.metrics import WINDOW_OPENS, TickInfo
from loadbench.shapes import Load, Stage
from loadbench.types import DriveOptions, RequestSpec, Target

TICK_NS = 100_000_000
SECOND_NS = 1_000_000_000
MIN_PARTIAL_SECOND_NS = 100_000_000  # a last partial second shorter than this gets no timeline point
FD_HEADROOM = 64
NEVER = 1 << 62


def event_loop_factory() -> tuple[Callable[[], asyncio.AbstractEventLoop], str]:
    """uvloop's loop when installed, else the standard library's, with its name."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop, "asyncio"
    return uvloop.new_event_loop, "uvloop"


def ensure_fd_limit(connections: int) -> None:
    """Raise the soft RLIMIT_NOFILE to fit `connections` sockets, or say how to raise the hard one."""
    needed = connections + FD_HEADROOM
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise EngineError(
            f"{connections} connections need about {needed} file descriptors but the hard limit is "
            f"{hard}; raise it (e.g. `ulimit -n {needed}` as root, or in /etc/security/limits.conf) "
            "or ask for fewer connections"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def max_connections_of(load: Load) -> int:
    """The most connections the run may hold open (LoadShape.connection_limit)."""
    return load.connection_limit


def resolve(target: Target) -> tuple[str, int]:
    """The address to connect to, looked up once per run (IPv4 first, as most servers bind it)."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise EngineError(f"cannot resolve {target.host!r}: {exc}; check the URL's host") from exc
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return str(infos[0][4][0]), int(infos[0][4][1])


def window_profile(load: Load, warmup_s: float, duration_s: float) -> RateProfile:
    """The rate profile of an open-loop run: warm-up at the schedule's first target (a constant rate's
    rate, or the first stage's) followed by the measured window's schedule."""
    stages = load.schedule(duration_s)
    lead = [Stage(duration_s=0, target=stages[0].target), Stage(duration_s=warmup_s,
            target=stages[0].target), Stage(duration_s=0, target=0)] if warmup_s > 0 else []  # fmt: skip
    return RateProfile.from_stages([*lead, *stages])


def run_duration_s(load: Load, options: DriveOptions) -> float | None:
    """The measured window's length: the shape's own (stages' total), else options.duration_s."""
    own = load.own_duration_s
    return own if own is not None else options.duration_s


def drive_one(
    target: Target, requests: Sequence[RequestSpec], load: Load, options: DriveOptions,
    *, report: Callable[[TickInfo], bool | None] | None = None,
    before_start: Callable[[], None] | None = None,
) -> Shard:  # fmt: skip
    """Run one engine process's share of the load on a fresh event loop and return its Shard."""
    factory, loop_name = event_loop_factory()
    ensure_fd_limit(max_connections_of(load))
    address = resolve(target) if options.unix_socket is None else (target.host, target.port)
    context = None
    if target.scheme == "https":  # one handshake first: a certificate that does not verify is one error
        from loadbench.engine.tls import check_handshake, client_context

        context = client_context(options)
        if options.unix_socket is None:
            check_handshake(target, context, timeout_s=options.timeout_s, address=address)
    with asyncio.Runner(loop_factory=factory) as runner, _frozen_heap():
        return runner.run(_drive(target, address, requests, load, options, loop_name, report, before_start,
                                 context))


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """Keep the objects that exist before the run out of the cyclic garbage collector's passes meanwhile.

    A full collection walks every tracked object of the process: inside `loadbench run`, whose heap holds
    the scenario, the results so far and every imported module, that is milliseconds during which no
    request leaves on time, and an open loop's schedule lag p99 shows it. gc.freeze() moves them to the
    permanent generation (CPython 3.7+), so a pass sees only what the run itself made; unfreeze() hands
    them back afterwards. Collection stays on: a long run's cyclic garbage is still collected.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _drive(
    target: Target, address: tuple[str, int], requests: Sequence[RequestSpec], load: Load,
    options: DriveOptions, loop_name: str, report: Callable[[TickInfo], bool | None] | None,
    before_start: Callable[[], None] | None, context: ssl.SSLContext | None = None,
) -> Shard:  # fmt: skip
    loop = asyncio.get_running_loop()
    duration_s = run_duration_s(load, options)
    if duration_s is None and not options.max_requests:
        raise UsageError("the run has no bound: give a duration (-d) or a request count (-n)")
    open_loop = load.loop == "open"
    rec = Recorder(open_loop=open_loop)
    order = mix_sequence(requests, seed=options.seed)
    rendered = None
    if any(r.template_dir is not None for r in requests):  # only then: the plain path never imports it
        from loadbench.engine.native.templated import templated_wire

        # The k-th send takes the k-th mix entry when every request is framed and checked alike.
        alike = len({(r.method.upper() == "HEAD", r.check) for r in requests}) == 1
        rendered = templated_wire(requests, order, target, keepalive=options.keepalive, seed=options.seed,
                                  shard=options.shard, by_send=alike)  # fmt: skip
    run = Run(
        loop=loop, address=address, server_hostname=target.host if context else None, ssl_context=context,
        wire=[encode_request(r, target, keepalive=options.keepalive) for r in requests] if rendered is None
        else [],
        is_head=[r.method.upper() == "HEAD" for r in requests],
        order=order, rec=rec, keepalive=options.keepalive, rendered=rendered,
        timeout_ns=int(options.timeout_s * 1e9), open_loop=open_loop,
        max_connections=max_connections_of(load),
        checks=[CompiledCheck.of(r.check) if r.check is not None and r.check.active else None
                for r in requests],
        unix_socket=options.unix_socket, pipeline=options.pipeline,
    )  # fmt: skip
    warmup_ns = int(options.warmup_s * SECOND_NS)
    window_ns = int(duration_s * SECOND_NS) if duration_s is not None else NEVER
    span_s = duration_s if duration_s is not None else 10_000_000.0
    schedule = load.schedule(span_s)  # rates (open loop) or connection counts (closed loop)
    if before_start is not None:
        before_start()
    t_start = perf_counter_ns()
    run.start_sweeper()
    if open_loop:
        profile = window_profile(load, options.warmup_s, span_s)
        run.start_schedule(_schedule_ns(t_start, arrivals(profile, load.arrival, seed=options.seed)))
    else:
        run.set_wanted(round(schedule[0].target) if warmup_ns else connections_at(schedule, 0.0))

    measuring = warmup_ns == 0
    aborted = False  # the caller asked to end the run (a tick's report returned True)
    measure_start = t_start
    cpu0 = 0.0
    in_flight_at_begin = 0
    second = 0
    next_fold = t_start + TICK_NS
    next_second = t_start + SECOND_NS

    def begin(now: int) -> None:
        nonlocal measuring, measure_start, cpu0, next_fold, next_second, in_flight_at_begin
        rec.begin()
        measuring, measure_start, cpu0 = True, now, _cpu_s()
        # Requests in flight now were sent during the warm-up (none without one: those are still connecting).
        in_flight_at_begin = run.busy() if warmup_ns else 0
        next_fold, next_second = now + TICK_NS, now + SECOND_NS
        if options.max_requests:
            run.budget = max(options.max_requests - run.busy(), 0)
        run.update_go()
        base_in, base_out = run.byte_totals()
        rec.bytes_in, rec.bytes_out = -base_in, -base_out
        if options.max_requests and not open_loop:
            run.refill()
        if report is not None:
            report(WINDOW_OPENS)

    if measuring:
        begin(t_start)
    while True:
        now = perf_counter_ns()
        if not measuring and now >= t_start + warmup_ns:
            begin(now)
        if now >= next_fold:
            # Folded in the warm-up too (fold() discards there): the deadline must move on, or every
            # wake-up after the first tick would be in the past and the loop would spin a whole core.
            run.check_cache(len(rec.lat))
            rec.fold()
            next_fold += TICK_NS * max(1, (now - next_fold) // TICK_NS + 1)
        if not measuring and now >= next_second:
            next_second += SECOND_NS
            if report is not None:
                report(TickInfo(phase="warmup", elapsed_s=(now - t_start) / 1e9, duration_s=0.0,
                                requests=0, rps=0.0, errors=0))  # fmt: skip
        if measuring:
            if now >= next_second:
                rec.fold()
                rec.close_second(second)
                if report is not None:
                    last = rec.seconds[-1]
                    elapsed_s = (now - measure_start) / 1e9
                    # The figures so far (--abort-on-fail): the recorder's own histograms, read at once.
                    partial = rec.shard(event_loop=loop_name, duration_s=elapsed_s, cpu_s=_cpu_s() - cpu0
                                        ) if options.live_figures else None  # fmt: skip
                    if report(TickInfo(
                        phase="measure", elapsed_s=elapsed_s, duration_s=window_ns / 1e9,
                        requests=rec.requests, rps=float(last.requests), errors=sum(rec.errors.values()),
                        partial=partial,
                    )):  # fmt: skip
                        aborted = True
                        break
                second += 1
                next_second += SECOND_NS
            if not open_loop:
                wanted = connections_at(schedule, (now - measure_start) / 1e9)
                if wanted != run.wanted:
                    run.set_wanted(wanted)
            if now - measure_start >= window_ns:
                break
            if options.max_requests and run.budget <= 0 and run.busy() == 0:
                break
        wake = min(next_fold, next_second, measure_start + window_ns if measuring else t_start + warmup_ns)
        if options.max_requests and measuring and run.budget <= 0:
            wake = min(wake, now + 1_000_000)  # poll for the last responses of a -n run
        await asyncio.sleep(max(wake - perf_counter_ns(), 0) / 1e9)

    t_end = perf_counter_ns()
    # The CPU of the measured window only: client_cpu_pct divides it by the window's length, and the
    # drain (waiting for the last responses, closing connections) lies outside that window.
    cpu_s = _cpu_s() - cpu0
    rec.fold()
    got_in, got_out = run.byte_totals()
    rec.bytes_in += got_in
    rec.bytes_out += got_out
    if not open_loop:
        # The closed loop sends from the hot path, where a counter would cost every request; every
        # request sent in the window has completed (response or error) or is still in flight now.
        finished = rec.requests + sum(rec.errors.values()) - rec.unsolicited
        rec.sent = max(finished + run.busy() - in_flight_at_begin, 0)
    if t_end - (next_second - SECOND_NS) >= MIN_PARTIAL_SECOND_NS:
        rec.close_second(second)
    rec.draining = True
    run.stop_sending()
    drain_deadline = t_end + run.timeout_ns + 60_000_000
    while run.busy() and perf_counter_ns() < drain_deadline:
        await asyncio.sleep(0.002)
    run.close_all()
    await asyncio.sleep(0)  # let the aborted transports report connection_lost
    rec.fold()
    shard = rec.shard(event_loop=loop_name, duration_s=(t_end - measure_start) / 1e9, cpu_s=cpu_s)
    return dataclasses.replace(shard, aborted=True) if aborted else shard


def _schedule_ns(t_start: int, times_s: Iterator[float]) -> Iterator[int]:
    for t in times_s:
        yield t_start + int(t * SECOND_NS)


def pin_current(cpus: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """Pin the calling thread to `cpus`; returns the previous set (None when nothing changed)."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        return None
    previous = tuple(sorted(os.sched_getaffinity(0)))
    try:
        os.sched_setaffinity(0, cpus)
    except OSError as exc:
        raise UsageError(f"--cpus {','.join(map(str, cpus))}: cannot pin to those CPUs ({exc}); "
                         f"this machine has CPUs {','.join(map(str, previous))}") from exc  # fmt: skip
    return previous


@contextlib.contextmanager
def pinned(cpus: tuple[int, ...] | None) -> Iterator[None]:
    """Run the body pinned to `cpus`, restoring the previous affinity afterwards."""
    previous = pin_current(cpus)
    try:
        yield
    finally:
        if previous is not None:
            os.sched_setaffinity(0, previous)
