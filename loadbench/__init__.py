"""loadbench: benchmark Python web server models with an honest load generator."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
