"""What the monitor saw over one trial's window, as a record: server CPU and RSS, client and other CPU.

loadbench.monitor samples the processes and builds it; the results records carry it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorSummary:
    """What the monitor saw over one window.

    samples: (t_s since start, server_cpu_pct, server_rss_mb, client_cpu_pct, server_fds) per interval
    (files written before server_fds was sampled have four columns).
    cpu_pct_mean / client_cpu_pct_mean / other_cpu_pct_mean are CPU seconds over the whole window divided
    by its wall time (exact, not a mean of noisy samples); *_max are the largest samples. RSS is the sum
    over the server's processes, so pages shared by pre-fork workers count once per worker. processes is
    the most server processes seen at once. other_cpu_pct_mean is the machine's busy time minus the
    server's and the client's: other work that competed for the cores (MEASURING.md item 5).
    None means no sample was taken. warnings say what could not be observed. server_cpu_s is the server
    tree's CPU seconds (user + system, reaped children included) over the window, unrounded: the
    numerator of the cost per request (`cpu_us_per_request`).
    """

    samples: tuple[tuple[float, ...], ...]
    duration_s: float
    cpu_pct_mean: float | None
    cpu_pct_max: float | None
    rss_mb_mean: float | None
    rss_mb_max: float | None
    processes: int
    client_cpu_pct_mean: float | None
    other_cpu_pct_mean: float | None
    warnings: tuple[str, ...] = ()
    fds_mean: float | None = None  # open file descriptors of the server's processes, summed (sockets too)
    fds_max: int | None = None
    server_cpu_s: float | None = None

    def cpu_us_per_request(self, responses: int) -> float | None:
        """The server's CPU microseconds per response: its CPU over the window / the responses in it.

        `responses` counts every response received in the monitor's window (a trial's `requests`: the
        measured window plus the drain, which the monitor also covers). None without a CPU figure or
        without responses. Time spent waiting for a CPU is not CPU time, so a neighbour that steals the
        core slows the server without raising this figure; that is why it is the steadiest gate metric.
        """
        if self.server_cpu_s is None or responses <= 0:
            return None
        return 1e6 * self.server_cpu_s / responses

    def to_record(self) -> dict[str, Any]:
        """The results-format keys: `server`, `monitor`, `client_cpu_pct`, `other_cpu_pct`."""
        server: dict[str, Any] = {
            "cpu_pct_mean": self.cpu_pct_mean, "cpu_pct_max": self.cpu_pct_max,
            "rss_mb_mean": self.rss_mb_mean, "rss_mb_max": self.rss_mb_max, "processes": self.processes,
        }
        if self.fds_mean is not None:  # absent when the server's descriptors could not be read
            server.update(fds_mean=self.fds_mean, fds_max=self.fds_max)
        return {
            "server": server,
            "monitor": [list(row) for row in self.samples],
            "client_cpu_pct": self.client_cpu_pct_mean,
            "other_cpu_pct": self.other_cpu_pct_mean,
        }
