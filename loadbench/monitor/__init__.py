"""Sample the CPU and memory of the server's process tree, of the load generator and of everything else.

`ProcessMonitor` runs a background thread that every `interval_s` (250 ms) reads, with psutil, the CPU
time, RSS and open file descriptors (sockets included: one per held connection) of the server's
processes (the pids it is given plus all their descendants, re-walked each
sample so pre-fork workers that restart are counted), the CPU time of the client (this process and its
children, minus the server's tree), and the machine's total busy time. CPU % is per core: 100 means one
full core. `stop()` returns a frozen `MonitorSummary`, whose `to_record()` gives the results-format keys.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType

import psutil

from loadbench.results.monitoring import MonitorSummary

__all__ = ["MonitorSummary", "ProcessMonitor", "server_snapshot"]

_MB = 1024 * 1024  # "MB" in results means MiB, like top and ps
_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


class _CpuLedger:
    """Cumulative CPU seconds of a changing set of processes, counted only inside the window.

    A process is identified by (pid, create_time) so a recycled pid is a new process. One first seen
    after the window began (a restarted worker) contributes all of its CPU time; one that already ran
    before contributes only what it used after we first saw it.

    A process's CPU includes its reaped children's (`children_user` + `children_system`, the kernel's
    cutime/cstime): a child that lives and dies between two samples (a CGI request, a recycled worker)
    is never seen, yet its whole CPU time lands in its parent's children counters when the parent waits
    for it. A child we did see and counted lands there too, so when a seen process disappears its last
    total becomes a credit that the next rise of any tree member's children counters pays off first
    (the reaper is usually its parent, but a reparented orphan is reaped by another). A credit never
    paid off (the process was reaped outside the tree) is simply dropped: nothing is counted twice.

    A live process's own time is read from its kernel CPU clock in nanoseconds (`_own_cpu_seconds`), not
    from /proc's clock ticks: at 10 ms a tick, a 1-s window of one busy core would carry up to ±1 % of
    rounding at each end, the size of the slowdowns a gate is asked to see.
    """

    def __init__(self, window_start_epoch: float) -> None:
        self._start = window_start_epoch
        self._seen: dict[tuple[int, float], tuple[float, float]] = {}  # key -> (own, children) totals
        self._credit = 0.0  # CPU of seen processes that vanished, still to come through a reaper

    def delta(self, procs: list[psutil.Process]) -> float:
        now: dict[tuple[int, float], tuple[float, float]] = {}
        for proc in procs:
            try:
                key = (proc.pid, proc.create_time())
                times = proc.cpu_times()
            except _GONE:
                continue
            reaped = getattr(times, "children_user", 0.0) + getattr(times, "children_system", 0.0)
            now[key] = (_own_cpu_seconds(proc.pid, times.user + times.system), reaped)
        for key, (own, reaped) in self._seen.items():
            if key not in now:  # gone (or a zombie): its totals reach its reaper's children counters
                self._credit += own + reaped
        used = 0.0
        for key, (own, reaped) in now.items():
            before = self._seen.get(key)
            if before is None:
                before = (0.0, 0.0) if key[1] >= self._start else (own, reaped)
            used += max(0.0, own - before[0])
            grown = max(0.0, reaped - before[1])
            paid = min(grown, self._credit)
            self._credit -= paid
            used += grown - paid
        self._seen = now
        return used


def _own_cpu_seconds(pid: int, ticked: float) -> float:
    """The CPU seconds `pid` has used (all its threads, live and exited), to the nanosecond.

    Linux gives every process a CPU-time clock (what clock_getcpuclockid(3) returns): clock id
    ((~pid) << 3) | 2 reads its scheduler runtime, user and system together. Elsewhere, or when the process
    is already gone, `ticked` (psutil's user + system, in clock ticks) stands in.
    """
    if not _HAS_PROCESS_CLOCKS:
        return ticked
    try:
        return time.clock_gettime_ns(((~pid) << 3) | 2) / 1e9
    except OSError:
        return ticked


_HAS_PROCESS_CLOCKS = sys.platform.startswith("linux")


def _tree(pids: list[int] | set[int]) -> dict[int, psutil.Process]:
    """The processes `pids` and all their descendants, by pid."""
    procs: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs[root.pid] = root
            for child in _descendants(root):
                procs[child.pid] = child
        except _GONE:
            continue
    return procs


def _descendants(root: psutil.Process) -> list[psutil.Process]:
    """`root`'s descendants, read from the kernel's per-thread lists of children.

    psutil's children() reads /proc/PID/stat of every process on the machine to map parents: 4 ms a
    sample with 70 processes, more on a busy CI runner, spent holding the GIL of the process whose other
    thread is the engine sending an open loop's schedule. /proc/PID/task/TID/children (Linux 3.5+) names
    just the children; where it is missing psutil's walk stands in.
    """
    found: list[psutil.Process] = []
    queue = [root.pid]
    while queue:
        pid = queue.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            continue  # gone meanwhile
        except OSError:
            return list(root.children(recursive=True))
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children", "rb") as listing:
                    children = [int(child) for child in listing.read().split()]
            except FileNotFoundError:
                if not os.path.exists(f"/proc/{pid}/task/{tid}/stat"):
                    continue  # the thread ended meanwhile
                return list(root.children(recursive=True))  # a kernel without the children lists
            except OSError:
                continue
            for child in children:
                try:
                    found.append(psutil.Process(child))
                except _GONE:
                    continue
                queue.append(child)
    return found


def _rss_and_fds(procs: list[psutil.Process]) -> tuple[int, int | None]:
    """Summed RSS (bytes) and open file descriptors of `procs`; fds None when none could be read (another
    user's processes without the privilege)."""
    rss, fds, seen = 0, 0, False
    for proc in procs:
        try:
            rss += proc.memory_info().rss
        except _GONE:
            continue
        try:
            fds += proc.num_fds()
            seen = True
        except _GONE:
            continue
    return rss, fds if seen else None


def server_snapshot(pids: list[int]) -> dict[str, float | int | None]:
    """The server tree's RSS (MiB) and open file descriptors now: the baseline before idle clients open."""
    rss, fds = _rss_and_fds(list(_tree(pids).values()))
    return {"rss_mb": round(rss / _MB, 1), "fds": fds}


def _process_clock_now() -> float:
    """Now, on the clock of psutil's create_time().

    create_time() is boot time (whole seconds, from /proc/stat) plus the process's start in ticks since
    boot, so it can sit up to a second before time.time(); comparing the two would take a worker born
    inside the window for an old one and drop the CPU it used before its first sample.
    """
    if hasattr(time, "CLOCK_BOOTTIME"):
        return float(psutil.boot_time()) + time.clock_gettime(time.CLOCK_BOOTTIME) - 0.01  # one tick slack
    return time.time()


def _busy_seconds() -> float:
    """Machine-wide CPU seconds spent by processes, all cores.

    Guest time is already inside user on Linux. Interrupt and softirq time are left out: loopback TCP is
    processed there, charged to no process, so the benchmark's own traffic (a third of a core at high
    request rates) would otherwise read as "other processes" and flag every trial as measured on a busy
    machine. Steal time stays in: a neighbour on the same host is exactly the noise to report.
    """
    t = psutil.cpu_times()
    total: float = sum(t)
    for name in ("guest", "guest_nice", "irq", "softirq"):
        total -= getattr(t, name, 0.0)
    busy: float = total - t.idle - getattr(t, "iowait", 0.0)
    return busy


class ProcessMonitor:
    """Background sampler of server and client CPU/RSS; a context manager, or start() then stop().

    `pids_fn` returns the server's current root pids (e.g. ServerProcess.pids); it is called every
    sample, and may return [] while the server is not up. `client_pid` is the load generator.
    """

    def __init__(
        self, pids_fn: Callable[[], list[int]], interval_s: float = 0.25, client_pid: int | None = None
    ) -> None:
        self._pids_fn = pids_fn
        self._interval_s = interval_s
        self._client_pid = os.getpid() if client_pid is None else client_pid
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._summary: MonitorSummary | None = None
        self._failure: BaseException | None = None
        self._warnings: list[str] = []
        self._rows: list[tuple[float, ...]] = []
        self._max_processes = 0
        self._server_cpu_s = self._client_cpu_s = 0.0
        self._lock = threading.Lock()  # restart() and the sampling thread both move the window's totals

    def start(self) -> ProcessMonitor:
        if self._thread is not None:
            raise RuntimeError("ProcessMonitor.start() called twice; use a new monitor per window")
        self._open_window()
        self._thread = threading.Thread(target=self._run, name="loadbench-monitor", daemon=True)
        self._thread.start()
        return self

    def restart(self) -> None:
        """Begin the window again from now: what was counted so far (a warm-up) is dropped.

        The runner starts the monitor by a timer and restarts it when the engine says its measured window
        opened (TickInfo phase "window"), so the server's CPU counts the requests the engine counts.
        """
        if self._thread is None or self._summary is not None:
            raise RuntimeError("ProcessMonitor.restart() outside start() ... stop()")
        self._open_window()

    def _open_window(self) -> None:
        with self._lock:
            self._t0 = self._last_t = time.perf_counter()
            self._busy0 = _busy_seconds()
            start_epoch = _process_clock_now()
            self._server_ledger = _CpuLedger(start_epoch)
            self._client_ledger = _CpuLedger(start_epoch)
            self._measure_locked()  # the baseline: CPU used before this point is not ours to count
            self._rows.clear()
            self._server_cpu_s = self._client_cpu_s = 0.0

    def stop(self) -> MonitorSummary:
        """End the window (one last sample) and summarize it; calling it again returns the same summary."""
        if self._summary is not None:
            return self._summary
        if self._thread is None:
            raise RuntimeError("ProcessMonitor.stop() before start()")
        self._stop_event.set()
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        if time.perf_counter() - self._last_t > 0.02 or not self._rows:
            self._measure()
        with self._lock:
            self._summary = self._summarize(time.perf_counter() - self._t0, _busy_seconds() - self._busy0)
        return self._summary

    def __enter__(self) -> ProcessMonitor:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._thread is not None:
            self.stop()

    @property
    def summary(self) -> MonitorSummary | None:
        """The summary once stopped (also after leaving a `with` block), else None."""
        return self._summary

    def _run(self) -> None:
        deadline = self._t0 + self._interval_s
        try:
            while not self._stop_event.wait(max(0.0, deadline - time.perf_counter())):
                self._measure()
                deadline += self._interval_s
                # after a stall, resume the cadence instead of sampling in a burst
                deadline = max(deadline, time.perf_counter() + self._interval_s / 2)
        except BaseException as exc:  # re-raised by stop(): a bug here must not pass silently
            self._failure = exc

    def _server_pids(self) -> list[int]:
        try:
            return list(self._pids_fn())
        except Exception as exc:
            message = f"could not list the server's processes: {exc!r}"
            if message not in self._warnings:
                self._warnings.append(message)
            return []

    def _measure(self) -> None:
        with self._lock:
            self._measure_locked()

    def _measure_locked(self) -> None:
        now = time.perf_counter()
        server = _tree(self._server_pids())
        client = {pid: p for pid, p in _tree([self._client_pid]).items() if pid not in server}
        server_cpu = self._server_ledger.delta(list(server.values()))
        client_cpu = self._client_ledger.delta(list(client.values()))
        rss, fds = _rss_and_fds(list(server.values()))
        wall = now - self._last_t
        self._last_t = now
        if wall <= 0:
            return
        self._server_cpu_s += server_cpu
        self._client_cpu_s += client_cpu
        self._max_processes = max(self._max_processes, len(server))
        self._rows.append((
            round(now - self._t0, 3), round(100 * server_cpu / wall, 1), round(rss / _MB, 1),
            round(100 * client_cpu / wall, 1), *(() if fds is None else (float(fds),)),
        ))

    def _summarize(self, wall_s: float, busy_s: float) -> MonitorSummary:
        rows = tuple(self._rows)
        if not rows or wall_s <= 0:
            return MonitorSummary(
                samples=rows, duration_s=wall_s, cpu_pct_mean=None, cpu_pct_max=None, rss_mb_mean=None,
                rss_mb_max=None, processes=self._max_processes, client_cpu_pct_mean=None,
                other_cpu_pct_mean=None, warnings=tuple(self._warnings), server_cpu_s=None,
            )
        other_s = max(0.0, busy_s - self._server_cpu_s - self._client_cpu_s)
        fd_rows = [row[4] for row in rows if len(row) > 4]
        return MonitorSummary(
            samples=rows,
            duration_s=round(wall_s, 3),
            cpu_pct_mean=round(100 * self._server_cpu_s / wall_s, 1),
            cpu_pct_max=max(row[1] for row in rows),
            rss_mb_mean=round(sum(row[2] for row in rows) / len(rows), 1),
            rss_mb_max=max(row[2] for row in rows),
            processes=self._max_processes,
            client_cpu_pct_mean=round(100 * self._client_cpu_s / wall_s, 1),
            other_cpu_pct_mean=round(100 * other_s / wall_s, 1),
            warnings=tuple(self._warnings),
            fds_mean=round(sum(fd_rows) / len(fd_rows), 1) if fd_rows else None,
            fds_max=int(max(fd_rows)) if fd_rows else None,
            server_cpu_s=round(self._server_cpu_s, 6),
        )
