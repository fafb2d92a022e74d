"""Idle and slow clients against the measured load (issue 19): one row per model and crowd size, and what each
server family does with a waiting connection.

`crowd_rows(trials)` gives, per (workload, model, load point + crowd), the medians over repetitions of the
active req/s and p99, the clients held at the end of the window and lost (by class, summed), the server's
RSS and descriptors, and the memory per held connection: (RSS over the window − the baseline) / connections
held, in KiB. The baseline is the same model's RSS on the same workload and load point without a crowd (its
own fresh server) when the run has it, else the RSS just before the crowd opened (which, for a second
workload on the same server, already holds what the first crowd left behind). RSS sums the server's
processes, so a pre-fork server's shared pages count once per process: its figure is an upper bound, which
is also what it costs in RSS terms.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loadbench.results.family import Family, parse_family

if TYPE_CHECKING:
    from loadbench.results.records import TrialResult

__all__ = ["CrowdRow", "crowd_rows", "family_notes"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CrowdRow:
    """One model at one load point and crowd size; medians over its repetitions (None: not measured)."""

    workload: str
    model: str
    family: str
    load_label: str
    idle: int
    idle_mode: str
    slow_readers: int
    repetitions: int
    rps: float | None
    p99_ms: float | None
    errors: int
    held: int | None  # idle + slow clients still held at the window's end
    waiting: int | None  # keep-alive idle clients whose one request was never answered
    lost: tuple[tuple[str, int], ...]
    rss_mb: float | None
    rss_before_mb: float | None
    fds: float | None
    kib_per_held: float | None
    slow_rate_bps_max: float | None


def _median(values: Sequence[float | int | None]) -> float | None:
    got = [float(v) for v in values if v is not None]
    return statistics.median(got) if got else None


def crowd_rows(trials: Sequence[TrialResult]) -> list[CrowdRow]:
    """Rows for every workload that has a trial with idle or slow clients (its no-crowd trials included,
    as the baseline), in first-seen order of workload, model and load point."""
    swept = {t.workload for t in trials if t.status_ok and t.crowd}
    groups: dict[tuple[str, str, str], list[TrialResult]] = {}
    for t in trials:
        if t.status_ok and t.workload in swept:
            groups.setdefault((t.workload, t.model, t.load_label), []).append(t)
    bare: dict[tuple[str, str, str], float] = {}  # (workload, model, load label) → RSS without a crowd
    for (workload, model, label), group in groups.items():
        rss = _median([(t.server or {}).get("rss_mb_mean") for t in group if not t.crowd])
        if rss is not None:
            bare[(workload, model, label)] = rss
    rows = []
    for (workload, model, label), group in groups.items():
        crowds = [t.crowd or {} for t in group]
        held = [c.get("idle_held_end", 0) + c.get("slow_held_end", 0) if c else 0 for c in crowds]
        lost: dict[str, int] = {}
        for c in crowds:
            for failed in (c.get("idle_failed") or {}, c.get("slow_failed") or {}):
                for name, n in failed.items():
                    lost[name] = lost.get(name, 0) + int(n)
        per_conn = []
        base_label = label.split(" +", 1)[0]
        for t, c, h in zip(group, crowds, held, strict=True):
            rss = (t.server or {}).get("rss_mb_mean")
            before = bare.get((workload, model, base_label), c.get("server_rss_mb_before"))
            if rss is not None and before is not None and h:
                per_conn.append((float(rss) - float(before)) * 1024 / h)
        first = crowds[0]
        rows.append(CrowdRow(
            workload=workload, model=model, family=group[0].family, load_label=label,
            idle=int(first.get("idle", 0)), idle_mode=str(first.get("idle_mode", "keepalive")),
            slow_readers=int(first.get("slow_readers", 0)), repetitions=len(group),
            rps=_median([t.rps for t in group]),
            p99_ms=_median([(t.latency_ms or {}).get("p99") for t in group]),
            errors=sum(t.error_count for t in group), held=int(statistics.median(held)),
            waiting=int(statistics.median([c.get("idle_waiting_end", 0) for c in crowds])),
            lost=tuple(sorted(lost.items())),
            rss_mb=_median([(t.server or {}).get("rss_mb_mean") for t in group]),
            rss_before_mb=_median([c.get("server_rss_mb_before") for c in crowds]),
            fds=_median([(t.server or {}).get("fds_mean") for t in group]),
            kib_per_held=_median(per_conn),
            slow_rate_bps_max=_median([c.get("slow_read_rate_bps_max") for c in crowds]),
        ))  # fmt: skip
    return rows


_NOTES: dict[Family, str] = {
    Family.EVENT_LOOP_EXTERNAL: (
        'nginx keeps a waiting connection as a few hundred bytes of state in its event loop (epoll); no '
        'thread or process waits with it, so memory stays nearly flat as idle clients grow.'
    ),
    Family.EXTERNAL_MPM_EVENT: (
        'Apache event hands an idle keep-alive connection back to its listener thread; a worker thread is'
        ' taken only while a request is read or served, so idle clients cost memory, not threads (a '
        'trickling request still holds one).'
    ),
    Family.EXTERNAL_MPM_WORKER: (
        'Apache worker gives each connection a thread for its whole keep-alive life: once idle clients '
        'hold every thread (MaxRequestWorkers), new connections wait in the accept queue.'
    ),
    Family.EXTERNAL_MPM_PREFORK: (
        'Apache prefork gives each connection a whole process for its keep-alive life: memory grows with '
        'every held connection, and beyond MaxRequestWorkers the rest wait.'
    ),
    Family.PRE_FORK: (
        'gunicorn sync serves one connection per worker and closes it after each response (no keep-'
        'alive): idle clients are dropped, but a slow reader or a trickling request holds a worker until '
        'it finishes or the worker timeout fires; this is why its docs want a buffering proxy in front.'
    ),
    Family.PRE_FORK_THREADS: (
        'gunicorn gthread parks idle keep-alive connections in a selector per worker and gives a thread '
        'only to a request in progress (worker_connections bounds how many it keeps); a trickling request'
        ' or a slow reader holds its thread for as long as it takes.'
    ),
    Family.THREADED: (
        'waitress reads and buffers requests and responses in its asyncore loop and hands only complete '
        'requests to its thread pool, so idle and slow clients cost a channel each, not a thread.'
    ),
    Family.EVENT_LOOP: (
        'uvicorn keeps each connection as a protocol object on its event loop: idle clients cost memory, '
        'never a thread; slow readers are paced by transport flow control.'
    ),
    Family.TOPOLOGY: (
        'nginx in front buffers whole requests before passing them on and whole responses before '
        "trickling them out, so gunicorn's few workers never wait on a slow or idle client."
    ),
}


def family_notes(rows: Sequence[CrowdRow]) -> list[str]:
    """What each family present does with a waiting connection, one sentence or two each."""
    seen = dict.fromkeys(parse_family(row.family) for row in rows)
    return [_NOTES[family] for family in seen if family is not None and family in _NOTES]
