"""The pre-fork models: gunicorn with sync, gthread or gevent workers, each a separate process."""

from __future__ import annotations

import sys

from loadbench.results.family import Family
from loadbench.servers.base import AppSpec, ModelBase, ServerOptions
from loadbench.servers.uvicorn import tls_args

DEFAULT_WORKERS = 2
DEFAULT_GTHREAD_THREADS = 8
GEVENT_CONNECTIONS = 1000


def default_workers(opts: ServerOptions) -> int:
    """Explicit workers, else one per pinned CPU, else 2."""
    if opts.workers:
        return opts.workers
    return len(opts.cpus) if opts.cpus else DEFAULT_WORKERS


class GunicornModel(ModelBase):
    """gunicorn sync workers: each worker process handles one request at a time (like Apache prefork)."""

    name = "gunicorn"
    family = Family.PRE_FORK
    description = "gunicorn sync workers: one request at a time per process (like Apache prefork)"
    requires: tuple[tuple[str, str], ...] = (("gunicorn", "pip install gunicorn"),)
    interfaces = ("wsgi",)
    tls_capable = True  # HTTP/1.1 only
    unix_socket_capable = True  # --bind unix:PATH

    def worker_args(self, opts: ServerOptions) -> list[str]:
        return ["--worker-class", "sync"]

    def command(self, app: AppSpec, opts: ServerOptions, port: int) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn",
            "--config", "/dev/null",  # never pick up a gunicorn.conf.py from the working directory
            "--bind", bind_address(opts, port),
            "--workers", str(default_workers(opts)),
            *self.worker_args(opts),
            "--backlog", "2048",
            "--graceful-timeout", "2",
            "--timeout", "60",
            "--error-logfile", "-",
            "--log-level", "info",
            "--no-control-socket",  # gunicorn 23+ would share ~/.gunicorn/gunicorn.ctl between servers
            *tls_args(opts, "--certfile", "--keyfile"),
            self.app_target(app),
        ]


def bind_address(opts: ServerOptions, port: int) -> str:
    """gunicorn's (and hypercorn's) --bind: unix:PATH on a socket, else host:port (always given: with PORT
    set gunicorn would bind 0.0.0.0:$PORT)."""
    path = opts.socket_path
    return f"unix:{path}" if path is not None else f"{opts.bind_host}:{port}"


class GunicornGthreadModel(GunicornModel):
    """gunicorn gthread workers: pre-fork processes, each with a thread pool."""

    name = "gunicorn-gthread"
    family = Family.PRE_FORK_THREADS
    description = "gunicorn gthread workers: processes, each with a pool of threads"

    def worker_args(self, opts: ServerOptions) -> list[str]:
        # keep-alive 75 s as nginx and Apache here (gunicorn's 2 s would drop idle clients), and room for a
        # C10K sweep's connections (gthread's default worker_connections, 1000, refuses beyond it)
        return ["--worker-class", "gthread", "--threads", str(opts.threads or DEFAULT_GTHREAD_THREADS),
                "--keep-alive", "75", "--worker-connections", "16000"]


class GunicornGeventModel(GunicornModel):
    """gunicorn gevent workers: green threads on an event loop, WSGI code unchanged."""

    name = "gunicorn-gevent"
    family = Family.EVENT_LOOP
    description = "gunicorn gevent workers: green threads on an event loop (WSGI)"
    requires = (("gunicorn", "pip install gunicorn"), ("gevent", "pip install gevent"))
    install = "pip install 'loadbench[gevent]'"

    def worker_args(self, opts: ServerOptions) -> list[str]:
        return ["--worker-class", "gevent", "--worker-connections", str(GEVENT_CONNECTIONS)]
