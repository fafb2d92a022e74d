"""loadbench: benchmark Python web server models with an honest load generator.

The Python API (bench, serve, run, results_frame; see docs/api.md) lives in loadbench.api and is imported
on first use through the module-level __getattr__ below, so `import loadbench` and `loadbench --help`
stay light. `__version__` is the one version source (pyproject.toml reads it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "bench", "results_frame", "run", "serve"]

_API = frozenset({"bench", "results_frame", "run", "serve"})

if TYPE_CHECKING:
    from loadbench.api import bench, results_frame, run, serve


def __getattr__(name: str) -> Any:
    """Import the API on first access (PEP 562)."""
    if name in _API:
        import loadbench.api

        value = getattr(loadbench.api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'loadbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
