"""The results records and their builders: the header (`ResultsHeader`) and one `TrialResult` per trial.

A results file is a header line followed by one line per trial; the format is specified in
docs/results-format.md. Attribute names of both dataclasses are the JSON keys. `make_header`,
`make_trial_result` and `failed_trial_result` build the records a run writes; `latest_attempts` keeps a
paired run's last attempt of each round. Writing and reading the file is loadbench.results.file's job.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from loadbench import __version__
from loadbench.errors import ResultsFormatError
from loadbench.results.codec import (
    describe,
    from_json,
    load_from_json,
    load_to_json,
    request_spec_to_json,
    to_json,
)
from loadbench.types import ErrorClass

if TYPE_CHECKING:
    from loadbench.results.claims import ClaimRecord
    from loadbench.results.metrics import LatencyHistogram
    from loadbench.results.profiles import ProfileRecord
    from loadbench.types import Load

_T = TypeVar("_T")

RESULTS_FORMAT = "loadbench-results"
# Version history (bump on any change a version-1 reader would misread; adding optional keys is not one):
#   1 (loadbench 0.1.0): header line + one "trial" line per trial.
#     Later within version 1: "profile" lines (loadbench.results.profiles) beside the trials; a reader that
#     does not know them skips them with a warning, so the version stays 1.
RESULTS_VERSION = 1
SUPPORTED_VERSIONS = (1,)

__all__ = [
    "RESULTS_FORMAT",
    "RESULTS_VERSION",
    "SUPPORTED_VERSIONS",
    "Results",
    "ResultsHeader",
    "TrialResult",
    "latest_attempts",
    "load_from_json",
    "load_to_json",
    "make_header",
    "refuse_duplicate_trials",
    "request_spec_to_json",
]

JsonDict = dict[str, Any]


class LatencySummary(TypedDict, total=False):
    """Latency figures of a trial in milliseconds (None when nothing was measured): `latency_ms`,
    `service_ms`, `connect_ms`, `tls_ms`, `ttfb_ms`; `schedule_lag_ms` holds p50 and p99 only."""

    min: float | None
    mean: float | None
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    p99_9: float | None
    max: float | None


class ServerStats(TypedDict, total=False):
    """The server's process tree over the measured window (`server`): CPU % of one core, RSS in MiB, open
    file descriptors summed over its processes (sockets, listeners, files, pipes)."""

    cpu_pct_mean: float | None
    cpu_pct_max: float | None
    rss_mb_mean: float | None
    rss_mb_max: float | None
    processes: int | None
    fds_mean: float | None
    fds_max: int | None


class LoadRecord(TypedDict, total=False):
    """A load shape's JSON form (`load`; see loadbench.types): its `kind` and that kind's parameters."""

    kind: str
    connections: int
    rate_per_s: float
    arrival: str
    max_connections: int
    stages_kind: str
    stages: list[list[float]]


class CrowdRecord(TypedDict, total=False):
    """The idle and slow clients held beside the measured load (`crowd`; loadbench.types.Crowd).

    What was asked (`idle`, `idle_mode`, `idle_path`, `trickle_interval_s`, `slow_readers`, `slow_path`,
    `read_rate_bps`), how long opening them took (`open_s`) over how many 127.0.0.x `source_addresses`,
    and what the server did with them: `*_held_start` when the warm-up began, `*_held_end` when the window
    ended; `idle_waiting_*` keep-alive clients whose one request was still unanswered; `*_failed` counts
    by class (connect_refused, connect_timeout, connect_error: …, closed, reset, answered). Slow readers
    add the bytes they read and their read rates (bytes/s per client, mean and max). The server's RSS (MiB)
    and open file descriptors just before the crowd opened are `server_rss_mb_before`, `server_fds_before`.
    """

    idle: int
    idle_mode: str
    idle_path: str
    trickle_interval_s: float
    slow_readers: int
    slow_path: str
    read_rate_bps: float
    open_s: float | None
    source_addresses: int
    idle_held_start: int
    idle_held_end: int
    idle_waiting_start: int
    idle_waiting_end: int
    idle_failed: dict[str, int]
    slow_held_start: int
    slow_held_end: int
    slow_failed: dict[str, int]
    slow_bytes_read: int
    slow_read_rate_bps_max: float | None
    slow_read_rate_bps_mean: float | None
    server_rss_mb_before: float | int | None
    server_fds_before: float | int | None


class Failure(TypedDict, total=False):
    """Why a trial measured nothing (`failure`): the reason and the server's own last log lines."""

    reason: str
    log_tail: str


_NO_ERRORS: Mapping[str, int] = {cls.value: 0 for cls in ErrorClass}


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultsHeader:
    """Line 1 of a results file: format, version, when, which scenario (with its text) and the machine.

    `scenario` holds name, path, sha256, text and thresholds; `env` is envinfo.collect_env()'s dict;
    `git_commit` is the commit checked out where the run started (None outside a git checkout), so
    `loadbench trend` can label a history of runs by commit.
    `run_id` names this run; its trial lines carry the same id (and the scenario's sha256), so a line
    appended from another run is found by the reader (results.file).
    `extra` keeps keys this version does not know, so they survive a read-write round trip.
    """

    format: str = RESULTS_FORMAT
    version: int = RESULTS_VERSION
    loadbench_version: str = __version__
    created: str
    run_id: str | None = None  # random per run; every trial line of the run carries it (None: older files)
    scenario: Mapping[str, Any]
    env: Mapping[str, Any]
    git_commit: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> JsonDict:
        return to_json(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, where: str = "header") -> ResultsHeader:
        """Validate and convert line 1; raise ResultsFormatError naming `where` and the key."""
        header: ResultsHeader = from_json(cls, data, where)
        if not isinstance(header.scenario.get("name"), str):
            name = describe(header.scenario.get("name"))
            raise ResultsFormatError(f"{where}: key 'scenario' needs a string 'name', got {name}")
        return header


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialResult:
    """One measured trial (one line). Keys and units are documented in docs/results-format.md.

    Figures are base units with the unit in the name; `histogram` is the encoded LatencyHistogram from
    which every percentile can be recomputed; `extra` keeps keys this version does not know.
    """

    kind: str = "trial"
    trial_id: str = ""
    index: int = 0
    model: str
    server_model: str = ""
    family: str = ""
    server_options: Mapping[str, Any] = field(default_factory=dict)
    variant: str | None = None
    workload: str
    requests_spec: tuple[Mapping[str, Any], ...] = ()
    load: LoadRecord
    load_label: str = ""
    repetition: int = 1
    round: int = 1
    attempt: int = 1  # 2 when a paired run measured the round again after the generator saturated
    started: str = ""
    status_ok: bool = True
    failure: Failure | None = None
    duration_s: float
    warmup_s: float = 0.0
    requests: int
    ok: int = 0
    rps: float
    latency_ms: LatencySummary | None = None
    service_ms: LatencySummary | None = None
    errors: Mapping[str, int] = field(default_factory=lambda: dict(_NO_ERRORS))
    error_messages: Mapping[str, int] = field(default_factory=dict)
    status: Mapping[str, int] = field(default_factory=dict)
    error_rate: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0
    target_rps: float | None = None
    dropped: int = 0
    schedule_lag_ms: LatencySummary | None = None
    saturated: bool = False
    saturation_reasons: tuple[str, ...] = ()
    engine: str = ""
    backend: str = "native"  # the engine backend's registry name; files from before it was recorded: native
    backend_extras: Mapping[str, Any] = field(default_factory=dict)  # the backend's own facts (see engine)
    url: str | None = None  # `loadbench bench`'s target URL (a run's trials have a server model instead)
    unix_socket: bool = False  # the load went over a Unix socket, not TCP (serve/bench --unix-socket)
    target: str | None = None  # where the load went when not the URL's host:port: "unix:PATH"; else null
    event_loop: str = ""
    processes: int = 1
    keepalive: bool = True
    connections_opened: int = 0
    sent: int = 0
    drained: int = 0
    client_cpu_s: float | None = None
    client_cpu_pct: float | None = None
    other_cpu_pct: float | None = None
    server: ServerStats | None = None
    crowd: CrowdRecord | None = None  # idle/slow clients held beside the load (issue 19); null: none
    server_cpu_us_per_request: float | None = None  # server CPU (user + sys) over the window / responses
    server_instructions_per_request: float | None = None  # hardware counters, where the kernel allows
    monitor: tuple[tuple[float, ...], ...] = ()
    timeline: tuple[tuple[float | None, ...], ...] = ()
    histogram: str | None = None
    service_histogram: str | None = None
    connect_ms: LatencySummary | None = None  # time to connect (TCP), per new connection
    ttfb_ms: LatencySummary | None = None  # time to first byte, per response, from its send
    connect_histogram: str | None = None
    ttfb_histogram: str | None = None
    tls_ms: LatencySummary | None = None  # TLS handshake after the TCP connect, per new connection (https)
    tls_histogram: str | None = None
    pipeline: int = 1  # HTTP/1.1 requests in flight per connection
    pipeline_downgrades: int = 0  # connections whose server closed after one response (no pipelining)
    aborted: bool = False  # --abort-on-fail ended the trial early (a threshold failed on the figures so far)
    cpus: Mapping[str, Any] | None = None
    run_id: str | None = None  # the header's run_id, stamped by the runner (None: bench, older files)
    scenario_sha256: str | None = None  # the header's scenario sha256, stamped beside run_id
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> JsonDict:
        """The JSON object of this trial (unknown keys from `extra` included)."""
        return to_json(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, where: str = "trial") -> TrialResult:
        """Validate and convert one trial object; raise ResultsFormatError naming `where` and the key."""
        trial: TrialResult = from_json(cls, data, where)
        return trial

    @property
    def error_count(self) -> int:
        """Transport errors of every class (responses with a bad status are not counted here)."""
        return sum(self.errors.values())

    @property
    def failed(self) -> bool:
        """True when the server failed to start or died: nothing was measured."""
        return not self.status_ok

    def latency_histogram(self) -> LatencyHistogram | None:
        """Decode `histogram` (None when the trial recorded none)."""
        if self.histogram is None:
            return None
        from loadbench.results.metrics import LatencyHistogram  # lazy: metrics pulls in numpy

        try:
            return LatencyHistogram.decode(self.histogram)
        except (ResultsFormatError, ValueError, IndexError) as exc:  # damaged bytes that still decode
            trial = self.trial_id or self.model
            raise ResultsFormatError(f"trial {trial!r}: key 'histogram': {exc}") from None

    def load_spec(self) -> Load:
        """The load as its load shape (loadbench.shapes)."""
        return load_from_json(self.load)


@dataclass(frozen=True, slots=True, kw_only=True)
class Results:
    """A whole results file: its header, its complete trials in file order, and reader warnings.

    `profiles` holds the file's profile lines (loadbench.results.profiles) and `claims` its claim lines
    (loadbench.results.claims, adaptive runs only); neither is a measurement.
    """

    header: ResultsHeader
    trials: tuple[TrialResult, ...]
    warnings: tuple[str, ...] = ()
    path: Path | None = None
    profiles: tuple[ProfileRecord, ...] = ()
    claims: tuple[ClaimRecord, ...] = ()


# -- a run's header -----------------------------------------------------------------------------------

def make_header(
    *,
    scenario_name: str,
    scenario_path: str | os.PathLike[str] | None = None,
    scenario_text: str | None = None,
    thresholds: Sequence[str] = (),
    env: Mapping[str, Any] | None = None,
    created: datetime | str | None = None,
    quick: bool = False,
    git_commit: str | None = None,
    overrides: Sequence[str] = (),
    run_id: str | None = None,
) -> ResultsHeader:
    """The header of a new run; `created` defaults to now (UTC), sha256 is that of `scenario_text`.

    `quick` records that `--quick` shortened every duration (a smoke run, not a measurement to quote);
    `overrides` the `run --set` values applied over `scenario_text` (the key is left out when there are none).
    `run_id` defaults to a fresh random id (uuid4 hex).
    """
    if created is None:
        created = datetime.now(UTC)
    sha = hashlib.sha256(scenario_text.encode("utf-8")).hexdigest() if scenario_text is not None else None
    scenario = {"name": scenario_name, "path": None if scenario_path is None else os.fspath(scenario_path),
                "sha256": sha, "text": scenario_text, "thresholds": list(thresholds), "quick": quick}
    if overrides:
        scenario["overrides"] = list(overrides)
    return ResultsHeader(created=_timestamp(created), scenario=scenario, env=dict(env or {}),
                         git_commit=git_commit, run_id=run_id or uuid.uuid4().hex)


def _timestamp(value: datetime | str) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value


def refuse_duplicate_trials(results: Results) -> None:
    """Raise ResultsFormatError when one trial (id and attempt) appears twice: a copied line is not new
    evidence, and counting it would let six copies of one trial decide a verdict."""
    from collections import Counter

    from loadbench.errors import ResultsFormatError

    counts = Counter((t.trial_id, int(getattr(t, "attempt", 1) or 1)) for t in results.trials)
    repeated = [(key, n) for key, n in counts.items() if n > 1]
    if repeated:
        (trial_id, attempt), n = repeated[0]
        more = f" (and {len(repeated) - 1} more trial(s))" if len(repeated) > 1 else ""
        raise ResultsFormatError(
            f"{results.path}: trial {trial_id!r} (attempt {attempt}) appears {n} times{more}; a trial counts "
            "once: remove the copied lines (or merge runs with distinct trial ids)"
        )


def latest_attempts(trials: Sequence[_T]) -> list[_T]:
    """`trials` without those a later attempt replaced: a paired run measures a round again (attempt 2)
    when the load generator saturated, and only the round's last attempt counts. Order is kept."""
    def identity(trial: Any) -> tuple[object, ...]:
        return (trial.model, trial.variant, trial.workload, trial.load_label, trial.round)

    last: dict[tuple[object, ...], int] = {}
    for trial in trials:
        key = identity(trial)
        last[key] = max(last.get(key, 0), int(getattr(trial, "attempt", 1) or 1))
    return [t for t in trials if int(getattr(t, "attempt", 1) or 1) == last[identity(t)]]
