"""The "command" model: any server started by a command template with {host} and {port}, under the guard."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from loadbench.errors import UsageError
from loadbench.results.family import Family
from loadbench.servers.base import AppSpec, ModelBase, ServerOptions

if TYPE_CHECKING:
    from loadbench.servers.process import ServerProcess


class CommandModel(ModelBase):
    """Runs AppSpec(kind="command", target="myserver --bind {host}:{port}") as given; ready = any response."""

    name = "command"
    family = Family.EXTERNAL
    description = "your own server command, a template with {host} and {port}"
    requires = ()
    interfaces = ("wsgi", "asgi")

    def command(self, app: AppSpec, opts: ServerOptions, port: int) -> list[str]:
        if app.kind != "command" or not app.target:
            raise UsageError("the 'command' model needs a command template, e.g. 'myserver --port {port}'")
        if "{port}" not in app.target:
            raise UsageError(
                f"command template {app.target!r} has no {{port}}: the server must listen on the port given"
            )
        try:
            text = app.target.format(host=opts.bind_host, port=port)
        except (KeyError, IndexError, ValueError) as exc:
            raise UsageError(
                f"command template {app.target!r}: only {{host}} and {{port}} can be filled in ({exc})"
            ) from None
        argv = shlex.split(text)
        if not argv:
            raise UsageError(f"command template {app.target!r} is empty")
        return argv

    def app_target(self, app: AppSpec) -> str:
        return str(app.target)

    def start(self, app: AppSpec, opts: ServerOptions) -> ServerProcess:
        from loadbench.servers.process import launch

        self.command(app, opts, 1)  # validate the template before starting anything
        return launch(self, app, opts)
