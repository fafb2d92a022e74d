"""Will a trial's connections fit? File descriptors on both sides and ephemeral ports, checked up front.

10,000 loopback connections need 10,000 descriptors in the client, as many in the server, and 10,000
ephemeral ports from one source address to one server port (Linux's default range 32768-60999 gives
28,232; TIME_WAIT sockets take some). `plan_fit` refuses in one line, before anything starts, what
cannot fit, saying which limit to raise and how; what fits may still need more than one 127.0.0.x source
address, whose count it returns. `raise_fd_soft_limit` lifts this process's soft limit to what is needed
(never above the hard limit), so servers started afterwards inherit it.
"""

from __future__ import annotations

import math
import resource
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from loadbench.errors import UsageError
from loadbench.safe.limits import FD_MARGIN, fd_hard_limit
from loadbench.types import Crowd

FD_HEADROOM = FD_MARGIN  # listeners, logs, pipes, the engine's own files (loadbench.safe.limits)
PORT_HEADROOM = 2_000  # TIME_WAIT sockets of earlier trials, other programs on the machine
MAX_SOURCES = 254  # 127.0.0.1 .. 127.0.0.254
PORT_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ephemeral_ports(path: Path = PORT_RANGE_FILE) -> int:
    """How many ephemeral ports one source address has (Linux's ip_local_port_range; 28,232 if unknown)."""
    try:
        low, high = (int(x) for x in path.read_text().split())
    except (OSError, ValueError):
        return 60999 - 32768 + 1
    return high - low + 1


def hard_fd_limit() -> int | None:
    """RLIMIT_NOFILE's hard limit (None: unlimited); loadbench.safe.limits reads it for everyone."""
    return fd_hard_limit()


@dataclass(frozen=True, slots=True, kw_only=True)
class Fit:
    """How a trial's connections fit: the 127.0.0.x source addresses the crowd spreads over, and the
    descriptors each side needs."""

    sources: int
    client_fds: int
    server_fds: int


def plan_fit(crowd: Crowd, active_connections: int, *, host: str = "127.0.0.1", hard_limit: int | None = -1,
             ports: int | None = None, where: str = "") -> Fit:  # fmt: skip
    """Check one trial's connections against the limits; UsageError (one line) when they cannot fit.

    The crowd runs in its own process and the engine in its own, so each needs its share of descriptors
    under the hard limit; the server needs one per connection of either. `hard_limit` -1 reads it here.
    """
    hard = hard_fd_limit() if hard_limit == -1 else hard_limit
    ports = ephemeral_ports() if ports is None else ports
    prefix = f"{where}: " if where else ""
    total = crowd.connections + active_connections
    client_fds = max(crowd.connections, active_connections) + FD_HEADROOM
    server_fds = total + FD_HEADROOM
    if hard is not None and server_fds > hard:
        raise UsageError(
            f"{prefix}{crowd.connections:,} idle/slow + {active_connections:,} active connections need "
            f"{server_fds:,} file descriptors in the server (and the clients) but the hard limit is "
            f"{hard:,}; "
            f"raise it (`ulimit -Hn {server_fds}` as root, or nofile in /etc/security/limits.conf) or ask "
            "for fewer idle/slow clients"
        )
    per_source = max(ports - PORT_HEADROOM, 1)
    sources = max(1, math.ceil(crowd.connections / max(per_source - active_connections, 1)))
    if sources > 1 and not host.startswith("127."):
        raise UsageError(
            f"{prefix}{total:,} connections to one port need more than the {ports:,} ephemeral ports of one "
            f"source address, and {host} is not on 127.0.0.0/8 where loadbench can spread them; widen "
            "net.ipv4.ip_local_port_range (sysctl) or ask for fewer"
        )
    if sources > MAX_SOURCES:
        raise UsageError(
            f"{prefix}{total:,} connections need {sources} source addresses of {ports:,} ports each, more "
            f"than 127.0.0.1-254; widen net.ipv4.ip_local_port_range (sysctl) or ask for fewer"
        )
    return Fit(sources=sources, client_fds=client_fds, server_fds=server_fds)


def check_trials(trials: Iterable[tuple[Crowd, int, str]]) -> None:
    """Refuse (UsageError, one line) the first (crowd, active connections, name) that cannot fit; then
    lift this process's soft fd limit so the servers started afterwards inherit room for the largest."""
    needed = 0
    for crowd, active, name in trials:
        if crowd.connections:
            needed = max(needed, plan_fit(crowd, active, where=name).server_fds)
    if needed:
        raise_fd_soft_limit(needed)


def raise_fd_soft_limit(needed: int) -> None:
    """Lift this process's soft RLIMIT_NOFILE to `needed` (at most the hard limit); children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
