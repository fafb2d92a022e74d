"""The app a server loads when the user's app speaks the other interface: the app wrapped by a2wsgi.

Loaded by the server process only (never by loadbench), as "loadbench.servers._adapted:application".
loadbench.servers.adapter sets two variables in the server's environment: LOADBENCH_ADAPT_TARGET (the
user's "module:attr") and LOADBENCH_ADAPT_TO ("asgi": a WSGI app served by an ASGI server, through
a2wsgi.WSGIMiddleware and its thread pool; "wsgi": an ASGI app served by a WSGI server, through
a2wsgi.ASGIMiddleware and its event-loop thread). Reading them at import is this module's whole job,
like any app module's `application = create_app()`.
"""

from __future__ import annotations

import os
import pkgutil
import sys
from typing import Any

TARGET_ENV = "LOADBENCH_ADAPT_TARGET"
TO_ENV = "LOADBENCH_ADAPT_TO"


def build() -> Any:
    """The user's app, wrapped for the server's interface."""
    target, to = os.environ[TARGET_ENV], os.environ[TO_ENV]
    if "" not in sys.path:
        sys.path.insert(0, "")  # the app's own working directory, as the servers themselves do
    app = pkgutil.resolve_name(target)
    if to == "asgi":
        from a2wsgi import WSGIMiddleware

        return WSGIMiddleware(app)
    if to == "wsgi":
        from a2wsgi import ASGIMiddleware

        return ASGIMiddleware(app)
    raise ValueError(f"{TO_ENV}={to!r}: expected 'asgi' or 'wsgi'")


application = build()
