"""The bundled app's data on disk: deterministic static files and the SQLite "world" table, made once.

Both live in one cache directory (env ``LOADBENCH_CACHE_DIR``, default ``~/.cache/loadbench/app-data``) so
every worker process, and the nginx/apache models serving the same files, share one copy. Each file is
written to a temporary name and renamed into place: concurrent workers may both generate a file, but a
reader only ever sees a missing file or a complete one, and both writers produce the same bytes.
Nothing here runs at import; callers ask for the files when they need them.
"""

from __future__ import annotations

import os
import random
import sqlite3
import tempfile
import threading
from pathlib import Path

__all__ = [
    "CACHE_DIR_ENV",
    "STATIC_FILES",
    "WORLD_ROWS",
    "WorldTable",
    "cache_dir",
    "ensure_static_files",
    "ensure_world_db",
]

CACHE_DIR_ENV = "LOADBENCH_CACHE_DIR"

#: Static file name → size in bytes. Names are what follows ``/static/`` in a URL.
STATIC_FILES: dict[str, int] = {"1k.bin": 1024, "100k.bin": 100 * 1024, "1m.bin": 1024 * 1024}

#: Rows in the world table, ids 1..WORLD_ROWS (as TechEmpower's).
WORLD_ROWS = 1000

# Bump when the content of the world table changes, so an old cache is never mistaken for the new one.
_WORLD_DB_NAME = "world-v1.sqlite3"


def cache_dir() -> Path:
    """The directory holding the app's data: ``$LOADBENCH_CACHE_DIR`` or ``~/.cache/loadbench/app-data``."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "loadbench" / "app-data"


def static_bytes(name: str) -> bytes:
    """The deterministic content of static file ``name``: seeded pseudo-random bytes, so not compressible."""
    return random.Random(f"loadbench-static-{name}").randbytes(STATIC_FILES[name])


def ensure_static_files(directory: Path | None = None) -> Path:
    """Create any missing static file (see STATIC_FILES) and return the directory holding them."""
    directory = directory or cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    for name, size in STATIC_FILES.items():
        path = directory / name
        if not (path.is_file() and path.stat().st_size == size):
            _write_atomically(path, static_bytes(name))
    return directory


def ensure_world_db(directory: Path | None = None) -> Path:
    """Create the world SQLite database if missing and return its path."""
    directory = directory or cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / _WORLD_DB_NAME
    if path.is_file():
        return path
    fd, tmp = tempfile.mkstemp(prefix=f".{_WORLD_DB_NAME}.", dir=directory)
    os.fchmod(fd, 0o644)  # as for the static files: readable by servers running as another user
    os.close(fd)
    try:
        rng = random.Random("loadbench-world-v1")
        rows = [(i, rng.randint(1, 10000)) for i in range(1, WORLD_ROWS + 1)]
        con = sqlite3.connect(tmp)
        try:
            with con:
                con.execute("CREATE TABLE world (id INTEGER PRIMARY KEY, randomNumber INTEGER NOT NULL)")
                con.executemany("INSERT INTO world (id, randomNumber) VALUES (?, ?)", rows)
        finally:
            con.close()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class WorldTable:
    """Read-only lookups in the world table, one SQLite connection per thread.

    A sqlite3 connection must not be shared between threads, and opening one costs far more than a query,
    so each thread keeps its own (under gevent, threading.local is per greenlet: one per connection).
    """

    def __init__(self, path: Path) -> None:
        self._uri = path.resolve().as_uri() + "?mode=ro"
        self._local = threading.local()

    def random_number(self, row_id: int) -> int | None:
        """randomNumber of row ``row_id``, or None when there is no such row."""
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self._uri, uri=True)
            self._local.con = con
        row = con.execute("SELECT randomNumber FROM world WHERE id = ?", (row_id,)).fetchone()
        return None if row is None else int(row[0])


def _write_atomically(path: Path, content: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # mkstemp makes the file private; nginx or apache workers may run as another user and must read it.
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
