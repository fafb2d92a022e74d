"""Servers on a Unix socket: the path checked before a start, the socket's identity, its removal, the probe.

A server asked to listen on a Unix socket (ServerOptions.unix_socket) gets its path checked here before
anything starts: absolute (a relative one is made so against our working directory, since a server may run
in the app's `cwd`), its directory existing, short enough for sun_path, and nothing at the path but, at
most, a stale socket of ours (owned by us, nothing listening: a server killed before it could remove it),
which is replaced. A regular file, a link, a directory, a socket another user owns or one a server still
listens on is refused. Once the server is ready the socket's (device, inode) is noted, and at stop the file
is removed only if it is still that socket: loadbench never removes a file it did not see its server make.
"""

from __future__ import annotations

import errno
import http.client
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

from loadbench.errors import UsageError

#: sun_path holds 108 bytes on Linux, the last one a NUL.
MAX_PATH_BYTES = 107
#: The name of the socket in a private directory (scenarios' unix_socket = true).
PRIVATE_NAME = "server.sock"
#: The Host header of requests sent over a socket (there is no host:port to name).
SOCKET_HOST = "localhost"


@dataclass(frozen=True, slots=True)
class SocketIdentity:
    """Which file a server made: (device, inode) of the socket at `path` once the server was ready."""

    path: Path
    device: int
    inode: int


def check_socket_path(path: Path | str, what: str = "--unix-socket") -> Path:
    """The absolute path a server may listen on, or UsageError (one line) saying why not and the fix.

    A stale socket of ours (owned by this user, refusing connections) is removed so the server can bind.
    """
    absolute = Path(os.path.abspath(path))
    if len(os.fsencode(absolute)) > MAX_PATH_BYTES:
        raise UsageError(f"{what} {absolute}: {len(os.fsencode(absolute))} bytes long, more than a Unix "
                         f"socket path can hold ({MAX_PATH_BYTES}); choose a shorter path")  # fmt: skip
    parent = absolute.parent
    if not parent.is_dir():
        raise UsageError(f"{what} {absolute}: directory {parent} does not exist; create it first or choose "
                         "a path in an existing directory")  # fmt: skip
    try:
        info = os.lstat(absolute)
    except FileNotFoundError:
        return absolute
    if not stat.S_ISSOCK(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else (
            "a symbolic link" if stat.S_ISLNK(info.st_mode) else "a file that is not a socket")
        raise UsageError(f"{what} {absolute}: already exists and is {kind}; loadbench will not replace it, "
                         "choose another path")  # fmt: skip
    if info.st_uid != os.geteuid():
        raise UsageError(f"{what} {absolute}: a socket of another user (uid {info.st_uid}) is there; "
                         "choose another path")  # fmt: skip
    if listening(absolute):
        raise UsageError(f"{what} {absolute}: a server is already listening on that socket; stop it or "
                         "choose another path")  # fmt: skip
    absolute.unlink()  # a stale socket of ours: nothing listens, so a killed server left it behind
    return absolute


def listening(path: Path) -> bool:
    """True when something accepts connections on the Unix socket `path`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(str(path))
        except OSError as exc:
            # EAGAIN (a full backlog) or a timeout: a listener is there, just busy
            return exc.errno not in (errno.ECONNREFUSED, errno.ENOENT)
    return True


def identify(path: Path) -> SocketIdentity | None:
    """The socket now at `path`, or None when there is none (the server has not made it, or removed it)."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISSOCK(info.st_mode):
        return None
    return SocketIdentity(path=path, device=info.st_dev, inode=info.st_ino)


def remove_socket(made: SocketIdentity) -> None:
    """Remove the socket file a server made, if it is still that file (most servers remove their own)."""
    now = identify(made.path)
    if now is not None and (now.device, now.inode) == (made.device, made.inode):
        made.path.unlink(missing_ok=True)


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
