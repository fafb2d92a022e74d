"""The `loadbench` command: a click group whose subcommands live one per module, imported on demand.

Each subcommand module (loadbench/cli/<name>.py) imports only click and light modules at the top and
the heavy machinery (pandas, matplotlib, servers, the engine) inside the command, so `loadbench --help`
stays fast. `main` maps LoadbenchError to a one-line message and the exit codes in loadbench.errors.
"""

from __future__ import annotations

import importlib
import sys

import click

from loadbench import __version__
from loadbench.errors import ExitCode, LoadbenchError
from loadbench.safe.escape import terminal

# name -> "module[:attribute]" under loadbench.cli; the attribute defaults to `command`.
_COMMANDS: dict[str, str] = {
    "run": "run",
    "bench": "bench",
    "serve": "serve",
    "models": "models",
    "engines": "models:engines",
    "report": "report",
    "check": "check",
    "compare": "compare",
    "trend": "trend",
    "schema": "schema",
}


class _LazyGroup(click.Group):
    """A group that imports a subcommand's module only when the subcommand is listed or invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        module_name = _COMMANDS.get(name)
        if module_name is None:
            return None
        module_name, _, attribute = module_name.partition(":")
        module = importlib.import_module(f"loadbench.cli.{module_name}")
        command: click.Command = getattr(module, attribute or "command")
        return command


EPILOG = """\b
Examples:
  loadbench run                      # compare server models on the bundled app (quickstart)
  loadbench models                   # which server models can run here
  loadbench engines                  # which load engines can run here
  loadbench serve uvicorn --port 8000
  loadbench bench http://127.0.0.1:8000/plaintext -c 64 -d 10s
"""


@click.group(cls=_LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="loadbench")
def cli() -> None:
    """Benchmark Python web server models (threaded, pre-fork, event-loop) on your own machine."""


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with loadbench's exit codes (see loadbench.errors.ExitCode)."""
    try:
        code = cli.main(args=argv, prog_name="loadbench", standalone_mode=False)
    except LoadbenchError as exc:
        click.echo(f"Error: {terminal(str(exc), multiline=True)}", err=True)
        sys.exit(int(exc.exit_code))
    except click.exceptions.Abort:
        click.echo("Interrupted.", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except click.exceptions.UsageError as exc:
        # One line, like every other loadbench error, instead of click's usage block.
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"Error: {terminal(exc.format_message())}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    sys.exit(code if isinstance(code, int) else 0)
