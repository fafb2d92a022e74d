"""The one writer of every output file: reports, `bench --json`, `check`/`compare` JUnit and markdown.

    write_output(path, data, what="--json")   write the whole of `data` to `path` ("-" = stdout)
    check_output(path, what="--json")         before a run: refuse a path that is sure to fail
    output_error(exc, path, what)             an OSError as one OutputError line (reason and fix)

What `path` is decides how it is written, so nothing outside the output path is ever touched:

- absent or a regular file: `data` goes to a new temporary file in the same directory, created with
  O_EXCL | O_NOFOLLOW under an unpredictable name (16 random hex digits), written whole and fsynced, then
  renamed over `path` and the directory fsynced. A reader sees the old file or the new one, never half of
  one; a failure (a full disk, a signal) removes the temporary file and leaves the old file as it was. A
  replaced file keeps its permission bits (its owner becomes the writer, as with any rename).
- a character or block device or a FIFO (`-o /dev/stdout`, `--json /dev/null`, a named pipe): written
  in place, opened without O_CREAT or O_TRUNC, so the device node itself is never replaced.
- a symbolic link: refused. Writing through a link is how a shared or world-writable directory is turned
  against the user, and replacing the link would surprise whoever made it; give the link's target instead.
- a directory, a socket or anything else: refused.

Right before the rename the target is looked at again, and the rename happens only if it is still absent
or a regular file. With `append=True` (GitHub's $GITHUB_STEP_SUMMARY, which expects appends) the file is
opened with O_APPEND | O_NOFOLLOW instead and written in one go.

Every OSError becomes one OutputError line: the option, the path, what went wrong (no space left, a
read-only file system, a directory, a path under a file, no permission) and what to do about it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import sys
from pathlib import Path

from loadbench.errors import OutputError

__all__ = ["check_output", "output_error", "shown_path", "write_output"]

_REASONS: dict[int, str] = {
    errno.ENOSPC: "no space left on the device; free some space or choose another path",
    errno.EDQUOT: "the disk quota is used up; free some space or choose another path",
    errno.EROFS: "the file system is read-only; choose a path on a writable file system",
    errno.EISDIR: "it is a directory; give a file name (inside it, if you like)",
    errno.ENOTDIR: "a part of the path is a file, not a directory; choose another path",
    errno.EEXIST: "a part of the path is a file, not a directory; choose another path",
    errno.EACCES: "permission denied; choose a path you can write",
    errno.EPERM: "operation not permitted; choose a path you can write",
    errno.ENAMETOOLONG: "the name is too long; choose a shorter path",
    errno.ELOOP: "it is a symbolic link; give the real path (loadbench never writes through links)",
    errno.EFBIG: "the file is too large for this file system; choose another path",
    errno.EPIPE: "the reader went away (a closed pipe); keep the reader open or choose a file",
    errno.ENXIO: "no reader or device behind it; choose a file",
}

_OPEN_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_IN_PLACE = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC


def shown_path(path: str | os.PathLike[str]) -> str:
    """`path` as one safe line: itself when printable, else its repr (no newline or escape reaches a log)."""
    text = os.fspath(path)
    return text if text.isprintable() else repr(text)


def output_error(exc: OSError, path: str | os.PathLike[str], what: str) -> OutputError:
    """One line for a failed write: the option, the path, the reason and the fix."""
    reason = _REASONS.get(exc.errno or 0) or f"{exc.strerror or exc}; choose another path"
    return OutputError(f"{what} {shown_path(path)}: cannot write: {reason}")


def _refusal(path: Path, what: str, st: os.stat_result) -> OutputError | None:
    """Why `path` (as lstat saw it) may not be written, or None when it may."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        try:
            to = f" (to {shown_path(os.readlink(path))})"
        except OSError:
            to = ""
        return OutputError(
            f"{what} {shown_path(path)}: is a symbolic link{to}; loadbench never writes through links: "
            "give the link's target or another name"
        )
    if stat.S_ISDIR(mode):
        return OutputError(f"{what} {shown_path(path)}: cannot write: {_REASONS[errno.EISDIR]}")
    if not (stat.S_ISREG(mode) or _in_place(mode)):
        return OutputError(
            f"{what} {shown_path(path)}: is a socket or another special file; choose a regular file, "
            "a device or a FIFO"
        )
    return None


def _in_place(mode: int) -> bool:
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _writable_lstat(path: Path, what: str) -> os.stat_result | None:
    """lstat of an existing output path that may be written (None: it does not exist); raise the
    refusal (a link, a directory, a socket) otherwise."""
    st = _lstat(path)
    if st is not None:
        refused = _refusal(path, what, st)
        if refused is not None:
            raise refused
    return st


def check_output(path: str | os.PathLike[str], *, what: str = "output") -> None:
    """Refuse, before any work, an output path that is sure to fail; create nothing.

    "-" (stdout) always passes. A link, a directory or a socket is refused; for a new file the nearest
    existing ancestor must be a writable directory on a writable file system.
    """
    if os.fspath(path) == "-":
        return
    target = Path(path)
    try:
        st = _writable_lstat(target, what)
        if st is not None and _in_place(st.st_mode):
            return
        where = target.parent  # an existing file's parent exists; a new file's nearest existing ancestor
        while _lstat(where) is None and where != where.parent:
            where = where.parent
        if not where.is_dir():
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        if os.statvfs(where).f_flag & os.ST_RDONLY:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        if not os.access(where, os.W_OK | os.X_OK):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
    except OSError as exc:
        raise output_error(exc, path, what) from None


def write_output(
    path: str | os.PathLike[str], data: str | bytes, *, what: str = "output", append: bool = False
) -> Path | None:
    """Write all of `data` (str as UTF-8) to `path` as the module docstring says; "-" writes to stdout.

    Returns the path written (None for stdout). Raises OutputError, one line, on any failure; the previous
    content of `path` is then untouched and no temporary file is left behind.
    """
    # A lone surrogate (JSON allows "\\ud800") must not crash the write: it is kept visible as \\ud800.
    payload = data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data
    if os.fspath(path) == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
        return None
    target = Path(path)
    try:
        st = _writable_lstat(target, what)
        if st is not None and _in_place(st.st_mode):
            _write_in_place(target, payload)
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        if append:
            _append(target, payload)
        else:
            _replace(target, payload, None if st is None else stat.S_IMODE(st.st_mode), what)
    except OSError as exc:
        raise output_error(exc, path, what) from None
    return target


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]


def _write_in_place(target: Path, payload: bytes) -> None:
    fd = os.open(target, _OPEN_IN_PLACE)
    try:
        _write_all(fd, payload)
    finally:
        os.close(fd)


def _append(target: Path, payload: bytes) -> None:
    fd = os.open(target, _OPEN_APPEND, 0o644)
    try:
        _write_all(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(target: Path, payload: bytes, mode: int | None, what: str) -> None:
    directory = target.parent
    # The name is unpredictable and opened O_EXCL | O_NOFOLLOW, so nobody can plant a file or a link there.
    tmp = directory / f".{target.name[:64]}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, _OPEN_NEW, 0o644 if mode is None else mode)
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)  # the umask must not narrow a replaced file's bits
            _write_all(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        st = _lstat(target)  # the target may have changed since it was first looked at
        if st is not None and not stat.S_ISREG(st.st_mode):
            refused = _refusal(target, what, st)
            raise refused or OutputError(f"{what} {shown_path(target)}: is no longer a regular file")
        os.rename(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
