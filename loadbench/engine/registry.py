"""Engine backends by the names users type (loadbench.plugins.ENGINE_BACKENDS), imported when asked for.

Listing names (click choices, scenario validation) imports nothing; get_backend() imports one module.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from loadbench.engine.backend import Backend
from loadbench.errors import UsageError
from loadbench.plugins import ENGINE_BACKENDS, load_plugin

DEFAULT_BACKEND = "native"


def backend_names() -> list[str]:
    """Every registered backend name, in the registry's order (no import)."""
    return list(ENGINE_BACKENDS)


def get_backend(name: str, settings: Mapping[str, Any] | None = None) -> Backend:
    """The backend called `name`, made with its own `settings` (e.g. a scenario's [locust] table);
    UsageError listing the known names (and a close match) for an unknown name."""
    spec = ENGINE_BACKENDS.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, ENGINE_BACKENDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"unknown engine {name!r}{hint}; known engines: {', '.join(ENGINE_BACKENDS)}")
    backend: Backend = load_plugin(spec)(dict(settings or {}))  # type: ignore[operator]
    return backend


def all_backends() -> list[Backend]:
    """One instance of every backend, in the registry's order."""
    return [get_backend(name) for name in ENGINE_BACKENDS]
