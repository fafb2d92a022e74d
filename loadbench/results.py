"""Results as versioned JSON lines: build TrialResult records, append them durably, read and validate them.

A results file is a header line (`ResultsHeader`) followed by one line per trial (`TrialResult`); the
format is specified in docs/results-format.md. Attribute names of both dataclasses are the JSON keys.
`ResultsWriter` fsyncs after every trial, so a kill -9 loses at most the trial in flight, and
`read_results` skips such a truncated last line with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from loadbench import __version__
from loadbench.engine.base import ErrorClass
from loadbench.errors import LoadbenchError, ResultsFormatError
from loadbench.jsoncodec import (
    describe,
    dumps_line,
    from_json,
    load_from_json,
    load_to_json,
    request_spec_to_json,
    scrub_nonfinite,
    to_json,
)

if TYPE_CHECKING:
    from loadbench.engine.base import Load, RequestSpec
    from loadbench.metrics import LatencyHistogram
    from loadbench.monitor import MonitorSummary

_T = TypeVar("_T")

RESULTS_FORMAT = "loadbench-results"
# Version history (bump on any change a version-1 reader would misread; adding optional keys is not one):
#   1 (loadbench 0.1.0): header line + one "trial" line per trial.
RESULTS_VERSION = 1
SUPPORTED_VERSIONS = (1,)

__all__ = [
    "RESULTS_FORMAT",
    "RESULTS_VERSION",
    "SUPPORTED_VERSIONS",
    "Results",
    "ResultsHeader",
    "ResultsWriter",
    "TrialResult",
    "default_run_dir",
    "dumps_line",
    "failed_trial_result",
    "load_from_json",
    "load_to_json",
    "make_header",
    "make_trial_result",
    "read_results",
    "request_spec_to_json",
]

JsonDict = dict[str, Any]
_NO_ERRORS: Mapping[str, int] = {cls.value: 0 for cls in ErrorClass}


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultsHeader:
    """Line 1 of a results file: format, version, when, which scenario (with its text) and the machine.

    `scenario` holds name, path, sha256, text and thresholds; `env` is envinfo.collect_env()'s dict.
    `extra` keeps keys this version does not know, so they survive a read-write round trip.
    """

    format: str = RESULTS_FORMAT
    version: int = RESULTS_VERSION
    loadbench_version: str = __version__
    created: str
    scenario: Mapping[str, Any]
    env: Mapping[str, Any]
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
    load: Mapping[str, Any]
    load_label: str = ""
    repetition: int = 1
    round: int = 1
    attempt: int = 1  # 2 when a paired run measured the round again after the generator saturated
    started: str = ""
    status_ok: bool = True
    failure: Mapping[str, Any] | None = None
    duration_s: float
    warmup_s: float = 0.0
    requests: int
    ok: int = 0
    rps: float
    latency_ms: Mapping[str, float | None] | None = None
    service_ms: Mapping[str, float | None] | None = None
    errors: Mapping[str, int] = field(default_factory=lambda: dict(_NO_ERRORS))
    error_messages: Mapping[str, int] = field(default_factory=dict)
    status: Mapping[str, int] = field(default_factory=dict)
    error_rate: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0
    target_rps: float | None = None
    dropped: int = 0
    schedule_lag_ms: Mapping[str, float | None] | None = None
    saturated: bool = False
    saturation_reasons: tuple[str, ...] = ()
    engine: str = ""
    event_loop: str = ""
    processes: int = 1
    keepalive: bool = True
    connections_opened: int = 0
    sent: int = 0
    drained: int = 0
    client_cpu_s: float | None = None
    client_cpu_pct: float | None = None
    other_cpu_pct: float | None = None
    server: Mapping[str, float | None] | None = None
    monitor: tuple[tuple[float, ...], ...] = ()
    timeline: tuple[tuple[float | None, ...], ...] = ()
    histogram: str | None = None
    service_histogram: str | None = None
    cpus: Mapping[str, Any] | None = None
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
        from loadbench.metrics import LatencyHistogram  # lazy: metrics pulls in numpy

        try:
            return LatencyHistogram.decode(self.histogram)
        except (ResultsFormatError, ValueError, IndexError) as exc:  # damaged bytes that still decode
            trial = self.trial_id or self.model
            raise ResultsFormatError(f"trial {trial!r}: key 'histogram': {exc}") from None

    def load_spec(self) -> Load:
        """The load as an engine.base Closed / Open / Stages."""
        return load_from_json(self.load)


@dataclass(frozen=True, slots=True, kw_only=True)
class Results:
    """A whole results file: its header, its complete trials in file order, and reader warnings."""

    header: ResultsHeader
    trials: tuple[TrialResult, ...]
    warnings: tuple[str, ...] = ()
    path: Path | None = None


# -- building records ------------------------------------------------------------------------------------

_IDENTITY_KEYS = frozenset({
    "kind", "trial_id", "index", "model", "server_model", "family", "server_options", "variant",
    "workload", "requests_spec", "load", "load_label", "repetition", "round", "started", "cpus",
})


def make_header(
    *,
    scenario_name: str,
    scenario_path: str | os.PathLike[str] | None = None,
    scenario_text: str | None = None,
    thresholds: Sequence[str] = (),
    env: Mapping[str, Any] | None = None,
    created: datetime | str | None = None,
    quick: bool = False,
) -> ResultsHeader:
    """The header of a new run; `created` defaults to now (UTC), sha256 is that of `scenario_text`.

    `quick` records that `--quick` shortened every duration (a smoke run, not a measurement to quote).
    """
    if created is None:
        created = datetime.now(UTC)
    sha = hashlib.sha256(scenario_text.encode("utf-8")).hexdigest() if scenario_text is not None else None
    scenario = {"name": scenario_name, "path": None if scenario_path is None else os.fspath(scenario_path),
                "sha256": sha, "text": scenario_text, "thresholds": list(thresholds), "quick": quick}
    return ResultsHeader(created=_timestamp(created), scenario=scenario, env=dict(env or {}))


def _timestamp(value: datetime | str) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value


def _identity(
    *, trial_id: str, index: int, model: str, server_model: str, family: str,
    server_options: Mapping[str, Any], variant: str | None, workload: str,
    requests_spec: Sequence[RequestSpec | Mapping[str, Any]], load: Load | Mapping[str, Any],
    repetition: int, round: int, started: datetime | str, cpus: Mapping[str, Sequence[int]] | None,
) -> JsonDict:
    load_json = dict(load) if isinstance(load, Mapping) else load_to_json(load)
    label = load_from_json(load_json).label
    return {
        "kind": "trial", "trial_id": trial_id, "index": index, "model": model, "server_model": server_model,
        "family": family, "server_options": dict(server_options), "variant": variant, "workload": workload,
        "requests_spec": [request_spec_to_json(s) for s in requests_spec], "load": load_json,
        "load_label": label, "repetition": repetition, "round": round, "started": _timestamp(started),
        "cpus": None if cpus is None else {k: list(v) for k, v in cpus.items()},
    }


def make_trial_result(
    record: Mapping[str, Any],
    *,
    monitor: MonitorSummary | None = None,
    trial_id: str, index: int, model: str, server_model: str, family: str,
    server_options: Mapping[str, Any], variant: str | None, workload: str,
    requests_spec: Sequence[RequestSpec | Mapping[str, Any]], load: Load | Mapping[str, Any],
    repetition: int, round: int, started: datetime | str, cpus: Mapping[str, Sequence[int]] | None,
) -> TrialResult:
    """Combine the trial's identity, the engine's `Recording.to_record()` and the monitor's summary.

    Identity arguments win over same-named record keys; the engine's own `client_cpu_pct` wins over the
    monitor's. Non-finite figures in the record become null. Keys this version does not know land in
    `extra`. Raises ResultsFormatError when the combination would not read back.
    """
    data: JsonDict = {k: v for k, v in scrub_nonfinite(record).items() if k not in _IDENTITY_KEYS}
    for key, value in (monitor.to_record() if monitor else {}).items():
        if key == "client_cpu_pct" and data.get(key) is not None:
            continue
        data[key] = value
    data.update(_identity(
        trial_id=trial_id, index=index, model=model, server_model=server_model, family=family,
        server_options=server_options, variant=variant, workload=workload, requests_spec=requests_spec,
        load=load, repetition=repetition, round=round, started=started, cpus=cpus,
    ))
    return TrialResult.from_json(data, where=f"trial {trial_id!r}")


def failed_trial_result(
    *,
    reason: str,
    log_tail: str = "",
    monitor: MonitorSummary | None = None,
    trial_id: str, index: int, model: str, server_model: str, family: str,
    server_options: Mapping[str, Any], variant: str | None, workload: str,
    requests_spec: Sequence[RequestSpec | Mapping[str, Any]], load: Load | Mapping[str, Any],
    repetition: int, round: int, started: datetime | str, cpus: Mapping[str, Sequence[int]] | None,
) -> TrialResult:
    """A trial whose server failed to start or died: status_ok false, `failure` says why, counts are zero."""
    data: JsonDict = {
        "status_ok": False, "failure": {"reason": reason, "log_tail": log_tail},
        "duration_s": 0.0, "requests": 0, "rps": 0.0, "engine": "",
    }
    data.update(monitor.to_record() if monitor else {})
    data.update(_identity(
        trial_id=trial_id, index=index, model=model, server_model=server_model, family=family,
        server_options=server_options, variant=variant, workload=workload, requests_spec=requests_spec,
        load=load, repetition=repetition, round=round, started=started, cpus=cpus,
    ))
    return TrialResult.from_json(data, where=f"trial {trial_id!r}")


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


def default_run_dir(scenario_name: str, now: datetime | None = None, *, root: str | Path = "reports") -> Path:
    """`reports/<scenario>-<YYYYmmdd-HHMMSS>/` (local time); characters unsafe in a file name become '-'."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", scenario_name).strip("-.") or "run"
    return Path(root) / f"{safe}-{stamp}"


# -- writing ---------------------------------------------------------------------------------------------


class ResultsWriter:
    """Append-only writer: the header at open, then one fsynced line per `append(trial)`.

    Use as a context manager (or call open() / close()). Parent directories are created. An existing
    file is refused unless `overwrite=True`, so a rerun never silently destroys measurements.
    """

    def __init__(
        self, path: str | os.PathLike[str], header: ResultsHeader, *, overwrite: bool = False
    ) -> None:
        self.path = Path(path)
        self.header = header
        self.overwrite = overwrite
        self.trials_written = 0
        self._fd: int | None = None

    def open(self) -> ResultsWriter:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if self.overwrite else os.O_EXCL)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, flags, 0o644)
        except FileExistsError:
            raise LoadbenchError(
                f"{self.path} already exists; choose another --out directory or remove the file"
            ) from None
        except OSError as exc:
            raise LoadbenchError(
                f"cannot write results to {self.path}: {exc.strerror or exc}; choose another --out directory"
            ) from None
        self._write(dumps_line(self.header.to_json()))
        # The directory entry must be durable too, or a crash could lose the whole new file.
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return self

    def append(self, trial: TrialResult) -> None:
        """Write one trial line, flushed to disk before returning."""
        try:
            line = dumps_line(trial.to_json())
        except ResultsFormatError as exc:
            raise ResultsFormatError(f"{self.path}: trial {trial.trial_id!r}: {exc}") from None
        self._write(line)
        self.trials_written += 1

    def _write(self, line: str) -> None:
        if self._fd is None:
            raise LoadbenchError(f"{self.path}: ResultsWriter is not open; use it in a `with` block")
        data = (line + "\n").encode("ascii")
        start = os.lseek(self._fd, 0, os.SEEK_END)
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except BaseException:
            os.ftruncate(self._fd, start)  # never leave a half line for the next append to follow
            raise
        # The line is whole on disk from here: an interrupt during fsync must not take it back.
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ResultsWriter:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# -- reading ---------------------------------------------------------------------------------------------


def read_results(path: str | os.PathLike[str]) -> Results:
    """Read and validate a results file (or a single `loadbench bench --json` object).

    A truncated last line (a killed run) is skipped with a warning; any other damage, an unknown format
    or version, raises ResultsFormatError with the file, the line and the key.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ResultsFormatError(f"{path}: cannot read results file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text: {exc.reason}"
        raise ResultsFormatError(f"{path}: not a loadbench results file ({reason})") from None
    if not text.strip():
        raise ResultsFormatError(f"{path}: file is empty; a results file starts with a header line")
    lines = text.split("\n")
    try:
        first = json.loads(lines[0])
    except (ValueError, RecursionError):
        first = None
    if not isinstance(first, dict):
        return _read_single_object(path, text)
    if "format" not in first and "model" in first and "requests" in first:
        return _read_lines(path, lines, 1, _bench_header(path))
    header = _check_header(path, first)
    return _read_lines(path, lines, 2, header)


def _check_header(path: Path, data: Mapping[str, Any]) -> ResultsHeader:
    fmt = data.get("format")
    if fmt != RESULTS_FORMAT:
        raise ResultsFormatError(
            f"{path}:1: not a loadbench results file (format is {describe(fmt)}, expected {RESULTS_FORMAT!r})"
        )
    version = data.get("version")
    if version not in SUPPORTED_VERSIONS or isinstance(version, bool):
        supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
        raise ResultsFormatError(
            f"{path}:1: results format version {describe(version)} is not supported by loadbench "
            f"{__version__} (it reads version {supported}); upgrade loadbench to read this file"
        )
    return ResultsHeader.from_json(data, where=f"{path}:1")


def _bench_header(path: Path) -> ResultsHeader:
    scenario: JsonDict = {"name": "bench", "path": None, "sha256": None, "text": None, "thresholds": []}
    created = datetime.fromtimestamp(path.stat().st_mtime).astimezone()
    return ResultsHeader(created=_timestamp(created), scenario=scenario, env={})


def _read_single_object(path: Path, text: str) -> Results:
    """A pretty-printed `bench --json` object spans many lines; anything else is not results."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        reason = f"line 1 is not JSON: {exc.msg}"
        raise ResultsFormatError(f"{path}: not a loadbench results file ({reason})") from None
    except (ValueError, RecursionError) as exc:
        raise ResultsFormatError(f"{path}: not a loadbench results file ({_json_limit(exc)})") from None
    if not (isinstance(data, dict) and "model" in data and "requests" in data):
        raise ResultsFormatError(f"{path}: not a loadbench results file (no header line, no trial object)")
    trial = TrialResult.from_json(data, where=str(path))
    return Results(header=_bench_header(path), trials=(trial,), path=path)


def _read_lines(path: Path, lines: list[str], first_number: int, header: ResultsHeader) -> Results:
    trials: list[TrialResult] = []
    warnings: list[str] = []
    numbered = [(n, line) for n, line in enumerate(lines[first_number - 1:], first_number) if line.strip()]
    for position, (number, line) in enumerate(numbered):
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            if position == len(numbered) - 1:
                warnings.append(f"{path}: line {number} is incomplete (the run was probably killed); skipped")
                break
            raise ResultsFormatError(
                f"{path}:{number}: line is not valid JSON ({exc.msg} at column {exc.colno}); "
                "the file was damaged or edited"
            ) from None
        except (ValueError, RecursionError) as exc:
            raise ResultsFormatError(
                f"{path}:{number}: line cannot be read ({_json_limit(exc)}); the file was damaged or edited"
            ) from None
        if isinstance(data, dict) and data.get("kind", "trial") != "trial":
            kind = describe(data["kind"])
            warnings.append(f"{path}:{number}: record kind {kind} is unknown to this loadbench; skipped")
            continue
        trials.append(TrialResult.from_json(data, where=f"{path}:{number}"))
    return Results(header=header, trials=tuple(trials), warnings=tuple(warnings), path=path)


def _json_limit(exc: ValueError | RecursionError) -> str:
    """Why valid-looking JSON could not be read: Python's nesting or integer-digit limits."""
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    return str(exc).split(";")[0]  # "Exceeds the limit (4300 digits) for integer string conversion..."
