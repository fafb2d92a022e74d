"""The one output writer (loadbench.safe.write) against real files, links, devices, FIFOs and file systems.

Device nodes are made in a temporary directory (never the machine's own); /dev/full is used only as an
output, for ENOSPC; small or read-only file systems are mounted only inside a private mount namespace.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from loadbench.errors import OutputError
from loadbench.safe.write import check_output, write_output


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_new_file_is_written_whole_and_no_temporary_is_left(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "report.html"
    assert write_output(target, "<p>é</p>", what="report") == target
    assert target.read_text(encoding="utf-8") == "<p>é</p>"
    assert _leftovers(target.parent) == []


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    target.chmod(0o600)
    write_output(target, "new", what="--json")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_symlink_is_refused_and_neither_it_nor_its_target_changes(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "report.html"
    link.symlink_to(victim)
    with pytest.raises(OutputError, match=r"^report .*report\.html: is a symbolic link \(to .*victim\); "):
        write_output(link, "x", what="report")
    with pytest.raises(OutputError, match="symbolic link"):
        check_output(link, what="report")
    assert link.is_symlink() and victim.read_text() == "precious"
    assert _leftovers(tmp_path) == []


def test_a_device_node_is_written_in_place_never_replaced(tmp_path: Path) -> None:
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs CAP_MKNOD")
    check_output(node, what="-o")
    write_output(node, "discarded", what="-o")
    assert stat.S_ISCHR(node.lstat().st_mode)  # still the device, not a regular file
    assert _leftovers(tmp_path) == []


def test_a_fifo_is_written_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_output(fifo, "through the pipe", what="--json")
    reader.join(10)
    assert got == [b"through the pipe"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_dev_full_gives_one_line_enospc() -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with pytest.raises(OutputError) as caught:
        write_output("/dev/full", "x" * 100_000, what="--junit")
    assert str(caught.value) == "--junit /dev/full: cannot write: no space left on the device; free some " \
                                "space or choose another path"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(lambda p: p.mkdir(), "it is a directory; give a file name", id="EISDIR"),
        pytest.param(lambda p: None, "a part of the path is a file, not a directory", id="ENOTDIR"),
    ],
)
def test_directories_and_paths_under_files_are_one_line(tmp_path: Path, make, expected: str) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file"
    blocker.write_text("keep")
    target = tmp_path / "out" if expected.startswith("it is") else blocker / "out.html"
    make(target)
    calls = (lambda: check_output(target, what="report"), lambda: write_output(target, "x", what="report"))
    for call in calls:
        with pytest.raises(OutputError) as caught:
            call()
        assert "\n" not in str(caught.value) and expected in str(caught.value)
    assert blocker.read_text() == "keep"


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    target = tmp_path / "report.md"
    target.write_text("measured before")
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        if fd > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OutputError, match="no space left"):
        write_output(target, "new text", what="report")
    monkeypatch.undo()
    assert target.read_text() == "measured before"
    assert _leftovers(tmp_path) == []


def test_temporary_names_are_unpredictable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real_open = os.open

    def spy(path, flags, mode=0o777, **kw):  # type: ignore[no-untyped-def]
        if flags & os.O_EXCL:
            seen.append(os.path.basename(path))
            assert flags & os.O_NOFOLLOW
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(os, "open", spy)
    for _ in range(3):
        write_output(tmp_path / "r.html", "x", what="report")
    assert len(set(seen)) == 3 and all(len(name) > len(".r.html..tmp") + 15 for name in seen)


def test_a_planted_link_at_a_guessed_temporary_name_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    for i in range(50):  # the old predictable name was .<name>.<pid>.tmp
        (tmp_path / f".report.html.{os.getpid() + i}.tmp").symlink_to(victim)
    write_output(tmp_path / "report.html", "new", what="report")
    assert victim.read_text() == "precious"


# -- real small and read-only file systems, in a private mount namespace ---------------------------------

_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from loadbench.errors import OutputError
    from loadbench.safe.write import write_output
    target = Path(sys.argv[1]) / "report.html"
    try:
        write_output(target, "x" * int(sys.argv[2]), what="report")
    except OutputError as exc:
        print("ERROR", exc)
    print("FILES", sorted(p.name for p in target.parent.iterdir()))
    """
)


def _in_namespace(tmp_path: Path, mount_opts: str, size: int, prepare: str = "") -> str:
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = tmp_path / "probe.py"
    script.write_text(_SCRIPT)
    shell = (f"mount -t tmpfs -o {mount_opts} loadbench-test {mnt} && {prepare} "
             f"{sys.executable} {script} {mnt} {size}")  # fmt: skip
    proc = subprocess.run(["unshare", "--mount", "--map-root-user", "sh", "-c", shell],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    if proc.returncode != 0 and "Operation not permitted" in proc.stderr:
        pytest.skip(f"private mount namespaces are not allowed here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


def test_a_full_tmpfs_gives_one_line_and_keeps_the_old_report(tmp_path: Path) -> None:
    out = _in_namespace(tmp_path, "size=64k", 200_000, prepare='printf old > "$0"/report.html && '.replace(
        '"$0"', str(tmp_path / "mnt")))
    assert "ERROR report " in out and "no space left on the device" in out
    assert "FILES ['report.html']" in out  # the old report stays, the temporary file is gone


def test_a_read_only_file_system_gives_one_line(tmp_path: Path) -> None:
    out = _in_namespace(tmp_path, "size=64k,ro", 10)
    assert "ERROR report " in out and "the file system is read-only" in out
    assert "FILES []" in out
