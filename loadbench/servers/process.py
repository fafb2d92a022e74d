"""Run one server behind the guard and wait until it answers: ServerProcess and launch().

launch() picks or checks the port, starts CMD under the guard with launch/spawn.py's spawn_guarded (a new
session, a lifeline pipe, CMD's pid read back from the guard; see guard.py for the orphan-proofing), and
probes the ready path over HTTP every 10 ms until it answers (over AF_UNIX for a server on a Unix socket,
whose path servers/unixsock.py checks before the start and whose file goes at stop). It returns a ready
ServerProcess, or raises ServerStartError (command line + log tail) with every process it started already
gone. A model with `needs_run_dir` (nginx, Apache) gets a fresh private run dir per start for its config
files, removed with the server; see ServerModel.

A ServerProcess wraps that GuardedProcess and adds what only a server has (its address, readiness, its
private dirs, how it ended); the process group's lifecycle (log tail, stop) is GuardedProcess's alone,
shared with Locust and py-spy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import http.client
import os
import re
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from loadbench.errors import ServerStartError, ServerUnavailableError
from loadbench.launch.spawn import GUARD_GRACE_S, GuardedProcess, spawn_guarded
from loadbench.launch.spawn import guard_argv as guard_argv  # re-exported: the guard's command line

if TYPE_CHECKING:
    from loadbench.servers.base import AppSpec, ServerModel, ServerOptions
    from loadbench.servers.certs import TlsFiles
    from loadbench.servers.unixsock import SocketIdentity

_PROBE_EVERY_S = 0.01
_FIRST_ERROR = re.compile(r"^[\w.]*(?:Error|Exception): .+$", re.MULTILINE)
_ADDRESS_IN_USE = re.compile(r"address already in use|errno 98|eaddrinuse|connection in use", re.IGNORECASE)
# Variables that would make a server bind elsewhere or read foreign settings.
_DROPPED_ENV = ("PORT", "GUNICORN_CMD_ARGS", "WEB_CONCURRENCY", "UVICORN_PORT", "UVICORN_HOST")


class ServerProcess:
    """A server started by launch(): its address, its processes, its log, and a stop that always works.

    `pid`/`pgid` are the server's main process and its process group (the guard is outside the group).
    `tls` holds the throwaway certificate's files (its `ca` is what clients trust) when it serves https.
    `unix_socket` is the socket it listens on instead of host:port (then `port` is 0, `url` the base URL
    requests name, http://localhost, and `where` says unix:PATH).
    Use as a context manager: `with model.start(app, opts) as server: ...` stops it on exit.
    """

    def __init__(
        self, *, model: ServerModel, process: GuardedProcess, host: str, port: int, ready_path: str,
        need_200: bool, private_dir: Path | None, run_dir: Path | None = None, tls: TlsFiles | None = None,
        http2: bool = False, unix_socket: Path | None = None, socket_dir: Path | None = None,
    ) -> None:
        self.model = model
        self.command = process.command
        self.pid = process.pid
        self.pgid = process.pid
        self.host = host
        self.port = port
        self.tls = tls
        self.http2 = http2
        self.scheme = "https" if tls is not None else "http"
        self.unix_socket = unix_socket
        if unix_socket is not None:
            from loadbench.servers.unixsock import SOCKET_HOST

            self.url = f"http://{SOCKET_HOST}"
            self.where = f"unix:{unix_socket}"
        else:
            self.url = f"{self.scheme}://{host}:{port}"
            self.where = self.url
        self.log_path = process.log_path
        self.ready_path = ready_path
        self.need_200 = need_200
        self.ready_s: float | None = None
        #: The adapter the app is served through ("a2wsgi.WSGIMiddleware", ...), None when served as is.
        self.adapter: str | None = None
        self._process = process  # the guard, the lifeline and the group's stop
        self._private_dir = private_dir
        self._run_dir = run_dir  # a prepare()d model's files: removed at stop, whatever happened
        self._tls_dir = tls.ca.parent if tls is not None else None  # the throwaway CA: removed at stop
        self._socket_dir = socket_dir  # a private socket's directory: removed at stop
        self._socket_made: SocketIdentity | None = None  # the socket file the server made, noted when ready
        self._stopped = False

    def __repr__(self) -> str:
        return f"<ServerProcess {self.model.name} {self.where} pid={self.pid}>"

    @property
    def guard_pid(self) -> int:
        """The guard's pid (not a server process; kept out of pids())."""
        return self._process.guard_pid

    @property
    def returncode(self) -> int | None:
        """The server's exit code once it has exited (via the guard: 128 + N after signal N), else None."""
        return self._process.returncode

    def pids(self) -> list[int]:
        """The server's own processes (main process and workers), for the CPU/RSS monitor; never the guard."""
        import psutil

        try:
            children = psutil.Process(self._process.guard_pid).children(recursive=True)
        except psutil.Error:
            return []
        pids = []
        for child in children:
            with contextlib.suppress(psutil.Error):
                if child.status() != psutil.STATUS_ZOMBIE:
                    pids.append(child.pid)
        return sorted(pids)

    def alive(self) -> bool:
        """True while the guard and the server's main process both run."""
        if self._stopped or self._process.returncode is not None:
            return False
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in (b"Z", b"X")

    def probe(self, timeout_s: float = 0.5) -> int | None:
        """One GET of the ready path: the HTTP status, or None when nothing answered."""
        conn: http.client.HTTPConnection
        if self.unix_socket is not None:
            from loadbench.servers.unixsock import UnixHTTPConnection

            conn = UnixHTTPConnection(self.unix_socket, timeout=timeout_s)
        elif self.tls is not None:
            import ssl

            context = ssl.create_default_context(cafile=str(self.tls.ca))
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=timeout_s, context=context)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout_s)
        try:
            conn.request("GET", self.ready_path, headers={"Connection": "close"})
            response = conn.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            return None
        finally:
            conn.close()

    def wait_ready(self, deadline: float) -> None:
        """Probe until ready (200 for the bundled app, any response otherwise) or time.monotonic() > deadline.

        Raises ServerStartError at once when the server exits meanwhile (with its exit code), or at the
        deadline with the last probe outcome; either way with the command line and the log tail.
        """
        started = time.monotonic()
        last = "nothing answered"
        # A proxy answers before the app behind it is up; such a model names the statuses meaning "not yet".
        not_yet = self.model.not_ready_statuses
        while True:
            if not self.alive():
                raise self._error(f"{self.exit_description()} before it was ready on {self.where}")
            remaining = deadline - time.monotonic()
            status = self.probe(timeout_s=max(0.05, min(0.5, remaining)))
            if status is not None and (status == 200 or not self.need_200) and status not in not_yet:
                self.ready_s = time.monotonic() - started
                self._note_socket()
                return
            if status is not None:
                last = f"last answer: HTTP {status}"
            if time.monotonic() >= deadline:
                want = "HTTP 200" if self.need_200 else "an HTTP response"
                at = f"{self.where} {self.ready_path}" if self.unix_socket else f"{self.url}{self.ready_path}"
                raise self._error(
                    f"{self.model.name} did not give {want} at {at} in time ({last}); "
                    "raise the ready timeout if it is just slow"
                )
            time.sleep(_PROBE_EVERY_S)

    def log_tail(self, lines: int = 20) -> str:
        """The last `lines` lines of the server's own log (stdout and stderr), "" when there is none."""
        return self._process.log_tail(lines)

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM the server's group (the model's stop_signal), wait up to `grace_s`, then SIGKILL the rest.

        Idempotent; afterwards no process of the group is left (GuardedProcess.stop), and the server's
        private dirs (log, run dir, throwaway CA) are gone.
        """
        if self._stopped:
            return
        self._stopped = True
        self._note_socket()  # a server stopped before it was ready may have made its socket already
        try:
            self._process.stop(grace_s)
        finally:
            if self._socket_made is not None:
                from loadbench.servers.unixsock import remove_socket

                remove_socket(self._socket_made)
            for directory in (self._private_dir, self._run_dir, self._tls_dir, self._socket_dir):
                if directory is not None:
                    shutil.rmtree(directory, ignore_errors=True)

    def _note_socket(self) -> None:
        """Note the socket file the server made (launch() checked the path was free before it started,
        so a socket there now is this server's), so stop() removes that file and nothing else."""
        if self.unix_socket is not None and self._socket_made is None:
            from loadbench.servers.unixsock import identify

            self._socket_made = identify(self.unix_socket)

    def __enter__(self) -> ServerProcess:
        if self.ready_s is None:
            self.wait_ready(time.monotonic() + 15.0)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def exit_description(self, wait_s: float = GUARD_GRACE_S + 1) -> str:
        """How the server ended, as a clause naming it: its exit code, the signal that ended it, or the
        guard's own death (then the guard failed, not the server). Waits up to `wait_s` for the guard,
        which exits with the server's code once it has cleaned the server's group."""
        name = self.model.name
        code = self._process.wait(wait_s)
        if code is None:
            return f"{name}'s main process (pid {self.pid}) ended; exit code unknown"
        if code < 0:  # the guard was killed: a guard that ran to the end exits with the server's code
            return (f"the guard of {name} (pid {self.guard_pid}) was killed by {_signal_name(-code)}, which "
                    "stopped the server: the guard died, not the server")  # fmt: skip
        if code > 128 and _signal_name(code - 128, fallback=""):
            return f"{name} was killed by {_signal_name(code - 128)} (exit code {code})"
        return f"{name} exited with code {code}"

    def _error(self, message: str) -> ServerStartError:
        tail = self.log_tail(20)
        if _ADDRESS_IN_USE.search(tail):
            message += (f"; {self.unix_socket} is already in use" if self.unix_socket is not None
                        else f"; port {self.port} on {self.host} is already in use")
        # A master's own traceback (gunicorn's HaltServer) can push a worker's real error out of the tail.
        first = _FIRST_ERROR.search(self.log_tail(2000))
        if first and first[0] not in tail:
            message += f"\nfirst error in the log: {first[0].strip()}"
        return ServerStartError(message, command=self.command, log_tail=tail)


def launch(model: ServerModel, app: AppSpec, opts: ServerOptions) -> ServerProcess:
    """Start `model` serving `app` under the guard; return it ready, or raise with nothing left running."""
    why_not = model.available()
    if why_not is not None:
        raise ServerUnavailableError(why_not)
    if opts.tls:
        from loadbench.servers.certs import tls_unavailable
        from loadbench.servers.registry import check_tls_support

        check_tls_support(model, tls=opts.tls, http2=opts.http2)
        if tls_unavailable() is not None:
            raise ServerUnavailableError(str(tls_unavailable()))
    if opts.unix_socket is not None:
        from loadbench.servers.registry import check_unix_socket_support

        check_unix_socket_support(model)
    tls_dir = socket_dir = None
    deadline = time.monotonic() + opts.ready_timeout_s
    host = opts.bind_host
    private_dir = None
    if opts.log_dir is None:
        private_dir = Path(tempfile.mkdtemp(prefix=f"loadbench-{model.name}-"))  # mode 0700
        log_dir = private_dir
    else:
        log_dir = Path(opts.log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
    # a port picked by us can be taken before the server binds it; a socket path is checked and ours
    attempts = 3 if opts.port == 0 and opts.unix_socket is None else 1
    # A model that needs files before it starts (a config, a document root: nginx, apache) sets
    # needs_run_dir; its prepare(app, opts, port, run_dir) gets a fresh private run dir per attempt.
    run_dir = None
    try:
        if opts.unix_socket is not None:
            opts, socket_dir = _resolve_socket(model, opts)
        for attempt in range(attempts):
            port = 0 if opts.unix_socket is not None else opts.port or free_port(host)
            if opts.tls:  # a throwaway CA and certificate per start, in a private dir removed with it
                from loadbench.servers.certs import make_certificate

                tls_dir = Path(tempfile.mkdtemp(prefix=f"loadbench-{model.name}-tls-"))  # mode 0700
                opts = dataclasses.replace(opts, tls_files=make_certificate(tls_dir))
            if model.needs_run_dir:
                run_dir = Path(tempfile.mkdtemp(prefix=f"loadbench-{model.name}-run-"))  # mode 0700
                command = model.prepare(app, opts, port, run_dir)
            else:
                command = model.command(app, opts, port)
            if opts.port:
                _check_port_free(model.name, host, port, command)
            server = _spawn(model, app, opts, command, host, port, log_dir, deadline, private_dir, run_dir,
                            socket_dir)
            server._private_dir = private_dir
            try:
                server.wait_ready(deadline)
            except ServerStartError as exc:
                server._private_dir = None  # keep the log until we know we are giving up
                server.stop()
                if attempt + 1 < attempts and _ADDRESS_IN_USE.search(exc.log_tail):
                    continue
                raise
            except BaseException:
                server.stop()
                raise
            return server
        raise AssertionError("unreachable")
    except BaseException:
        for directory in (private_dir, run_dir, tls_dir, socket_dir):
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)
        raise


def _resolve_socket(model: ServerModel, opts: ServerOptions) -> tuple[ServerOptions, Path | None]:
    """`opts` with the socket path command() binds, and the private directory made for it (or None)."""
    from loadbench.servers.base import PRIVATE_SOCKET
    from loadbench.servers.unixsock import PRIVATE_NAME, check_socket_path

    if opts.unix_socket == PRIVATE_SOCKET:
        socket_dir = Path(tempfile.mkdtemp(prefix=f"loadbench-{model.name}-sock-"))  # mode 0700
        try:
            path = check_socket_path(socket_dir / PRIVATE_NAME, what="the private socket")
        except BaseException:
            shutil.rmtree(socket_dir, ignore_errors=True)
            raise
        return dataclasses.replace(opts, unix_socket=path), socket_dir
    assert isinstance(opts.unix_socket, Path)
    return dataclasses.replace(opts, unix_socket=check_socket_path(opts.unix_socket)), None


def _signal_name(number: int, fallback: str | None = None) -> str:
    """SIGKILL for 9; `fallback` (default "signal N") for a number that names no signal."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}" if fallback is None else fallback


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def child_env(app: AppSpec) -> dict[str, str]:
    """Our environment minus variables that redirect servers (PORT ...), plus the app's own."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env["PYTHONUNBUFFERED"] = "1"  # the log shows a crash's last words
    env.update(dict(app.env))
    return env


def _check_port_free(name: str, host: str, port: int, command: list[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same flag the servers set, so a port in TIME_WAIT counts as free, as it will be for them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise ServerStartError(
                f"cannot start {name}: port {port} on {host} is already in use; "
                "stop what holds it, pick another port, or use port 0 for a free one",
                command=command,
            ) from None


def _spawn(
    model: ServerModel, app: AppSpec, opts: ServerOptions, command: list[str], host: str, port: int,
    log_dir: Path, deadline: float, private_dir: Path | None, run_dir: Path | None = None,
    socket_dir: Path | None = None,
) -> ServerProcess:
    tls_dir = opts.tls_files.ca.parent if opts.tls_files is not None else None
    listen = "unix" if opts.socket_path is not None else port
    process = spawn_guarded(
        command, log_path=log_dir / f"{model.name}-{listen}.log", deadline=deadline, cpus=opts.cpus,
        env=child_env(app), cwd=app.cwd, stop_signal=model.stop_signal,
        remove_dirs=(private_dir, run_dir, tls_dir, socket_dir),
    )
    server = ServerProcess(
        model=model, process=process, host=host, port=port, ready_path=app.ready_path,
        need_200=app.kind == "bundled", private_dir=None, run_dir=run_dir, tls=opts.tls_files,
        http2=opts.http2, unix_socket=opts.socket_path, socket_dir=socket_dir,
    )
    if process.pid < 0:
        server.stop()
        raise server._error(f"the guard could not start {model.name} (exit code {process.returncode})")
    return server
