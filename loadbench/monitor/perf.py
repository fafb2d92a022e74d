"""Hardware instruction counters for the server's processes, where the kernel allows them.

Instructions retired are steadier than CPU time: a neighbour sharing the core changes neither, but cache
and frequency effects move CPU time a little and instructions not at all (CodSpeed moved its CI
benchmarks to instruction counts for that reason). Linux gives them through `perf_event_open(2)`
(PERF_TYPE_HARDWARE / PERF_COUNT_HW_INSTRUCTIONS, user space only, `inherit` so threads and children
started after the counter opens are counted too).

Many machines refuse: a VM without a virtual PMU answers ENOENT, `kernel.perf_event_paranoid` ≥ 3 or a
container's seccomp profile EACCES/EPERM. `probe()` tries once and returns why not; the runner says so
once per run and records it in the environment. The counting path (`InstructionCounter`) is **untested
on the machine this was written on** (its VM refuses the counters); it only runs where `probe()` is None.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform
import struct

__all__ = ["InstructionCounter", "open_counter", "probe", "status"]

# perf_event_open's syscall number per architecture (asm/unistd.h); others: unsupported here.
_SYSCALL = {"x86_64": 298, "aarch64": 241, "arm64": 241}
_PERF_TYPE_HARDWARE = 0
_PERF_COUNT_HW_INSTRUCTIONS = 1
_ATTR_SIZE = 128  # PERF_ATTR_SIZE_VER7 and later are larger; the kernel accepts any known size ≥ 64
# flag bits of perf_event_attr (linux/perf_event.h): disabled 0, inherit 1, exclude_kernel 5, exclude_hv 6
_FLAGS = (1 << 1) | (1 << 5) | (1 << 6)


def _attr() -> ctypes.Array[ctypes.c_char]:
    raw = bytearray(_ATTR_SIZE)
    struct.pack_into("IIQ", raw, 0, _PERF_TYPE_HARDWARE, _ATTR_SIZE, _PERF_COUNT_HW_INSTRUCTIONS)
    struct.pack_into("Q", raw, 40, _FLAGS)
    return (ctypes.c_char * _ATTR_SIZE).from_buffer(raw)


def _open(pid: int) -> int:
    """A counter of `pid`'s instructions (any CPU); raises OSError with the kernel's errno."""
    number = _SYSCALL.get(platform.machine())
    if number is None or not hasattr(os, "sched_getaffinity"):
        raise OSError(errno.ENOSYS, f"perf_event_open is not wired up for {platform.machine()} here")
    libc = ctypes.CDLL(None, use_errno=True)
    fd = int(libc.syscall(number, _attr(), pid, -1, -1, 0))
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return fd


_WHY = {
    errno.ENOENT: "no hardware counters (a VM without a virtual PMU?)",
    errno.EOPNOTSUPP: "no hardware counters",
    errno.EACCES: "refused: kernel.perf_event_paranoid is too high for this user (or a container blocks it)",
    errno.EPERM: "refused: kernel.perf_event_paranoid or a seccomp profile blocks it",
    errno.ENOSYS: "no perf_event_open system call",
}


def probe() -> str | None:
    """None when instruction counters work for this user, else one sentence saying why not."""
    try:
        fd = _open(0)
    except OSError as exc:
        reason = _WHY.get(exc.errno or 0, exc.strerror or str(exc))
        name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        return f"instructions per request unavailable: perf_event_open failed with {name}: {reason}"
    os.close(fd)
    return None


class InstructionCounter:
    """Instructions retired by some processes (and what they start later) from `open` to `read`.

    Untested here (see the module docstring). A process that exits takes its count with it unless its
    parent is counted with `inherit`; the figure is then a lower bound, which `read` cannot tell.
    """

    def __init__(self, pids: list[int]) -> None:
        self._fds: list[int] = []
        try:
            for pid in pids:
                self._fds.append(_open(pid))
        except OSError:
            self.close()
            raise
        self._start = self._totals()

    def _totals(self) -> int:
        total = 0
        for fd in self._fds:
            try:
                total += struct.unpack("Q", os.read(fd, 8))[0]
            except OSError:
                continue
        return total

    def read(self) -> int:
        """Instructions since the counter opened."""
        return self._totals() - self._start

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()


def open_counter(pids: list[int]) -> InstructionCounter | None:
    """A counter over `pids`, or None where the kernel refuses (the run already said why, once)."""
    if status() != "available":
        return None
    try:
        return InstructionCounter(pids)
    except OSError:
        return None


@functools.cache
def status() -> str:
    """"available", or `probe()`'s reason why not; probed once per process (the answer cannot change)."""
    return probe() or "available"
