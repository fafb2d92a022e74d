"""The bundled application under test: one set of endpoints behind a WSGI and an ASGI face.

Servers load ``loadbench.app.wsgi:application`` or ``loadbench.app.asgi:application``; other modules
(the nginx and apache models) use ``ensure_static_files()`` and ``STATIC_FILES`` to serve the same files.
Importing this package creates no file.
"""

from __future__ import annotations

from loadbench.app.data import STATIC_FILES, cache_dir, ensure_static_files, ensure_world_db

__all__ = ["STATIC_FILES", "cache_dir", "ensure_static_files", "ensure_world_db"]
