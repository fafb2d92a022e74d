"""The bundled app's one write: orders in a SQLite table, so a journey can POST and the server really writes.

The database is ``orders.sqlite3`` in a directory the server's own user can write: ``$LOADBENCH_ORDERS_DIR``
if set, else the app's data directory when writable, else ``<tmp>/loadbench-orders-<uid>``. It is made on
first use, in WAL mode with a busy timeout, so the workers of a pre-fork server and the threads of a
threaded one can all insert at once (each thread keeps its own connection, as WorldTable does).
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["ORDERS_DIR_ENV", "ORDER_MAX_BYTES", "OrdersTable", "orders_dir", "parse_order"]

ORDERS_DIR_ENV = "LOADBENCH_ORDERS_DIR"
ORDER_MAX_BYTES = 4096
ORDER_MAX_QUANTITY = 1000
_DB_NAME = "orders.sqlite3"
_SCHEMA = ("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY AUTOINCREMENT, item INTEGER NOT NULL, "
           "quantity INTEGER NOT NULL, created_ns INTEGER NOT NULL)")  # fmt: skip


def orders_dir(data_dir: Path) -> Path:
    """Where the orders database goes (see the module docstring); the directory exists afterwards."""
    configured = os.environ.get(ORDERS_DIR_ENV)
    if configured:
        directory = Path(configured).expanduser()
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        writable = os.access(data_dir, os.W_OK | os.X_OK)
        directory = data_dir if writable else Path(tempfile.gettempdir()) / f"loadbench-orders-{os.getuid()}"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


def parse_order(body: bytes, max_item: int) -> tuple[int, int] | str:
    """(item, quantity) from a JSON body like {"item": 12, "quantity": 2}, or why it is not an order."""
    if len(body) > ORDER_MAX_BYTES:
        return f"an order is at most {ORDER_MAX_BYTES} bytes of JSON"
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return 'the body must be JSON like {"item": 12, "quantity": 2}'
    if not isinstance(data, dict):
        return 'the body must be a JSON object like {"item": 12, "quantity": 2}'
    item, quantity = data.get("item"), data.get("quantity", 1)
    if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= max_item:
        return f"item must be an integer in 1..{max_item}"
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= ORDER_MAX_QUANTITY:
        return f"quantity must be an integer in 1..{ORDER_MAX_QUANTITY}"
    return item, quantity


class OrdersTable:
    """Inserts into the orders table, one SQLite connection per thread (per greenlet under gevent)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / _DB_NAME
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute(_SCHEMA)
            self._local.con = con
        return con

    def add(self, item: int, quantity: int) -> int:
        """Insert one order; its id."""
        cursor = self._connection().execute(
            "INSERT INTO orders (item, quantity, created_ns) VALUES (?, ?, ?)",
            (item, quantity, time.time_ns()),
        )
        return int(cursor.lastrowid or 0)

    def count(self) -> int:
        """How many orders the table holds."""
        return int(self._connection().execute("SELECT count(*) FROM orders").fetchone()[0])
