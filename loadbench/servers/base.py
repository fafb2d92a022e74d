"""The server-model interface: what to serve (AppSpec), how (ServerOptions), and the ServerModel protocol.

A ServerModel turns an AppSpec and ServerOptions into a command line (`command`, pure) and into a
running, ready ServerProcess (`start`). Every model in this package shares one launcher
(loadbench.servers.process.launch), so start-up, readiness, logs and orphan-proofing behave the same
whatever the server.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from loadbench.errors import UsageError
from loadbench.results.family import Family
from loadbench.scenario.types import AppSpec as AppSpec  # re-exported: the server interface takes it

if TYPE_CHECKING:
    from loadbench.servers.certs import TlsFiles
    from loadbench.servers.process import ServerProcess

BUNDLED_WSGI = "loadbench.app.wsgi:application"
BUNDLED_ASGI = "loadbench.app.asgi:application"
#: ServerOptions.unix_socket: a socket in a private directory made at start (scenarios' unix_socket = true).
PRIVATE_SOCKET: Literal["private"] = "private"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerOptions:
    """How to serve it.

    host: loopback only (127.0.0.0/8 or "localhost"); anything else is refused with UsageError.
    port: 0 picks a free port, reported by ServerProcess.port. workers/threads: None = the model's
    default. cpus: the whole server process tree is pinned to these CPUs. ready_timeout_s: seconds
    to become ready. log_dir: where the server's own log goes (a private 0700 temp dir when None,
    removed when the server stops). tls: serve https with a throwaway certificate made at start
    (launch() fills `tls_files`); http2: offer HTTP/2 too (ALPN h2; needs tls). Only models with
    `tls_capable` / `http2_capable` accept them (launch() says which do).
    unix_socket: listen on this Unix socket instead of host:port (plain HTTP; port must stay 0). A path
    must be absolute in an existing directory (launch() refuses anything else, see servers/unixsock.py);
    PRIVATE_SOCKET puts it in a fresh private 0700 directory made at start and removed at stop, and
    launch() hands command() the resolved path. Only models with `unix_socket_capable` accept it.
    """

    host: str = "127.0.0.1"
    port: int = 0
    workers: int | None = None
    threads: int | None = None
    cpus: tuple[int, ...] | None = None
    ready_timeout_s: float = 15.0
    log_dir: Path | None = None
    tls: bool = False
    http2: bool = False
    tls_files: TlsFiles | None = None  # set by launch() when tls: the certificate the command uses
    unix_socket: Path | Literal["private"] | None = None

    def __post_init__(self) -> None:
        check_loopback(self.host)
        if self.unix_socket is not None:
            if self.port:
                raise UsageError(f"port {self.port} and a Unix socket exclude each other: a server listens "
                                 "on one of them; drop the port (serve: --port)")
            if self.tls:
                raise UsageError("tls over a Unix socket is not supported: a socket is local by nature; "
                                 "drop tls (serve: --tls) or the socket")
        if self.http2 and not self.tls:
            raise UsageError("http2 needs tls: HTTP/2 is negotiated over TLS (ALPN h2); add tls = true "
                             "(serve: --tls)")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"port {self.port} is out of range; use 1-65535, or 0 for a free port")
        for what, value in (("workers", self.workers), ("threads", self.threads)):
            if value is not None and value < 1:
                raise UsageError(f"{what} must be at least 1, got {value}")
        if self.cpus is not None:
            known = os.cpu_count() or 1
            bad = [c for c in self.cpus if not 0 <= c < known]
            if not self.cpus or bad:
                raise UsageError(f"cpus {list(self.cpus)}: this machine has CPUs 0-{known - 1}")
        if self.ready_timeout_s <= 0:
            raise UsageError(f"ready_timeout_s must be positive, got {self.ready_timeout_s}")

    @property
    def socket_path(self) -> Path | None:
        """The Unix socket path command() binds (resolved by launch()), None when listening on TCP."""
        if self.unix_socket == PRIVATE_SOCKET:
            raise AssertionError("launch() resolves the private socket before command() runs")
        return self.unix_socket if isinstance(self.unix_socket, Path) else None

    @property
    def bind_host(self) -> str:
        """The address servers bind: "localhost" resolved to 127.0.0.1 so no IPv6 or DNS surprise."""
        return "127.0.0.1" if self.host == "localhost" else self.host


def check_loopback(host: str) -> None:
    """Raise UsageError unless `host` is an IPv4 loopback address or "localhost"."""
    import ipaddress

    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or address.version != 4 or not address.is_loopback:
        raise UsageError(
            f"host {host!r} is not an IPv4 loopback address; servers listen on 127.0.0.1 only "
            "(use 127.0.0.1 or another 127.x.y.z address)"
        )


class ServerModel(Protocol):
    """A way of running a web app: a name users type, a family, and how to start it.

    launch() also reads the hooks below; ModelBase gives each a default, so most models set none of them.
    A model that needs files before it starts (nginx, Apache; see loadbench.servers.external) sets
    `needs_run_dir` and writes `prepare`.
    """

    @property
    def name(self) -> str:
        """The name users type: "waitress", "gunicorn", "uvicorn", ..."""

    @property
    def family(self) -> Family:
        """How it serves concurrent requests: threaded, pre-fork, event-loop, ... (recorded in results)."""

    @property
    def description(self) -> str:
        """One line: what runs."""

    def available(self) -> str | None:
        """None when the model can run here, else why not and how to install what is missing."""

    @property
    def install_command(self) -> str:
        """The exact command that makes the model available here (`loadbench models` prints it)."""

    def command(self, app: AppSpec, opts: ServerOptions, port: int) -> list[str]:
        """The server's command line for `app` on 127.0.0.1:`port` (pure: no I/O)."""

    def start(self, app: AppSpec, opts: ServerOptions) -> ServerProcess:
        """A ready ServerProcess, or ServerStartError / ServerUnavailableError with nothing left running."""

    @property
    def stop_signal(self) -> int:
        """The signal launch() and the guard send the server's process group first; SIGKILL follows."""

    @property
    def not_ready_statuses(self) -> frozenset[int]:
        """HTTP statuses that do not count as ready (a proxy's 502 while the app behind it boots)."""

    @property
    def unprofiled_reason(self) -> str | None:
        """None when py-spy can sample the server's workers (CPython processes), else why it cannot."""

    @property
    def needs_run_dir(self) -> bool:
        """True when the model writes files before it starts: launch() then calls prepare(), not command()."""

    @property
    def tls_capable(self) -> bool:
        """True when the model can terminate TLS itself (ServerOptions.tls)."""

    @property
    def http2_capable(self) -> bool:
        """True when the model can speak HTTP/2 over TLS (ServerOptions.http2)."""

    @property
    def unix_socket_capable(self) -> bool:
        """True when the model can listen on a Unix socket instead of a port (ServerOptions.unix_socket)."""

    def prepare(self, app: AppSpec, opts: ServerOptions, port: int, run_dir: Path) -> list[str]:
        """Write the server's files into `run_dir` and return the command line used instead of command().

        `run_dir` is a fresh private 0700 directory, removed when the server stops (and by the guard
        should loadbench die). Called only when `needs_run_dir`.
        """


class ModelBase:
    """Shared behaviour of the models in this package: availability by importability, start via launch.

    Subclasses set name, family, description, `requires` (modules that must be importable, with the pip
    command that installs them) and `interfaces` (the app faces the server speaks), and write command().
    """

    name: str = ""
    family: Family  # every model sets its own
    description: str = ""
    requires: tuple[tuple[str, str], ...] = ()  # (module, install hint)
    interfaces: tuple[Literal["wsgi", "asgi"], ...] = ("wsgi",)
    stop_signal: int = signal.SIGTERM  # what the launcher and the guard send first; SIGKILL follows
    not_ready_statuses: frozenset[int] = frozenset()  # answers from a front end while the app is not up
    needs_run_dir: bool = False  # True: launch() makes a private run dir and calls prepare()
    tls_capable: bool = False  # True: command()/prepare() honour opts.tls with opts.tls_files
    http2_capable: bool = False  # True: and opts.http2 (HTTP/2 over TLS)
    unix_socket_capable: bool = False  # True: command() honours opts.socket_path (listens there, no port)
    unprofiled_reason: str | None = None  # the workers are CPython processes py-spy can sample
    install: str = ""  # the exact command that makes the model available here ("" = from `requires`)

    @property
    def install_command(self) -> str:
        """The exact command that makes this model available (`loadbench models` prints it when not)."""
        if self.install:
            return self.install
        return " && ".join(hint.split("  (")[0] for _, hint in self.requires)

    def available(self) -> str | None:
        """None when every required module can be found (found, never imported: that is slow)."""
        import importlib.util

        missing = [hint for module, hint in self.requires if importlib.util.find_spec(module) is None]
        if missing:
            return f"{self.name} needs {', '.join(m for m, _ in self.requires)}: {'; '.join(missing)}"
        return None

    def command(self, app: AppSpec, opts: ServerOptions, port: int) -> list[str]:
        raise NotImplementedError

    def prepare(self, app: AppSpec, opts: ServerOptions, port: int, run_dir: Path) -> list[str]:
        """No files to write: the command line alone (launch() calls this only when needs_run_dir)."""
        return self.command(app, opts, port)

    def app_target(self, app: AppSpec) -> str:
        """The "module:attr" this model serves: the bundled app's face it speaks, or the user's target."""
        if app.kind == "bundled":
            return BUNDLED_ASGI if self.interfaces[0] == "asgi" else BUNDLED_WSGI
        if app.kind == "import":
            if app.interface != "auto" and app.interface not in self.interfaces:
                raise UsageError(_face_mismatch(self.name, self.interfaces, str(app.target), app.interface))
            return str(app.target)
        raise UsageError(
            f"model {self.name!r} serves Python apps, not a command ({app.target!r}); "
            "use the 'command' model for a command template"
        )

    def start(self, app: AppSpec, opts: ServerOptions) -> ServerProcess:
        """Launch the server; an app of a face it does not speak is served through a2wsgi (recorded as
        ServerProcess.adapter), see loadbench.servers.adapter."""
        from loadbench.servers.adapter import adapt, adapter_name
        from loadbench.servers.appref import detect_interface
        from loadbench.servers.process import launch

        adapter = None
        if app.kind == "import":
            face: str | None = app.interface
            if face == "auto":
                face = detect_interface(
                    str(app.target), cwd=app.cwd, env=app.env, timeout_s=opts.ready_timeout_s
                )
            if face is not None and face not in self.interfaces:
                app = adapt(app, self.name, self.interfaces[0])
                adapter = adapter_name(self.interfaces[0])
        self.app_target(app)  # refuses a command app
        server = launch(self, app, opts)
        server.adapter = adapter
        return server


def _face_mismatch(model: str, faces: tuple[str, ...], target: str, face: str) -> str:
    other = "uvicorn" if face == "asgi" else "waitress or gunicorn"
    return (
        f"{model} serves {'/'.join(f.upper() for f in faces)} apps, but {target} is {face.upper()}; "
        f"use {other}, or pass the right interface"
    )
