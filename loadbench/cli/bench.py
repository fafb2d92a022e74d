"""`loadbench bench URL`: an ad-hoc load run against one URL (like wrk), with an honest summary.

Only option parsing and printing live here; the run is loadbench.engine.drive and the summary text is
built from its Recording. The saturation verdict is printed first, in plain words.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from loadbench.engine.registry import backend_names

if TYPE_CHECKING:
    from loadbench.results.metrics import Recording
    from loadbench.types import Load, RequestSpec, Target

EPILOG = """\b
Examples:
  loadbench bench http://127.0.0.1:8000/plaintext -c 64 -d 10s --warmup 1s
  loadbench bench http://127.0.0.1:8000/json -r 500/s -d 30s --arrival poisson
  loadbench bench http://127.0.0.1:8000/ --stages 10s:100/s,30s:500/s,10s:0
  loadbench bench http://127.0.0.1:8000/ --stages 10s:16c,20s:64c
  loadbench bench http://localhost:8000/items -m POST -H 'Content-Type: application/json' --body @item.json
  loadbench bench http://127.0.0.1:8000/ --mix /plaintext=3 --mix /json=1 -n 100k --json result.json
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
@click.argument("url")
@click.option("-c", "--connections", default=None, help="Closed loop: N connections, each sending its next "
              "request when the last completes. [default: 10 when no -r or --stages]")  # fmt: skip
@click.option("-r", "--rate", default=None, help="Open loop: requests per second (500/s, 1k/s); latency "
              "counts from each request's scheduled send time.")  # fmt: skip
@click.option("--stages", default=None, help="Ramps from 0, k6 style: 10s:100/s,30s:500/s (rates) or "
              "10s:16c,20s:64c (connections); every target but 0 needs its unit (/s or c). Warm-up runs at "
              "the first stage's target.")  # fmt: skip
@click.option("-d", "--duration", default=None, help="Measured duration (after warm-up); --stages sets its "
              "own. [default: 10s unless -n is given]")  # fmt: skip
@click.option("-n", "--requests", "max_requests", default=None,
              help="Stop after N measured requests (1k, 2M).")
@click.option("--warmup", default="0s", show_default=True, help="Load before the measured window, excluded "
              "from every figure.")  # fmt: skip
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
@click.option("--processes", default="1", show_default=True, help="Engine processes; the load is split "
              "between them and their histograms merged exactly.")  # fmt: skip
@click.option("--cpus", default=None, help="Pin the engine process(es) to these CPUs, e.g. 1 or 2-3.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of Poisson arrivals and the mix.")
@click.option("--json", "json_out", default=None, metavar="FILE", help="Write the trial record as JSON "
              "(- for stdout; the summary then goes to stderr).")  # fmt: skip
@click.option("--engine", "engine", type=click.Choice(backend_names()), default="native", show_default=True,
              help="The load engine backend (`loadbench models` says which can run here).")
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
def command(
    url: str, connections: str | None, rate: str | None, stages: str | None, duration: str | None,
    max_requests: str | None, warmup: str, timeout: str, method: str, headers: tuple[str, ...],
    body: str | None, mix: tuple[str, ...], no_keepalive: bool, arrival: str, max_connections: str,
    processes: str, cpus: str | None, seed: int, json_out: str | None, engine: str, allow_remote: bool,
    locustfile: str | None, locust_workers: int | None, workers_timeout: str, locust_bind: str | None,
) -> None:
    """Send load to URL and print throughput, latency percentiles, errors and whether the engine kept up."""
    from loadbench.engine.targets import check_target, parse_url
    from loadbench.errors import UsageError
    from loadbench.types import Closed, DriveOptions, Open
    from loadbench.units import parse_count, parse_cpus, parse_duration, parse_rate, parse_stages

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
    limit = parse_count(max_requests, what="--requests") if max_requests is not None else None
    if limit == 0:
        raise UsageError("--requests 0: must be at least 1")
    run_s = parse_duration(duration, what="--duration") if duration is not None else (None if limit else 10.0)
    if run_s is not None and run_s <= 0:
        raise UsageError(f"--duration {duration}: must be longer than 0 s")
    timeout_s = parse_duration(timeout, what="--timeout")
    if timeout_s <= 0:
        raise UsageError(f"--timeout {timeout}: must be longer than 0 s")
    n_processes = parse_count(processes, what="--processes")
    if n_processes < 1:
        raise UsageError(f"--processes {processes}: must be at least 1")
    options = DriveOptions(
        duration_s=run_s, max_requests=limit, warmup_s=parse_duration(warmup, what="--warmup"),
        timeout_s=timeout_s, keepalive=not no_keepalive, processes=n_processes,
        cpus=parse_cpus(cpus, what="--cpus") if cpus else None, seed=seed, allow_remote=allow_remote,
    )  # fmt: skip
    specs = _requests(path, mix, method, headers, body)
    settings = _engine_settings(engine, load, limit, locustfile, locust_workers, workers_timeout, locust_bind)
    _run(url, target, specs, load, options, json_out, engine=engine, settings=settings)


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


def _run(url: str, target: Target, specs: list[RequestSpec], load: Load, options: Any, json_out: str | None,
         *, engine: str, settings: dict[str, Any]) -> None:  # fmt: skip
    import json
    from pathlib import Path

    from loadbench.engine import run_backend
    from loadbench.errors import UsageError

    out_file = None
    if json_out and json_out != "-":
        try:  # open the export target before running, so a bad path fails in a second, not after the run
            out_file = Path(json_out).open("w", encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise UsageError(f"--json {json_out}: cannot write there ({exc.strerror})") from exc
    try:
        workload = specs[0].path if len(specs) == 1 else "mix:" + "+".join(s.path for s in specs)
        started = _now()
        measured = run_backend(engine, target, specs, load, options, workload=workload, settings=settings)
        several = len(measured.recordings) > 1
        for name, recording in measured.recordings.items():
            heading = f"{url} [{name}]" if several else url
            click.echo(summary_text(heading, recording, options, extras=measured.extras), err=json_out == "-")
        if json_out:
            records = [
                bench_record(url, specs, recording, options, workload=name, started=started,
                             extras=measured.extras, suffix=name if several else "")
                for name, recording in measured.recordings.items()
            ]  # fmt: skip
            # one pretty object for one workload; JSON lines (one trial each) for several
            payload = (json.dumps(records[0], indent=2) if len(records) == 1
                       else "\n".join(json.dumps(r) for r in records)) + "\n"  # fmt: skip
            if out_file is not None:
                out_file.write(payload)
            else:
                sys.stdout.write(payload)
    finally:
        if out_file is not None:
            out_file.close()


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def bench_record(
    url: str, specs: list[RequestSpec], recording: Recording, options: Any, *, workload: str, started: Any,
    extras: Any = None, suffix: str = "",
) -> dict[str, Any]:  # fmt: skip
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
    ).for_workload(workload, suffix)
    return measured_trial(identity, recording, backend_extras=extras).to_json()


def _ms(ns: float) -> str:
    ms = ns / 1e6
    return f"{ms:.3f}" if ms < 10 else f"{ms:.1f}" if ms < 1000 else f"{ms:,.0f}"


def summary_text(url: str, rec: Recording, options: Any, *, extras: Any = None) -> str:
    """The compact human summary; the verdict on the engine comes first. A backend's `latency_precision`
    extra (Locust's rounding) is printed under the percentiles."""
    lines = [f"loadbench bench {url}"]
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
    lines.append(f"throughput {rec.rps:,.1f} req/s{target}; {rec.requests:,} responses, {rec.ok:,} 2xx"
                 + (f", {rec.drained:,} finished after sending stopped" if rec.drained else ""))  # fmt: skip
    for name, h in (("latency", rec.latency), ("service", rec.service)):
        if h is None:
            continue
        if not h.count:
            lines.append(f"{name:10} no responses")
            continue
        note = " (from the scheduled send)" if name == "latency" and rec.service is not None else (
            " (from the actual send)" if name == "service" else "")  # fmt: skip
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
    for message, n in sorted(rec.error_messages.items(), key=lambda kv: -kv[1])[:5]:
        lines.append(f"           {n:,} × {message}")
    lines.append(f"bytes      in {rec.bytes_in:,}, out {rec.bytes_out:,}")
    return "\n".join(lines)
