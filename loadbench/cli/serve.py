"""`loadbench serve MODEL`: run the bundled app (or yours) under one server model in the foreground."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from loadbench.cli._complete import complete_models
from loadbench.servers.registry import model_names

if TYPE_CHECKING:
    from loadbench.servers.base import AppSpec, ServerModel, ServerOptions

EPILOG = """\b
Examples:
  loadbench serve uvicorn                        # a free port, printed when ready
  loadbench serve gunicorn --port 8000 --workers 4 --cpus 0
  loadbench serve waitress --threads 16
  loadbench serve uvicorn --app myproject.asgi:application
  loadbench serve command --command 'python -m http.server {port} --bind {host}'
  loadbench serve hypercorn --tls --http2          # https with a throwaway CA; prints the CA file
  loadbench serve nginx-uvicorn --tls --http2 --port 8443
  loadbench serve gunicorn --unix-socket /tmp/app.sock   # then: loadbench bench
                                                 #   http://localhost/plaintext --unix-socket /tmp/app.sock
"""


@click.command(epilog=EPILOG)
@click.argument("model", metavar="MODEL", shell_complete=complete_models)
@click.option("--port", type=int, default=0, show_default=True, help="Port on 127.0.0.1; 0 picks a free one.")
@click.option("--workers", type=int, default=None, help="Worker processes (model default when omitted).")
@click.option("--threads", type=int, default=None, help="Threads per worker (waitress, gunicorn-gthread).")
@click.option("--cpus", default=None, help="Pin the whole server to these CPUs, e.g. 0 or 0,1 or 0-3.")
@click.option("--app", "app_target", default=None, metavar="MODULE:ATTR", help="Serve your app instead.")
@click.option("--interface", type=click.Choice(["auto", "wsgi", "asgi"]), default="auto", show_default=True,
              help="Your app's face (with --app); auto detects it.")
@click.option("--command", "command_template", default=None, metavar="TEMPLATE",
              help="With MODEL 'command': the server command, with {host} and {port}.")
@click.option("--ready-timeout", default="15s", show_default=True, help="How long to wait for ready.")
@click.option("--log-dir", type=click.Path(file_okay=False), default=None,
              help="Keep the server's log there (default: a private temp dir, removed on exit).")
@click.option("--tls", is_flag=True, help="Serve https with a throwaway certificate made now (its CA file is "
              "printed; pass it to clients, e.g. bench --cacert FILE). Models that can: see the error.")
@click.option("--http2", is_flag=True, help="Offer HTTP/2 too (ALPN h2; needs --tls).")
@click.option("--unix-socket", default=None, metavar="PATH", help="Listen on this Unix socket instead of a "
              "port (its directory must exist; an existing path is refused, a stale socket of yours is "
              "replaced; the file is removed on stop). Models that can: see `loadbench models`.")
def command(
    model: str, port: int, workers: int | None, threads: int | None, cpus: str | None, app_target: str | None,
    interface: str, command_template: str | None, ready_timeout: str, log_dir: str | None, tls: bool,
    http2: bool, unix_socket: str | None,
) -> None:
    """Run MODEL in the foreground until Ctrl-C or SIGTERM; the server listens on 127.0.0.1 only."""
    from pathlib import Path

    from loadbench.cli._signals import interrupt_on_signals
    from loadbench.errors import UsageError
    from loadbench.servers.base import AppSpec, ServerOptions
    from loadbench.servers.registry import get_model
    from loadbench.units import parse_cpus, parse_duration

    server_model = get_model(model)
    if tls or http2:  # before anything starts: one line listing the models that can
        from loadbench.servers.registry import check_tls_support

        if http2 and not tls:
            raise UsageError("--http2 needs --tls: HTTP/2 is negotiated over TLS (ALPN h2)")
        check_tls_support(server_model, tls=tls, http2=http2)
    if unix_socket is not None:  # likewise, before anything starts
        from loadbench.servers.registry import check_unix_socket_support

        check_unix_socket_support(server_model)
        if port:
            raise UsageError("--port and --unix-socket exclude each other: the server listens on one of them")
        if tls:
            raise UsageError("--tls and --unix-socket exclude each other: a Unix socket serves plain HTTP")
    if app_target and command_template:
        raise UsageError("--app and --command exclude each other: serve a Python app or run a command")
    if command_template:
        app = AppSpec(kind="command", target=command_template, ready_path="/")
    elif app_target:
        app = AppSpec(kind="import", target=app_target, interface=interface, ready_path="/")  # type: ignore[arg-type]
    else:
        app = AppSpec()
    opts = ServerOptions(
        port=port, workers=workers, threads=threads, cpus=parse_cpus(cpus, what="--cpus") if cpus else None,
        ready_timeout_s=parse_duration(ready_timeout, what="--ready-timeout"),
        log_dir=Path(log_dir) if log_dir else None, tls=tls, http2=http2,
        unix_socket=Path(unix_socket) if unix_socket is not None else None,
    )

    with interrupt_on_signals():
        _serve(server_model, app, opts)


def _serve(server_model: ServerModel, app: AppSpec, opts: ServerOptions) -> None:
    """Start the server, announce it, and wait until it exits or a stop signal arrives."""
    import time

    from loadbench.errors import LoadbenchError

    started = time.monotonic()
    try:
        server = server_model.start(app, opts)
    except KeyboardInterrupt:
        click.echo(f"{server_model.name}: interrupted while starting", err=True)
        return
    try:
        ready_ms = (time.monotonic() - started) * 1000
        click.echo(
            f"{server_model.name} ({server_model.family}) ready at {server.where}, pid {server.pid}, "
            f"in {ready_ms:.0f} ms; Ctrl-C stops it"
        )
        if server.unix_socket is not None:
            click.echo(f"e.g. loadbench bench {server.url}/plaintext --unix-socket {server.unix_socket}  or  "
                       f"curl --unix-socket {server.unix_socket} {server.url}/health")
        if server.tls is not None:
            protocols = "HTTP/2 and HTTP/1.1" if server.http2 else "HTTP/1.1"
            click.echo(f"TLS ({protocols}) with a throwaway CA: {server.tls.ca} (removed when the server "
                       f"stops); e.g. loadbench bench {server.url}/plaintext --cacert {server.tls.ca}")
        click.echo(f"server log: {server.log_path}", err=True)
        while server.alive():
            time.sleep(0.2)
        code, tail = server.returncode, server.log_tail(20)
        raise LoadbenchError(f"{server_model.name} exited on its own (code {code}); its log ends:\n{tail}")
    except KeyboardInterrupt:
        server.stop()
        click.echo(f"{server_model.name} stopped", err=True)
    finally:
        server.stop()


# \b keeps click from re-wrapping the list (it would break "apache-worker" at its hyphen).
command.help = (command.help or "") + "\n\n\b\nMODEL is one of: " + ", ".join(model_names()) + "."
