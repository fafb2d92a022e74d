"""Serve a WSGI app on an ASGI-only server, or an ASGI app on a WSGI-only one, through a kept adapter.

a2wsgi (maintained; what uvicorn itself uses for `--interface wsgi`) does both directions:
WSGIMiddleware runs a WSGI app in a thread pool under an ASGI server, ASGIMiddleware runs an ASGI app
on an event-loop thread under a WSGI server. A model applies it when the app's face (declared, or
detected by loadbench.servers.appref) is not one it speaks, so any model, whatever its interface, gets
it by declaring its `interfaces`; the adapter is recorded in each result's server_options.adapter,
because the adapter's threads or loop, not the server alone, then set the figures.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import Literal

from loadbench.errors import UsageError
from loadbench.servers.base import AppSpec

ADAPTED_TARGET = "loadbench.servers._adapted:application"
_TARGET_ENV = "LOADBENCH_ADAPT_TARGET"  # as loadbench.servers._adapted reads them
_TO_ENV = "LOADBENCH_ADAPT_TO"
_MIDDLEWARE = {"asgi": "a2wsgi.WSGIMiddleware", "wsgi": "a2wsgi.ASGIMiddleware"}


def adapter_name(to: Literal["wsgi", "asgi"]) -> str:
    """What results record: the middleware that turns an app of the other face into a `to` app."""
    return _MIDDLEWARE[to]


def adapt(app: AppSpec, model: str, to: Literal["wsgi", "asgi"]) -> AppSpec:
    """`app` (kind "import", speaking the other face) wrapped so a `to` server can load it.

    Raises UsageError, saying what to install, when a2wsgi is missing.
    """
    if importlib.util.find_spec("a2wsgi") is None:
        raise UsageError(
            f"{model} serves {to.upper()} apps only and {app.target} is not one; the adapter that would "
            "bridge them is missing: pip install a2wsgi"
        )
    env = (*app.env, (_TARGET_ENV, str(app.target)), (_TO_ENV, to))
    return dataclasses.replace(app, target=ADAPTED_TARGET, interface=to, env=env)
