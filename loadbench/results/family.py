"""Server families: how a server model handles concurrency, as each model declares it and results record it.

The values are the exact strings results files have always carried in each trial's "family" field, so
files stay the same. A file can hold a family this version does not know (written by another version or
by hand): `parse_family` returns None for it rather than failing, and readers fall back on the text.
"""

from __future__ import annotations

from enum import StrEnum


class Family(StrEnum):
    """How a server model serves concurrent requests."""

    THREADED = "threaded"  # a thread pool in one process (waitress)
    PRE_FORK = "pre-fork"  # worker processes, one request each (gunicorn sync)
    PRE_FORK_THREADS = "pre-fork+threads"  # worker processes with a thread pool each (gunicorn gthread)
    EVENT_LOOP = "event-loop"  # one loop overlapping every request's waits (uvicorn, gunicorn gevent)
    PROCESS_PER_REQUEST = "process-per-request"  # a fresh process per request (CGI)
    EVENT_LOOP_EXTERNAL = "event-loop (external)"  # a native event-loop server (nginx)
    EXTERNAL = "external"  # a server loadbench knows nothing about (the command model)
    EXTERNAL_MPM_EVENT = "external (mpm_event)"  # Apache httpd, event MPM
    EXTERNAL_MPM_WORKER = "external (mpm_worker)"  # Apache httpd, worker MPM
    EXTERNAL_MPM_PREFORK = "external (mpm_prefork)"  # Apache httpd, prefork MPM
    TOPOLOGY = "topology"  # several servers in a row (nginx in front of gunicorn)
    PROTOCOL_HOP = "protocol-hop"  # a web server passing each request over uwsgi/FastCGI/SCGI to the app
    EMBEDDED = "embedded"  # the interpreter inside the web server's own processes (Apache mod_wsgi)
    RUST_CORE = "rust-core"  # HTTP, I/O and workers in Rust, Python called per request (granian)


def parse_family(text: str) -> Family | None:
    """The Family a results file names, or None for a family this version does not know."""
    try:
        return Family(text)
    except ValueError:
        return None
