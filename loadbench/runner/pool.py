"""The servers a paired run keeps running from one block to the next: _ServerPool."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadbench.servers.process import ServerProcess


class _ServerPool:
    """Servers kept running from one block to the next, keyed by (server name, variant).

    In a paired run each block is one trial of one variant; restarting a server for every trial would add
    a cold start to every measurement and 0.2-1.5 s to every round, so each variant's server stays up
    (pinned beside the other, which idles meanwhile) until the run moves on to the next server entry.
    Without `keep`, the pool holds nothing and every block starts and stops its own server. With
    `all_entries` (an adaptive run, whose rounds alternate between every server), every server stays up,
    pinned beside the others, until the run ends.
    """

    def __init__(self, *, keep: bool, all_entries: bool = False) -> None:
        self.keep = keep
        self.all_entries = all_entries
        self._servers: dict[tuple[str, str | None], ServerProcess] = {}

    def take(self, key: tuple[str, str | None]) -> ServerProcess | None:
        """The running server kept under `key`, if it is still alive; servers of other entries are stopped
        (unless the pool keeps all entries, as an adaptive run does: every model's server stays up)."""
        for other in [k for k in self._servers if k[0] != key[0] and not self.all_entries]:
            self._servers.pop(other).stop()
        server = self._servers.pop(key, None)
        if server is not None and not server.alive():
            server.stop()
            return None
        return server

    def give_back(self, key: tuple[str, str | None], server: ServerProcess) -> bool:
        """Keep `server` for the next block of `key`; False when the pool does not keep servers."""
        if self.keep and server.alive():
            self._servers[key] = server
            return True
        return False

    def __enter__(self) -> _ServerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        while self._servers:
            self._servers.popitem()[1].stop()
