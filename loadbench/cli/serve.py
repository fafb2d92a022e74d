"""`loadbench serve MODEL`: run the bundled app (or yours) under one server model in the foreground."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

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
"""


@click.command(epilog=EPILOG)
@click.argument("model", metavar="MODEL")
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
def command(
    model: str, port: int, workers: int | None, threads: int | None, cpus: str | None, app_target: str | None,
    interface: str, command_template: str | None, ready_timeout: str, log_dir: str | None,
) -> None:
    """Run MODEL in the foreground until Ctrl-C or SIGTERM; the server listens on 127.0.0.1 only."""
    from pathlib import Path

    from loadbench.cli._signals import interrupt_on_signals
    from loadbench.errors import UsageError
    from loadbench.servers.base import AppSpec, ServerOptions
    from loadbench.servers.registry import get_model
    from loadbench.units import parse_cpus, parse_duration

    server_model = get_model(model)
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
        log_dir=Path(log_dir) if log_dir else None,
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
            f"{server_model.name} ({server_model.family}) ready at {server.url}, pid {server.pid}, "
            f"in {ready_ms:.0f} ms; Ctrl-C stops it"
        )
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


def _model_list(width: int = 76) -> str:
    """"MODEL is one of:" and the names, as a click \\b paragraph wrapped by us between names (click's
    own wrapping would break a name such as granian-wsgi at its hyphen)."""
    lines, line = [], "MODEL is one of:"
    for name in model_names():
        if len(line) + len(name) + 2 > width:
            lines.append(line)
            line = " "
        line += f" {name},"
    lines.append(line.rstrip(",") + ".")
    return "\b\n" + "\n".join(lines)


command.help = (command.help or "") + "\n\n" + _model_list()
