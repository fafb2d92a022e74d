"""`loadbench bench URL`: an ad-hoc load run against one URL (like wrk), with an honest summary.

Only option parsing and printing live here; the run is loadbench.engine.drive and the summary text is
built from its Recording. The saturation verdict is printed first, in plain words.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import click

from loadbench.cli._crowd import crowd_from_options, crowd_suffix, crowd_text
from loadbench.engine.registry import backend_names

if TYPE_CHECKING:
    from loadbench.results.metrics import Recording
    from loadbench.results.records import TrialResult
    from loadbench.types import Crowd, Load, RequestSpec, Target

EPILOG = """\b
Examples:
  loadbench bench http://127.0.0.1:8000/plaintext -c 64 -d 10s --warmup 1s
  loadbench bench http://127.0.0.1:8000/plaintext -t 2 -c 64 -d 1m30s --latency   # wrk's spelling
  loadbench bench http://127.0.0.1:8000/json -R 2000 -z 30s --threshold 'p(99)<20'  # wrk2, oha, k6
  loadbench bench http://127.0.0.1:8000/json -r 500/s -d 30s --arrival poisson
  loadbench bench http://127.0.0.1:8000/ --stages 10s:100/s,30s:500/s,10s:0
  loadbench bench http://127.0.0.1:8000/ --stages 10s:16c,20s:64c
  loadbench bench http://localhost:8000/items -m POST -H 'Content-Type: application/json' --body @item.json
  loadbench bench http://127.0.0.1:8000/ --mix /plaintext=3 --mix /json=1 -n 100k --json result.json
  loadbench bench --targets targets.txt -c 16 -d 10s --seed 7      # vegeta's format, {seq} {csv:u.csv:id}
  loadbench bench http://127.0.0.1:8000/plaintext -c 16 -d 10s --idle 1000
  loadbench bench http://127.0.0.1:8000/plaintext -c 16 --idle 200 --idle-mode trickle --trickle-interval 1s
  loadbench bench http://127.0.0.1:8000/plaintext -c 16 --slow-readers 32 --read-rate 1KB/s
  loadbench bench https://127.0.0.1:8443/plaintext --cacert ca.pem -c 16      # native engine over TLS
  loadbench bench https://127.0.0.1:8443/json --engine httpx --http2 --streams 10 -c 4 --insecure
  loadbench bench http://127.0.0.1:8000/plaintext --engine locust -c 64 -d 10s --warmup 1s
  loadbench bench http://127.0.0.1:8000/ --engine locust --locustfile shop.py -c 50 --locust-workers 2
"""


def _requests(path: str, mix: tuple[str, ...], method: str, headers: tuple[str, ...], body: str | None,
              ) -> list[RequestSpec]:  # fmt: skip
    from pathlib import Path

    from loadbench.errors import UsageError
    from loadbench.types import RequestSpec

    pairs = []
    for header in headers:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"-H {header!r} is not 'Name: value'; write it like -H 'Accept: text/plain'")
        pairs.append((name.strip(), value.strip()))
    payload = b""
    if body is not None:
        if body.startswith("@"):
            try:
                payload = Path(body[1:]).read_bytes()
            except OSError as exc:
                raise UsageError(f"--body {body}: cannot read the file ({exc.strerror})") from exc
        else:
            payload = body.encode()
    if not mix:
        return [RequestSpec(method=method, path=path, headers=tuple(pairs), body=payload)]
    specs = []
    for item in mix:
        mix_path, _, weight_text = item.rpartition("=") if "=" in item else (item, "", "1")
        try:
            weight = float(weight_text)
        except ValueError:
            raise UsageError(f"--mix {item!r}: weight {weight_text!r} is not a number; use /path=3") from None
        if not mix_path.startswith("/") or not 0 < weight < float("inf"):
            raise UsageError(f"--mix {item!r}: write it like /path=3 (a path and a positive weight)")
        specs.append(RequestSpec(method=method, path=mix_path, headers=tuple(pairs), body=payload,
                                 weight=weight))
    return specs


@click.command(epilog=EPILOG)
@click.argument("url", required=False)
@click.option("--targets", "targets_file", default=None, metavar="FILE", help="Requests from a file in "
              "vegeta's http format (METHOD URL, header lines, @body; blocks apart by blank lines), with "
              "templates {seq}, {random:1:100}, {csv:users.csv:id}; instead of URL; all on one host:port.")
@click.option("-c", "--connections", default=None, help="Closed loop: N connections, each sending its next "
              "request when the last completes. [default: 10 when no -r or --stages]")  # fmt: skip
@click.option("-r", "-R", "--rate", default=None, help="Open loop: requests per second (500/s, 1k/s); "
              "latency counts from each request's scheduled send time. -R as in wrk2.")  # fmt: skip
@click.option("--stages", default=None, help="Ramps from 0, k6 style: 10s:100/s,30s:500/s (rates) or "
              "10s:16c,20s:64c (connections); every target but 0 needs its unit (/s or c). Warm-up runs at "
              "the first stage's target.")  # fmt: skip
@click.option("-d", "-z", "--duration", default=None, help="Measured duration (after warm-up): 30s, 1m30s; "
              "--stages sets its own. -z as in hey/oha. [default: 10s unless -n is given]")  # fmt: skip
@click.option("-n", "--requests", "max_requests", default=None,
              help="Stop after N measured requests (1k, 2M).")
@click.option("--warmup", default="0s", show_default=True, help="Load before the measured window, excluded "
              "from every figure. A duration: a bare 3 is 3 s (not 3 runs, as in hyperfine).")  # fmt: skip
@click.option("--timeout", default="2s", show_default=True, help="Total deadline per request: connect, send "
              "and the whole response.")  # fmt: skip
@click.option("-m", "--method", default="GET", show_default=True)
@click.option("-H", "--header", "headers", multiple=True, metavar="'K: V'",
              help="Request header (repeatable).")
@click.option("--body", default=None, metavar="TEXT|@FILE", help="Request body, or @file to read it.")
@click.option("--mix", multiple=True, metavar="PATH=WEIGHT", help="Weighted mix of paths on the URL's host "
              "instead of the URL's path (repeatable).")  # fmt: skip
@click.option("--no-keepalive", is_flag=True, help="A new connection per request (TIME_WAIT limits apply).")
@click.option("--arrival", type=click.Choice(["uniform", "poisson"]), default="uniform", show_default=True,
              help="Open loop: evenly spaced sends, or Poisson arrivals (seeded by --seed).")  # fmt: skip
@click.option("--max-connections", default="1024", show_default=True, help="Open loop: connections opened "
              "on demand up to this; beyond it requests are dropped (and counted).")  # fmt: skip
@click.option("--processes", default=None, help="Engine processes; the load is split between them and "
              "their histograms merged exactly. [default: 1]")  # fmt: skip
@click.option("-t", "--threads", default=None, help="wrk's -t: engine processes (same as --processes); more "
              "than the client CPUs is clamped to them, with a warning.")  # fmt: skip
@click.option("--latency", is_flag=True, help="Accepted for wrk users; latency percentiles are always shown.")
@click.option("-q", "hey_rate", default=None, hidden=True, expose_value=True)
@click.option("--threshold", "thresholds", multiple=True, metavar="EXPR", help="Fail (exit 10) unless it "
              "holds, e.g. 'p99 < 50ms' or k6's 'p(95)<200' (repeatable; grammar: loadbench check --help).")
@click.option("--abort-on-fail", is_flag=True, help="Check the --thresholds every second on the figures so "
              "far and end the run at the first failure (kept, marked aborted; exit 10), k6 style.")
@click.option("--abort-delay", default="5s", show_default=True, help="--abort-on-fail: measured time before "
              "the first check (k6's delayAbortEval), so a few slow first requests do not end the run.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors and failed thresholds.")
@click.option("-v", "--verbose", is_flag=True, help="Also print every error message and the engine's extras.")
@click.option("--cpus", default=None, help="Pin the engine process(es) to these CPUs, e.g. 1 or 2-3.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of Poisson arrivals and the mix.")
@click.option("--json", "json_out", default=None, metavar="FILE", help="Write the trial record as JSON "
              "(- for stdout; the summary then goes to stderr).")  # fmt: skip
@click.option("--expect-status", default=None, metavar="CODES", help="Statuses a response must have, e.g. "
              "200,204 or 2xx,3xx; any other is a check_failed error. [default: any status counts, 2xx as "
              "ok]")
@click.option("--expect-body", default=None, metavar="TEXT", help="Text every response body must contain "
              "(else check_failed).")  # fmt: skip
@click.option("--expect-body-re", default=None, metavar="REGEX", help="A regular expression every response "
              "body must match (Python re.search; else check_failed).")  # fmt: skip
@click.option("--pipeline", default="1", show_default=True, help="HTTP/1.1 pipelining: requests in flight "
              "per connection (TechEmpower's plaintext uses 16); a server that closes after one response "
              "is a counted downgrade to 1.")  # fmt: skip
@click.option("--unix-socket", default=None, metavar="PATH", help="Connect to this Unix socket instead of "
              "the URL's host:port (the URL still gives the path and Host header).")  # fmt: skip
@click.option("--engine", "engine", type=click.Choice(backend_names()), default="native", show_default=True,
              help="The load engine backend (`loadbench models` says which can run here).")
@click.option("--http2", is_flag=True, help="Offer HTTP/2 (engine httpx): ALPN h2 over https://, prior "
              "knowledge over http://; the record says which version was negotiated.")  # fmt: skip
@click.option("--streams", default=None, help="Concurrent streams per HTTP/2 connection (engine httpx, like "
              "h2load -m). [default: 1]")  # fmt: skip
@click.option("--insecure", is_flag=True, help="https: do not verify the server's certificate (self-signed).")
@click.option("--cacert", default=None, metavar="FILE", help="https: trust the CA certificates in this PEM "
              "file (e.g. the one `loadbench serve --tls` prints).")  # fmt: skip
@click.option("--allow-remote", is_flag=True, help="Allow a target other than localhost/127.0.0.0/8/::1 "
              "(only servers you own).")  # fmt: skip
@click.option("--locustfile", default=None, metavar="FILE", help="--engine locust: your locustfile (user "
              "journeys); each request name is a workload. [default: a generated FastHttpUser, no wait]")
@click.option("--locust-workers", default=None, type=click.IntRange(min=0), help="--engine locust: a master "
              "plus N local worker processes (0: one process).")  # fmt: skip
@click.option("--workers-timeout", default="30s", show_default=True, help="--engine locust: how long to wait "
              "for every worker to connect.")  # fmt: skip
@click.option("--locust-bind", default=None, metavar="HOST", help="--engine locust: the master's bind "
              "address (workers on other machines: docs/distributed.md). [default: 127.0.0.1]")  # fmt: skip
@click.option("--idle", default="0", show_default=True, help="Idle connections opened before the warm-up "
              "and held through the window, beside the measured load (1k, 10k).")  # fmt: skip
@click.option("--idle-mode", type=click.Choice(["keepalive", "trickle"]), default="keepalive",
              show_default=True, help="keepalive: one request each, then idle. trickle: a request's header "
              "a byte per --trickle-interval, never completed (slowloris).")  # fmt: skip
@click.option("--trickle-interval", default="1s", show_default=True, help="--idle-mode trickle: the pause "
              "between two header bytes.")  # fmt: skip
@click.option("--idle-path", default=None, help="The idle clients' one request. [default: the URL's path]")
@click.option("--slow-readers", default="0", show_default=True, help="Clients that ask for --slow-path and "
              "read it at --read-rate each, through a small receive buffer.")  # fmt: skip
@click.option("--read-rate", default="1KB/s", show_default=True, help="Each slow reader's read rate (512B/s, "
              "1KB/s, 1MB/s; KB = 1024 bytes).")  # fmt: skip
@click.option("--slow-path", default="/static/1m.bin", show_default=True, help="The large response slow "
              "readers read.")  # fmt: skip
def command(
    url: str | None, targets_file: str | None, connections: str | None, rate: str | None, stages: str | None,
    duration: str | None,
    max_requests: str | None, warmup: str, timeout: str, method: str, headers: tuple[str, ...],
    body: str | None, mix: tuple[str, ...], no_keepalive: bool, arrival: str, max_connections: str,
    processes: str | None, threads: str | None, latency: bool, hey_rate: str | None,
    thresholds: tuple[str, ...], abort_on_fail: bool, abort_delay: str, quiet: bool, verbose: bool,
    cpus: str | None, seed: int,
    json_out: str | None, expect_status: str | None, expect_body: str | None, expect_body_re: str | None,
    pipeline: str, unix_socket: str | None, engine: str, http2: bool, streams: str | None, insecure: bool,
    cacert: str | None, allow_remote: bool, locustfile: str | None, locust_workers: int | None,
    workers_timeout: str, locust_bind: str | None,
    idle: str, idle_mode: str, trickle_interval: str, idle_path: str | None, slow_readers: str,
    read_rate: str, slow_path: str,
) -> None:
    """Send load to URL and print throughput, latency percentiles, errors and whether the engine kept up."""
    from loadbench.cli._habits import engine_processes, refuse_hey_rate
    from loadbench.engine.expect import response_check
    from loadbench.engine.targets import check_target, parse_url
    from loadbench.engine.window import measured_window
    from loadbench.errors import UsageError
    from loadbench.safe import limits
    from loadbench.scenario.thresholds import parse_thresholds
    from loadbench.types import Closed, DriveOptions, Open
    from loadbench.units import parse_count, parse_cpus, parse_duration, parse_rate, parse_stages

    refuse_hey_rate(hey_rate)
    if quiet and verbose:
        raise UsageError("--quiet and -v exclude each other: choose one")
    checks = parse_thresholds(thresholds, source="--threshold")
    abort_delay_s = parse_duration(abort_delay, what="--abort-delay")
    if abort_on_fail and not checks:
        raise UsageError("--abort-on-fail needs at least one --threshold to check, e.g. "
                         "--threshold 'p(99)<50ms'")  # fmt: skip
    if abort_on_fail and engine != "native":
        raise UsageError(f"--abort-on-fail: the {engine} engine cannot end a run early; use --engine native")
    if (url is None) == (targets_file is None):
        raise UsageError("give a URL or --targets FILE (one of them)")
    listed: list[RequestSpec] | None = None
    if targets_file is not None:
        from loadbench.engine.targetfile import read_targets

        if mix or body is not None or method != "GET":
            raise UsageError("--targets FILE sets each request's method and body: drop -m, --body and --mix")
        target, listed = read_targets(targets_file, allow_remote=allow_remote)  # checks every host first
        url, path = f"{target.base_url} (--targets {targets_file})", ""
    else:
        assert url is not None
        target, path = parse_url(url)
    check_target(target, allow_remote=allow_remote)  # before any socket or name lookup
    if sum(x is not None for x in (connections, rate, stages)) > 1:
        raise UsageError("-c, -r and --stages exclude each other: choose one load shape")
    if stages is not None and duration is not None:
        raise UsageError(f"-d {duration} with --stages: the stages set the duration (their total); "
                         "drop -d or add a stage")  # fmt: skip
    max_conns = parse_count(max_connections, what="--max-connections")
    if max_conns < 1:
        raise UsageError(f"--max-connections {max_connections}: must be at least 1")
    load: Load
    if rate is not None:
        load = Open(rate_per_s=parse_rate(rate, what="--rate"), arrival=arrival, max_connections=max_conns)  # type: ignore[arg-type]
    elif stages is not None:
        load = parse_stages(stages, what=f"--stages {stages!r}", arrival=arrival,  # type: ignore[arg-type]
                            max_connections=max_conns)
    else:
        count = parse_count(connections or "10", what="--connections")
        if count < 1:
            raise UsageError(f"--connections {connections}: must be at least 1")
        load = Closed(connections=count)
    run_s, limit, timeout_s = measured_window(
        duration, max_requests, timeout, name=lambda option: f"--{option}",
        said=lambda option, value: f"--{option} {value}:")  # fmt: skip
    cpu_list = parse_cpus(cpus, what="--cpus") if cpus else None
    n_processes = engine_processes(processes, threads, cpu_list)
    depth = parse_count(pipeline, what="--pipeline")
    if not 1 <= depth <= limits.MAX_PIPELINE:
        raise UsageError(f"--pipeline {pipeline}: must be 1 (no pipelining) to {limits.MAX_PIPELINE}")
    if unix_socket is not None:
        from loadbench.servers.unixsock import check_client_socket

        check_client_socket(unix_socket)
    options = DriveOptions(
        duration_s=run_s, max_requests=limit, warmup_s=parse_duration(warmup, what="--warmup"),
        timeout_s=timeout_s, keepalive=not no_keepalive, processes=n_processes,
        cpus=cpu_list, seed=seed, allow_remote=allow_remote, insecure=insecure, cacert=cacert,
        pipeline=depth, unix_socket=unix_socket, live_figures=abort_on_fail,
    )  # fmt: skip
    check = response_check(expect_status, expect_body, expect_body_re)
    if listed is not None:  # -H adds to every target
        extra = tuple(_requests("/", (), method, headers, None)[0].headers)
        specs = [dataclasses.replace(s, check=check, headers=s.headers + extra) for s in listed]
    else:
        specs = [dataclasses.replace(s, check=check) for s in _requests(path, mix, method, headers, body)]
    if engine != "native" and (check is not None or depth > 1 or unix_socket is not None):
        raise UsageError("--expect-*, --pipeline and --unix-socket need --engine native")
    settings = _engine_settings(engine, load, limit, locustfile, locust_workers, workers_timeout, locust_bind)
    settings |= _http_settings(engine, http2, streams)
    crowd = crowd_from_options(idle, idle_mode, trickle_interval, idle_path, slow_readers, read_rate,
                               slow_path)
    watch = None
    if abort_on_fail:
        from loadbench.gate.abort import AbortWatch

        watch = AbortWatch(checks, abort_delay_s, lambda rec: bench_trial(
            url, specs, rec, options, workload="partial", started=_now()))
    trials = _run(url, target, specs, load, options, json_out, engine=engine, settings=settings,
                  quiet=quiet, verbose=verbose, crowd=crowd, on_tick=watch)
    if watch is not None and watch.reason is not None:
        click.echo(f"aborted: {watch.reason} (--abort-on-fail); the trial is kept with aborted: true",
                   err=True)  # fmt: skip
        from loadbench.errors import ExitCode

        if checks:
            from loadbench.cli._habits import hold_thresholds

            hold_thresholds(trials, checks, quiet=quiet)
        click.get_current_context().exit(int(ExitCode.GATE_FAILED))
    if checks:
        from loadbench.cli._habits import hold_thresholds

        hold_thresholds(trials, checks, quiet=quiet)



def _engine_settings(engine: str, load: Load, limit: int | None, locustfile: str | None,
                     workers: int | None, workers_timeout: str, bind: str | None,
                     ) -> dict[str, Any]:  # fmt: skip
    """The backend's own settings from the --locust* options; refuses what the engine cannot do."""
    from pathlib import Path

    from loadbench.errors import UsageError
    from loadbench.units import parse_duration

    given = [name for name, value in (("--locustfile", locustfile), ("--locust-workers", workers),
                                      ("--locust-bind", bind)) if value is not None]  # fmt: skip
    if engine != "locust":
        if given:
            raise UsageError(f"{', '.join(given)} only apply to --engine locust")
        return {}
    if load.loop == "open":
        raise UsageError("--engine locust has no open loop: -r and rate stages are refused; use -c N users "
                         "or connection stages (10s:64c)")  # fmt: skip
    if limit is not None:
        raise UsageError("--engine locust runs for a duration: give -d instead of -n")
    settings: dict[str, Any] = {"workers_timeout": parse_duration(workers_timeout, what="--workers-timeout")}
    if locustfile is not None:
        if not Path(locustfile).is_file():
            raise UsageError(f"--locustfile {locustfile}: no such file")
        settings["file"] = str(Path(locustfile).resolve())
    if workers:
        settings["workers"] = workers
    if bind is not None:
        settings["bind"] = bind
    return settings


def _http_settings(engine: str, http2: bool, streams: str | None) -> dict[str, Any]:
    """The httpx backend's settings from --http2 / --streams (UsageError for another engine)."""
    from loadbench.errors import UsageError
    from loadbench.units import parse_count

    if not http2 and streams is None:
        return {}
    if engine != "httpx":
        flag = "--http2" if http2 else f"--streams {streams}"
        raise UsageError(f"{flag}: the {engine} engine speaks HTTP/1.1 only; add --engine httpx for HTTP/2")
    settings: dict[str, Any] = {"http2": http2}
    if streams is not None:
        settings["streams"] = parse_count(streams, what="--streams")
    return settings


def _run(url: str, target: Target, specs: list[RequestSpec], load: Load, options: Any, json_out: str | None,
         *, engine: str, settings: dict[str, Any], quiet: bool = False, verbose: bool = False,
         crowd: Crowd | None = None, on_tick: Any = None) -> list[TrialResult]:  # fmt: skip
    """Run the load (beside the idle/slow clients, if any), print the summary (unless quiet), write --json;
    return the trials measured."""
    import contextlib
    import json

    from loadbench.engine import run_backend
    from loadbench.engine.crowd.limits import plan_fit
    from loadbench.engine.crowd.process import CrowdRun
    from loadbench.safe.escape import terminal
    from loadbench.safe.write import check_output, write_output

    fit = plan_fit(crowd, load.connection_limit, host=target.host) if crowd is not None else None

    if json_out:  # refuse a bad export path in a second, not after the run; nothing is truncated yet
        check_output(json_out, what="--json")
    workload = specs[0].path if len(specs) == 1 else "mix:" + "+".join(s.path for s in specs)
    started = _now()
    crowd_record = None
    with contextlib.ExitStack() as stack:
        crowd_run = None
        if crowd is not None and fit is not None:
            crowd_run = stack.enter_context(CrowdRun(crowd, target, default_path=specs[0].path,
                                                     cpus=options.cpus, sources=fit.sources))  # fmt: skip
        measured = run_backend(engine, target, specs, load, options, workload=workload, settings=settings,
                               on_tick=on_tick)  # fmt: skip
        crowd_record = crowd_run.finish() if crowd_run is not None else None
    several = len(measured.recordings) > 1
    for name, recording in measured.recordings.items():
        heading = f"{url} [{name}]" if several else url
        if not quiet:
            text = summary_text(heading, recording, options, extras=measured.extras, verbose=verbose)
            if crowd_record is not None:
                text += "\n" + crowd_text(crowd_record)
            click.echo(terminal(text, multiline=True), err=json_out == "-")
    trials = [
        bench_trial(url, specs, recording, options, workload=name, started=started,
                    extras=measured.extras, suffix=name if several else "", crowd=crowd_record)
        for name, recording in measured.recordings.items()
    ]  # fmt: skip
    if json_out:
        records = [trial.to_json() for trial in trials]
        # one pretty object for one workload; JSON lines (one trial each) for several
        payload = (json.dumps(records[0], indent=2) if len(records) == 1
                   else "\n".join(json.dumps(r) for r in records)) + "\n"  # fmt: skip
        write_output(json_out, payload, what="--json")
    return trials


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def bench_trial(
    url: str, specs: list[RequestSpec], recording: Recording, options: Any, *, workload: str, started: Any,
    extras: Any = None, suffix: str = "", crowd: Any = None,
) -> TrialResult:  # fmt: skip
    """The trial record of docs/results-format.md for a bench run, built like a run's (results.build).

    There is no server model: `model` names the target (host:port) so reports and checks can label it,
    `server_model` and `family` are empty, `server` is null.
    """
    from urllib.parse import urlsplit

    from loadbench.results.build import TrialIdentity, measured_trial

    identity = TrialIdentity(
        trial_id="bench", index=0, model=urlsplit(url).netloc, workload=workload, requests_spec=specs,
        load=recording.load, started=started, url=url,
        cpus={"server": None, "client": list(options.cpus) if options.cpus else None},
        load_suffix=crowd_suffix(crowd), unix_socket=options.unix_socket,
    ).for_workload(workload, suffix)
    return measured_trial(identity, recording, backend_extras=extras, crowd=crowd)


def _ms(ns: float) -> str:
    ms = ns / 1e6
    return f"{ms:.3f}" if ms < 10 else f"{ms:.1f}" if ms < 1000 else f"{ms:,.0f}"


_NOTES = {"ttfb": " (time to first byte, from the send)",
          "connect": " (per new connection)", "tls": " (TLS handshake after the connect, per new connection)"}


def summary_text(url: str, rec: Recording, options: Any, *, extras: Any = None, verbose: bool = False) -> str:
    """The compact human summary; the verdict on the engine comes first. `extras` are the backend's: Locust's
    `latency_precision` (printed under the percentiles), the negotiated HTTP version, the client's
    capacity, connect and TLS handshake times; `verbose` prints every error message and every extra."""
    lines = [f"loadbench bench {url}" + (f" over unix:{options.unix_socket}" if options.unix_socket else "")]
    if rec.requests == 0:  # nothing measured: never "kept up", whatever else happened
        failed = f"all {rec.error_count:,} requests failed (errors below)" if rec.error_count else (
            "no request failed either: nothing was measured")  # fmt: skip
        lines.append(f"WARNING: no response arrived in the measured window; {failed}.")
        lines.extend(f"  - {reason}" for reason in rec.saturation_reasons)
    elif rec.saturated:
        lines.append("WARNING: the load generator did not deliver the load asked; read these figures as")
        lines.append("a lower bound of what the server can do:")
        lines.extend(f"  - {reason}" for reason in rec.saturation_reasons)
    else:
        kept = f"engine CPU {rec.client_cpu_pct:.0f} % of a core"
        if rec.schedule_lag is not None and rec.schedule_lag.count:
            kept += f", schedule lag p99 {_ms(rec.schedule_lag.percentile(99))} ms"
        lines.append(f"OK: the engine kept up ({kept}).")
    shape = rec.load.describe()
    keepalive = "on" if rec.keepalive else "off"
    lines.append(f"load       {shape}; {rec.duration_s:.2f} s measured after {rec.warmup_s:g} s warm-up; "
                 f"timeout {options.timeout_s:g} s; keep-alive {keepalive}")
    if not rec.keepalive:
        lines.append("           (a connection per request: closed sockets sit in TIME_WAIT and the "
                     "ephemeral port range limits the connection rate)")
    pin = f"pinned to CPU {','.join(map(str, rec.cpus))}" if rec.cpus else "not pinned"
    lines.append(f"engine     {rec.engine} (event loop {rec.event_loop}), {rec.processes} process"
                 f"{'es' if rec.processes > 1 else ''}, {pin}, CPU {rec.client_cpu_pct:.0f} %")  # fmt: skip
    target = ""
    if rec.target_rps:
        target = f" of {rec.target_rps:,.1f}/s asked (sent {rec.sent:,}, dropped {rec.dropped:,})"
    if rec.pipeline > 1:
        downgrades = (f"; {rec.pipeline_downgrades:,} connection(s) closed after one response: downgraded "
                      "to 1" if rec.pipeline_downgrades else "")  # fmt: skip
        lines.append(f"pipeline   {rec.pipeline} requests in flight per connection{downgrades}")
    lines.append(f"throughput {rec.rps:,.1f} req/s{target}; {rec.requests:,} responses, {rec.ok:,} ok"
                 + (f", {rec.drained:,} finished after sending stopped" if rec.drained else ""))  # fmt: skip
    for name, h in (("latency", rec.latency), ("service", rec.service), ("ttfb", rec.ttfb),
                    ("connect", rec.connect), ("tls", rec.tls)):
        if h is None or (name in ("ttfb", "connect", "tls") and not h.count):
            continue
        if not h.count:
            lines.append(f"{name:10} no responses")
            continue
        note = " (from the scheduled send)" if name == "latency" and rec.service is not None else (
            " (from the actual send)" if name == "service" else _NOTES.get(name, ""))  # fmt: skip
        lines.append(f"{name:10} p50 {_ms(h.percentile(50))}  p90 {_ms(h.percentile(90))}  p99 "
                     f"{_ms(h.percentile(99))}  p99.9 {_ms(h.percentile(99.9))}  max {_ms(h.max_ns)} ms"
                     f"{note}")
    precision = (extras or {}).get("latency_precision")
    if precision:
        lines.append(f"           ({precision})")
    if rec.schedule_lag is not None and rec.schedule_lag.count:
        lag = rec.schedule_lag
        lines.append(f"lag        p50 {_ms(lag.percentile(50))}  p99 {_ms(lag.percentile(99))} ms "
                     "(actual send − scheduled send)")  # fmt: skip
    errors = ", ".join(f"{k} {v:,}" for k, v in rec.errors.items() if v) or "none"
    lines.append(f"errors     {errors}")
    lines.append("status     " + ("  ".join(f"{code}: {n:,}" for code, n in rec.status.items()) or "none"))
    messages = sorted(rec.error_messages.items(), key=lambda kv: -kv[1])
    for message, n in messages if verbose else messages[:5]:
        lines.append(f"           {n:,} × {message}")
    if verbose and extras:
        lines.append("extras     " + ", ".join(f"{k}={v}" for k, v in sorted(dict(extras).items())))
    lines.append(f"bytes      in {rec.bytes_in:,}, out {rec.bytes_out:,}")
    connect_shown = rec.connect is not None and rec.connect.count > 0
    lines.extend(_extras_lines(extras or {}, connect_shown=connect_shown))
    return "\n".join(lines)


def _extras_lines(extras: dict[str, Any], *, connect_shown: bool = False) -> list[str]:
    """The backend's facts worth a line: protocol, TLS, connect times (unless the connect histogram was
    printed already), the client's own capacity."""
    lines = []
    if extras.get("http_version"):
        streams = f", {extras['streams']} streams per connection" if extras.get("streams", 1) > 1 else ""
        lines.append(f"protocol   {extras['http_version']} negotiated{streams}")
    connect = None if connect_shown else extras.get("connect_ms")
    if connect:
        what = "TCP connect + TLS handshake" if extras.get("tls") else "TCP connect"
        lines.append(f"connect    p50 {connect['p50']:.3f}  p99 {connect['p99']:.3f} ms ({what}, "
                     f"{extras['connections_measured']:,} connections)")
    elif extras.get("tls_handshake_ms") is not None:
        lines.append(f"tls        handshake {extras['tls_handshake_ms']:.3f} ms (one check before the run)")
    if extras.get("requests_per_client_cpu_s"):
        lines.append(f"capacity   {extras['requests_per_client_cpu_s']:,.0f} requests per client CPU-second "
                     "(the client's own cost: above 90 % of a core it, not the server, is the limit)")
    return lines
