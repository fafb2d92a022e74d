"""Servers on a Unix socket: the path's checks, whose socket it is, its mode, its removal, the probe.

A user-given path (`serve --unix-socket PATH`) is refused when anything exists there (loadbench never
removes a file it did not create: a stopped tmux or ssh-agent socket looks just like a stale one) and when
its directory is unsafe (another user's, or group/world-writable without the sticky bit, where someone
else could swap the name). The directory is opened once at start; every later look at the name, the chmod
and the removal go through that descriptor (SocketPlace), so a parent swapped for a symlink afterwards
cannot redirect them. A scenario's socket (PRIVATE_SOCKET) lives in a fresh 0700 directory.

The socket counts as the server's only when one of the server's own processes holds it: the path's
listening socket in /proc/net/unix has an inode that a `socket:[inode]` link in /proc/PID/fd of the
server's tree names (held_by). Until then the server is not ready, and its file is never noted. Once it
is, its (device, inode) is noted, its mode narrowed to 0600, and at stop the name is removed only if it is
still that file, re-checked just before the unlink.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import stat
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loadbench.errors import UsageError
from loadbench.scenario.types import socket_conflicts as socket_conflicts  # re-exported: the one checker

if TYPE_CHECKING:
    from loadbench.servers.base import ServerOptions

#: sun_path holds 108 bytes on Linux, the last one a NUL.
MAX_PATH_BYTES = 107
#: The name of the socket in a private directory (scenarios' unix_socket = true).
PRIVATE_NAME = "server.sock"
#: The Host header of requests sent over a socket (there is no host:port to name).
SOCKET_HOST = "localhost"
#: The mode every server's socket has once ready: the owner's alone (docs/serve.md lists each model's own).
SOCKET_MODE = 0o600
#: mkdtemp's name for a private socket directory: prefix + model + "-sock-" + 8 random characters.
_PRIVATE_DIR_LEN = len("loadbench-") + len("-sock-") + 8


@dataclass(frozen=True, slots=True)
class SocketIdentity:
    """Which file a server made: (device, inode) of the socket at `path` once the server was ready."""

    path: Path
    device: int
    inode: int


class SocketPlace:
    """The socket's directory, opened once, and its name there: looks, chmod and unlink go through the fd."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self.dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def lstat(self) -> os.stat_result | None:
        """The name's own entry (never a link's target), None when nothing is there or the fd is closed."""
        try:
            return os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
        except (OSError, ValueError):
            return None

    def identity(self) -> SocketIdentity | None:
        """The socket now at the name, None when there is none (not made yet, removed, or not a socket)."""
        info = self.lstat()
        if info is None or not stat.S_ISSOCK(info.st_mode):
            return None
        return SocketIdentity(path=self.path, device=info.st_dev, inode=info.st_ino)

    def restrict(self, made: SocketIdentity) -> None:
        """Narrow the socket's mode to SOCKET_MODE if it is still `made` (uvicorn makes it 0666)."""
        info = self.lstat()
        if info is not None and (info.st_dev, info.st_ino) == (made.device, made.inode) \
                and stat.S_IMODE(info.st_mode) != SOCKET_MODE:  # fmt: skip
            os.chmod(self.name, SOCKET_MODE, dir_fd=self.dir_fd)  # just checked: a socket, not a link

    def remove(self, made: SocketIdentity) -> bool:
        """Remove the name if it is still the socket `made` (checked right before); True when removed."""
        now = self.identity()
        if now is None or (now.device, now.inode) != (made.device, made.inode):
            return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.name, dir_fd=self.dir_fd)
        return True

    def close(self) -> None:
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1


def check_socket_path(path: Path | str, what: str = "--unix-socket") -> SocketPlace:
    """The place a server may bind `path`, or UsageError (one line) saying why not and the fix.

    Refused: a path too long for sun_path, a missing directory, an unsafe directory, and any existing
    entry at the path (a socket included: loadbench never removes a file it did not create).
    """
    absolute = Path(os.path.abspath(path))
    size = len(os.fsencode(absolute))
    if size > MAX_PATH_BYTES:
        raise UsageError(f"{what} {absolute}: {size} bytes long, more than a Unix socket path can hold "
                         f"({MAX_PATH_BYTES}); choose a shorter path")  # fmt: skip
    parent = absolute.parent
    if not parent.is_dir():
        raise UsageError(f"{what} {absolute}: directory {parent} does not exist; create it first or choose "
                         "a path in an existing directory")  # fmt: skip
    place = SocketPlace(absolute)
    try:
        _check_directory(place, what)
        info = place.lstat()
        if info is not None:
            raise UsageError(f"{what} {absolute}: the path exists ({_kind(info.st_mode)}); remove it first "
                             "(loadbench never removes a file it did not create)")  # fmt: skip
    except BaseException:
        place.close()
        raise
    return place


def _check_directory(place: SocketPlace, what: str) -> None:
    info = os.fstat(place.dir_fd)
    parent = place.path.parent
    if info.st_uid not in (os.geteuid(), 0):
        raise UsageError(f"{what} {place.path}: directory {parent} belongs to another user (uid "
                         f"{info.st_uid}); choose a directory of yours")  # fmt: skip
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
        raise UsageError(f"{what} {place.path}: directory {parent} is writable by others without the sticky "
                         "bit, so they could swap the socket; choose a directory only you can write "
                         "(or chmod o-w,g-w it)")  # fmt: skip


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"),
                       (stat.S_ISDIR, "a directory")):  # fmt: skip
        if test(mode):
            return kind
    return "a file"


def check_private_room(temp_dir: str | None = None, model_names: Iterable[str] = ()) -> None:
    """UsageError when a private socket under TMPDIR would not fit in sun_path (checked once per run)."""
    base = temp_dir or tempfile.gettempdir()
    longest = max((len(name) for name in model_names), default=16)
    size = len(os.fsencode(os.path.abspath(base))) + 1 + _PRIVATE_DIR_LEN + longest + 1 + len(PRIVATE_NAME)
    if size > MAX_PATH_BYTES:
        raise UsageError(f"a private Unix socket under {base} would be {size} bytes long, more than a socket "
                         f"path can hold ({MAX_PATH_BYTES}); set TMPDIR to a shorter directory")  # fmt: skip


def check_client_socket(path: str, what: str = "--unix-socket") -> None:
    """UsageError (one line, with the fix) unless a socket is at `path` for a client to connect to."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise UsageError(f"{what} {path}: {exc.strerror}; start the server on that socket first (e.g. "
                         f"loadbench serve uvicorn --unix-socket {path})") from None  # fmt: skip
    if not stat.S_ISSOCK(mode):
        raise UsageError(f"{what} {path}: {_kind(mode)}, not a socket; give the path the server listens on "
                         "(serve prints it: ready at unix:PATH)")  # fmt: skip


def resolve(model_name: str, opts: ServerOptions) -> tuple[ServerOptions, Path | None, SocketPlace]:
    """`opts` with the socket path command() binds, the private directory made for it (or None), its place."""
    import dataclasses
    import shutil

    from loadbench.servers.base import PRIVATE_SOCKET

    if opts.unix_socket == PRIVATE_SOCKET:
        check_private_room(model_names=[model_name])
        socket_dir = Path(tempfile.mkdtemp(prefix=f"loadbench-{model_name}-sock-"))  # mode 0700
        try:
            place = check_socket_path(socket_dir / PRIVATE_NAME, what="the private socket")
        except BaseException:
            shutil.rmtree(socket_dir, ignore_errors=True)
            raise
        return dataclasses.replace(opts, unix_socket=place.path), socket_dir, place
    assert isinstance(opts.unix_socket, Path)
    place = check_socket_path(opts.unix_socket)
    return dataclasses.replace(opts, unix_socket=place.path), None, place


def listening_inodes(path: Path, table: str = "/proc/net/unix") -> set[int]:
    """The socket inodes bound to `path` in /proc/net/unix (the sockfs inode, not the file's)."""
    wanted = os.fsencode(path)
    inodes = set()
    try:
        with open(table, "rb") as lines:
            next(lines, None)  # the header
            for line in lines:
                fields = line.rstrip(b"\n").split(None, 7)
                if len(fields) == 8 and fields[7] == wanted:
                    inodes.add(int(fields[6]))
    except OSError:
        return set()
    return inodes


def held_by(pids: Iterable[int], inodes: set[int]) -> bool:
    """True when one of `pids` has a descriptor open on one of the socket `inodes` (/proc/PID/fd)."""
    links = {f"socket:[{inode}]" for inode in inodes}
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            names = os.listdir(fd_dir)
        except OSError:
            continue
        for name in names:
            with contextlib.suppress(OSError):
                if os.readlink(f"{fd_dir}/{name}") in links:
                    return True
    return False


def claim(place: SocketPlace, pids: Callable[[], list[int]]) -> SocketIdentity | None:
    """The socket at the place if the server's processes (`pids`) hold it, else None (not ready, or
    someone else's). The file is the same before and after the ownership look, so it is the one they hold."""
    before = place.identity()
    if before is None or not held_by(pids(), listening_inodes(place.path)):
        return None
    return before if place.identity() == before else None


def probe_held(place: SocketPlace, pids: Callable[[], list[int]], probe: Callable[[], int | None],
               ) -> tuple[int | None, SocketIdentity | None, bool]:  # fmt: skip
    """(status, the server's socket, someone else's socket there): `probe` only when the server's processes
    hold the socket at `place`, before and after it; a socket held so is made SOCKET_MODE (0600)."""
    before = claim(place, pids)
    if before is None:
        return None, None, place.identity() is not None
    status = probe()
    if status is None or claim(place, pids) != before:
        return None, None, False
    place.restrict(before)
    return status, before, False


def log_name(log_dir: Path, model_name: str) -> Path:
    """{model}-unix-N.log with the first N not taken: each start on a socket gets its own log (a pooled
    restart must not mix logs, nor match an older start's "address in use")."""
    number = 1
    while (log_dir / f"{model_name}-unix-{number}.log").exists():
        number += 1
    return log_dir / f"{model_name}-unix-{number}.log"


def probe_connection(host: str, port: int, timeout_s: float, *, unix_socket: Path | None = None,
                     cafile: Path | None = None) -> http.client.HTTPConnection:  # fmt: skip
    """The connection a readiness probe uses: over the Unix socket, https trusting `cafile`, or http."""
    if unix_socket is not None:
        return UnixHTTPConnection(unix_socket, timeout=timeout_s)
    if cafile is not None:
        import ssl

        context = ssl.create_default_context(cafile=str(cafile))
        return http.client.HTTPSConnection(host, port, timeout=timeout_s, context=context)
    return http.client.HTTPConnection(host, port, timeout=timeout_s)


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a Unix socket: the Host header says SOCKET_HOST, the bytes go to `path`."""

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__(SOCKET_HOST, timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.socket_path))
        except BaseException:
            sock.close()
            raise
        self.sock = sock
