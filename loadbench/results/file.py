"""results.jsonl on disk: append one flushed line per trial; read it back, tolerating a truncated last line.

`ResultsWriter` writes the header at open and fsyncs after every trial, so a kill -9 loses at most the
trial in flight; `read_results` skips such a truncated last line with a warning and raises
ResultsFormatError (file, line, key) for any other damage. The records themselves, and how they are
built, live in loadbench.results.records; the format is specified in docs/results-format.md.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from loadbench import __version__
from loadbench.errors import LoadbenchError, OutputError, ResultsFormatError
from loadbench.results.claims import CLAIM_KIND, ClaimRecord
from loadbench.results.codec import describe, dumps_line
from loadbench.results.profiles import PROFILE_KIND, ProfileRecord
from loadbench.results.records import RESULTS_FORMAT, SUPPORTED_VERSIONS, Results, ResultsHeader, TrialResult
from loadbench.safe.limits import MAX_RESULTS_FILE_BYTES, MAX_RESULTS_LINE_BYTES
from loadbench.safe.write import output_error

__all__ = ["ResultsWriter", "create_run_dir", "default_run_dir", "read_results"]

JsonDict = dict[str, Any]


def default_run_dir(scenario_name: str, now: datetime | None = None, *, root: str | Path = "reports") -> Path:
    """`reports/<scenario>-<YYYYmmdd-HHMMSS>/` (local time); characters unsafe in a file name become '-'."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", scenario_name).strip("-.") or "run"
    return Path(root) / f"{safe}-{stamp}"


def create_run_dir(scenario_name: str, now: datetime | None = None, *, root: str | Path = "reports") -> Path:
    """Create and return a run directory no other run has: default_run_dir's name, or that name with
    `-2`, `-3`, ... when it is taken.

    Each candidate is claimed with mkdir, which is atomic: of two runs started in the same second, one
    gets the plain name and the other the next suffix, never the same directory (before, both were given
    the same name, and the second failed on the first's results.jsonl or mixed its logs into it).
    """
    base = default_run_dir(scenario_name, now, root=root)
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, base.parent, "run directory") from None
    for number in range(1, 1000):
        candidate = base if number == 1 else base.with_name(f"{base.name}-{number}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise output_error(exc, candidate, "run directory") from None
        return candidate
    raise LoadbenchError(f"{base}: 999 runs already use this name and second; choose a directory with --out")


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
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        flags |= os.O_TRUNC if self.overwrite else os.O_EXCL
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

    def append_profile(self, profile: ProfileRecord) -> None:
        """Write one profile line (never counted as a trial), flushed to disk before returning."""
        try:
            line = dumps_line(profile.to_json())
        except ResultsFormatError as exc:
            raise ResultsFormatError(f"{self.path}: profile {profile.trial_id!r}: {exc}") from None
        self._write(line)

    def append_claim(self, claim: ClaimRecord) -> None:
        """Write one claim line (never counted as a trial), flushed to disk before returning."""
        try:
            line = dumps_line(claim.to_json())
        except ResultsFormatError as exc:
            what = f"{claim.workload} {claim.load_label}"
            raise ResultsFormatError(f"{self.path}: claim {what}: {exc}") from None
        self._write(line)

    def _write(self, line: str) -> None:
        if self._fd is None:
            raise LoadbenchError(f"{self.path}: ResultsWriter is not open; use it in a `with` block")
        data = (line + "\n").encode("ascii")
        start = os.lseek(self._fd, 0, os.SEEK_END)
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except BaseException as exc:
            os.ftruncate(self._fd, start)  # never leave a half line for the next append to follow
            if isinstance(exc, OSError):  # a full or read-only disk: one line, and what is kept
                kept = f"the {self.trials_written} trial(s) written before it are kept"
                raise OutputError(f"{output_error(exc, self.path, 'results')} ({kept})") from None
            raise
        # The line is whole on disk from here: an interrupt during fsync must not take it back.
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise output_error(exc, self.path, "results") from None

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
        text = _read_capped(path).decode("utf-8")
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


def _read_capped(path: Path) -> bytes:
    """The file's bytes, read in chunks under both size limits, so /dev/zero, a FIFO that never ends or a
    runaway file stops at the first limit it reaches instead of filling memory."""
    chunks: list[bytes] = []
    total = line_start = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            first, last = chunk.find(b"\n"), chunk.rfind(b"\n")
            # the line running on from earlier chunks, up to its end here or to the end of this chunk
            running = (first if first >= 0 else len(chunk)) + total - line_start
            chunks.append(chunk)
            if last >= 0:
                line_start = total + last + 1
            total += len(chunk)
            if running > MAX_RESULTS_LINE_BYTES:
                number = sum(c.count(b"\n") for c in chunks[:-1]) + 1
                limit = f"{MAX_RESULTS_LINE_BYTES // 2**20} MiB"
                raise ResultsFormatError(
                    f"{path}:{number}: line is longer than the limit of {limit}; the file was damaged or is "
                    "not loadbench results"
                )
            if total > MAX_RESULTS_FILE_BYTES:
                raise ResultsFormatError(
                    f"{path}: larger than the limit of {MAX_RESULTS_FILE_BYTES // 2**30} GiB for a results "
                    "file; split the run or filter the file (e.g. with jq) before reading it"
                )
    return b"".join(chunks)


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
    return ResultsHeader(created=created.isoformat(timespec="seconds"), scenario=scenario, env={})


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
    profiles: list[ProfileRecord] = []
    claims: list[ClaimRecord] = []
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
        if isinstance(data, dict) and data.get("kind") == PROFILE_KIND:
            profiles.append(ProfileRecord.from_json(data, where=f"{path}:{number}"))
            continue
        if isinstance(data, dict) and data.get("kind") == CLAIM_KIND:
            claim = ClaimRecord.from_json(data, where=f"{path}:{number}")
            if first_number > 1:  # a real header: every claim must be of its run, like every trial
                _refuse_other_run(path, number, header, claim.run_id, claim.scenario_sha256,
                                  f"claim {claim.workload} {claim.load_label}")  # fmt: skip
            claims.append(claim)
            continue
        if isinstance(data, dict) and data.get("kind", "trial") != "trial":
            kind = describe(data["kind"])
            warnings.append(f"{path}:{number}: record kind {kind} is unknown to this loadbench; skipped")
            continue
        trial = TrialResult.from_json(data, where=f"{path}:{number}")
        if first_number > 1:  # a real header: every trial must be of its run
            _refuse_other_run(path, number, header, trial.run_id, trial.scenario_sha256,
                              f"trial {trial.trial_id!r}")  # fmt: skip
        trials.append(trial)
    return Results(header=header, trials=tuple(trials), warnings=tuple(warnings), path=path,
                   profiles=tuple(profiles), claims=tuple(claims))


def _refuse_other_run(path: Path, number: int, header: ResultsHeader, run_id: str | None,
                      scenario_sha256: str | None, line: str) -> None:  # fmt: skip
    """Raise ResultsFormatError when line `number` (a trial or a claim, named by `line`) is of another run
    or scenario than the header.

    `loadbench run` stamps every trial and claim with the header's `run_id` and scenario sha256
    (runner._Sink), so a line appended from any other run names a run (or scenario) the header does not.
    A line without a run id (older files, hand-built records) cannot be placed and is accepted. A file
    mixing runs would let another scenario's trials or claims count as this one's in a report, a
    threshold check or a comparison.
    """
    header_sha = header.scenario.get("sha256")
    other_scenario = (scenario_sha256 is not None and header_sha is not None
                      and scenario_sha256 != header_sha)  # fmt: skip
    if (run_id is None or run_id == header.run_id) and not other_scenario:
        return
    name = header.scenario.get("name")
    if other_scenario:
        what = (f"of another scenario (sha256 {str(scenario_sha256)[:12]}…; the header's scenario "
                f"{name!r} has {str(header_sha)[:12]}…)")  # fmt: skip
    else:
        own = header.run_id or "not recorded, an older file"
        what = f"of another run ({run_id}; the header's run of {name!r}: {own})"
    raise ResultsFormatError(
        f"{path}:{number}: {line} is {what}; a results file holds one run: move the "
        f"appended lines into a file of their own (after its own header line), or rerun into a fresh --out"
    )


def _json_limit(exc: ValueError | RecursionError) -> str:
    """Why valid-looking JSON could not be read: Python's nesting or integer-digit limits."""
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    return str(exc).split(";")[0]  # "Exceeds the limit (4300 digits) for integer string conversion..."
