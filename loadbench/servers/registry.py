"""Server models by the names users type: name -> "module:Class", imported only when asked for.

Listing names (for click help and choices) imports nothing; get_model() imports one module.
"""

from __future__ import annotations

import importlib

from loadbench.errors import UsageError
from loadbench.servers.base import ServerModel

MODELS: dict[str, str] = {
    "waitress": "loadbench.servers.waitress:WaitressModel",
    "gunicorn": "loadbench.servers.gunicorn:GunicornModel",
    "gunicorn-gthread": "loadbench.servers.gunicorn:GunicornGthreadModel",
    "gunicorn-gevent": "loadbench.servers.gunicorn:GunicornGeventModel",
    "uvicorn": "loadbench.servers.uvicorn:UvicornModel",
    "nginx": "loadbench.servers.nginx:NginxModel",
    "nginx-gunicorn": "loadbench.servers.nginx:NginxGunicornModel",
    "apache": "loadbench.servers.apache:ApacheModel",
    "apache-worker": "loadbench.servers.apache:ApacheWorkerModel",
    "apache-prefork": "loadbench.servers.apache:ApachePreforkModel",
    "command": "loadbench.servers.command:CommandModel",
}


def model_names() -> list[str]:
    """Every known model name, in the registry's order (no import)."""
    return list(MODELS)


def get_model(name: str) -> ServerModel:
    """The model called `name`; UsageError listing the known names (and a close match) otherwise."""
    spec = MODELS.get(name)
    if spec is None:
        import difflib

        close = difflib.get_close_matches(name, MODELS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"unknown server model {name!r}{hint}; known models: {', '.join(MODELS)}")
    module_name, _, class_name = spec.partition(":")
    model: ServerModel = getattr(importlib.import_module(module_name), class_name)()
    return model


def all_models() -> list[ServerModel]:
    """One instance of every model, in the registry's order."""
    return [get_model(name) for name in MODELS]
