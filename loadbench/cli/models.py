"""`loadbench models` and `loadbench engines`: the server models, the load engine backends, and whether each
can run on this machine (and how to install it if not)."""

from __future__ import annotations

import click

EPILOG = """\b
Examples:
  loadbench models
  loadbench models --json - | jq -r '.[] | select(.available) | .name'
  loadbench serve waitress     # then run one of the models listed as "yes"
  loadbench engines            # the load engines, likewise
"""


def _table(rows: list[tuple[str, ...]]) -> None:
    """Print rows with every column but the last padded to its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        click.echo("  ".join([*cells, row[-1]]))


def _status(why_not: str | None) -> str:
    return "yes" if why_not is None else f"no: {why_not}"


@click.command(epilog=EPILOG)
@click.option("--json", "json_out", metavar="FILE|-", help="Write the list as JSON instead ('-' = stdout).")
def command(json_out: str | None) -> None:
    """List the server models and whether each can run here (and how to install it if not)."""
    from loadbench.servers.registry import all_models

    if json_out:
        from loadbench.cli._gate_output import write_json

        write_json(json_out, [
            {"name": m.name, "family": str(m.family), "available": (why := m.available()) is None,
             "reason": why, "description": m.description, "tls": m.tls_capable, "http2": m.http2_capable,
             "unix_socket": m.unix_socket_capable}
            for m in all_models()
        ])  # fmt: skip
        return
    rows: list[tuple[str, ...]] = [("MODEL", "FAMILY", "AVAILABLE", "DESCRIPTION", "TO MAKE IT AVAILABLE")]
    for model in all_models():
        why_not = model.available()
        install = "-" if why_not is None else (model.install_command or "see AVAILABLE")
        rows.append((model.name, str(model.family), _status(why_not), model.description, install))
    _table(rows)
    models = all_models()
    click.echo("")
    for what, can in (
        ("TLS (serve --tls, tls = true)", [m.name for m in models if m.tls_capable]),
        ("HTTP/2 (serve --http2, http2 = true)", [m.name for m in models if m.http2_capable]),
        ("Unix socket (serve --unix-socket PATH, unix_socket = true)",
         [m.name for m in models if m.unix_socket_capable]),
    ):
        click.echo(f"{what}: {', '.join(can)}")


ENGINES_EPILOG = """\b
Examples:
  loadbench engines
  loadbench bench http://127.0.0.1:8000/ --engine native -c 64
"""


@click.command(epilog=ENGINES_EPILOG)
def engines() -> None:
    """List the load engine backends and whether each can run here (and how to install it if not)."""
    from loadbench.engine.registry import all_backends

    rows: list[tuple[str, ...]] = [("ENGINE", "AVAILABLE", "DESCRIPTION")]
    for backend in all_backends():
        rows.append((backend.name, _status(backend.available()), backend.description))
    _table(rows)
