"""Tell a user's app "module:attr" apart as WSGI or ASGI, by importing it in a short-lived child Python.

Why a child and not an import here: a user's module may monkey-patch the interpreter (gevent), start
threads, open connections or call sys.exit on import; in loadbench's own process that would skew or
kill the load generator. The child costs one interpreter start plus the app's import (~30 ms plus the
app), paid once per server start and only for kind="import" with interface="auto".

Rule: a coroutine function, or an object whose __call__ is one, taking 3 parameters (scope, receive,
send) is ASGI; any other callable is WSGI. When the child cannot import the app, the answer is None and
the server is started anyway, so the user sees the server's own error in its log.
"""

from __future__ import annotations

import os
import subprocess
import sys

_DETECT = r"""
import inspect, pkgutil, sys
sys.path.insert(0, "")
try:
    app = pkgutil.resolve_name(sys.argv[1])
except BaseException as exc:
    print("error", type(exc).__name__, exc)
    raise SystemExit(0)
func = app if inspect.isfunction(app) or inspect.ismethod(app) else getattr(app, "__call__", None)
if func is None:
    print("error not callable")
    raise SystemExit(0)
try:
    params = [p for p in inspect.signature(func).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
except (TypeError, ValueError):
    params = []
asgi = inspect.iscoroutinefunction(func) and len(params) == 3
print("asgi" if asgi else "wsgi")
"""


def detect_interface(
    target: str, *, cwd: str | None = None, env: tuple[tuple[str, str], ...] = (), timeout_s: float = 15.0
) -> str | None:
    """Return "wsgi" or "asgi" for `target` ("module:attr"), or None when the child could not tell."""
    child_env = dict(os.environ)
    child_env.update(env)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _DETECT, target], cwd=cwd, env=child_env, capture_output=True,
            text=True, timeout=timeout_s, stdin=subprocess.DEVNULL, check=False,
        )
    except (subprocess.TimeoutExpired, OSError):
        return None
    lines = done.stdout.strip().splitlines()
    answer = lines[-1] if lines else ""
    return answer if answer in ("wsgi", "asgi") else None
