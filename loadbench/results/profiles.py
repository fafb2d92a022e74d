"""Profile records: one sampled profile of a server under load, stored in results.jsonl as `kind: "profile"`.

A profile line sits beside the trial lines of the same file (docs/results-format.md), so `loadbench report`
rebuilds the profile section from the file alone. It is never a measurement: the gate, the medians and the
per-trial table read trial lines only. Readers from before profiles skip the line with a warning (they
skip every unknown `kind`).

The stacks are collapsed ("root;…;leaf" → samples, the format of Brendan Gregg's flamegraph.pl and of
`py-spy record --format raw`), most frequent first, and bounded: at most MAX_STACKS stacks, MAX_FRAMES
frames a stack, MAX_FRAME_CHARS characters a frame and MAX_STACK_CHARS characters in all; whatever does
not fit is counted in `dropped_samples`, so the shares still add up to the samples taken.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loadbench.errors import ResultsFormatError
from loadbench.results.codec import describe, from_json, to_json
from loadbench.results.records import LoadRecord

if TYPE_CHECKING:
    from loadbench.results.build import TrialIdentity

__all__ = [
    "MAX_FRAMES",
    "MAX_FRAME_CHARS",
    "MAX_STACKS",
    "MAX_STACK_CHARS",
    "PROFILE_KIND",
    "ProfileRecord",
    "Sampler",
    "bound_stacks",
    "profile_record",
    "split_stack",
]

PROFILE_KIND = "profile"
MAX_STACKS = 2_000
MAX_FRAMES = 96
MAX_FRAME_CHARS = 200
MAX_STACK_CHARS = 400_000  # about 400 kB of JSON a profile at most; a typical one is 10-60 kB
ELIDED_FRAME = "[… frames elided]"
SEPARATOR = ";"


@dataclass(frozen=True, slots=True, kw_only=True)
class Sampler:
    """How a profile was sampled: the tool and its settings (a JSON object in the record)."""

    tool: str = "py-spy"
    version: str = ""
    rate_hz: int = 100
    idle: bool = False  # True: threads waiting in accept/read/locks were sampled too (wall-clock profile)
    native: bool = False  # True: C frames (uvloop, httptools) unwound too
    nonblocking: bool = True  # True: the server was read without being paused at each sample
    subprocesses: bool = True
    cpus: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["cpus"] = list(self.cpus)
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileRecord:
    """One model's profile at one load point of one workload (one line of kind "profile").

    `profiled` is False when no profile could be taken, and `reason` says why in one sentence (a model
    whose workers are not CPython, py-spy missing, ptrace refused). `stacks` holds [collapsed stack,
    samples] pairs, most samples first; `samples` counts every sample taken, `dropped_samples` those whose
    stacks were left out to bound the record. `sampler_cpu_s`/`sampler_cpu_pct` are the profiler's own CPU
    (seconds; % of one core over `duration_s`), spent on the client CPUs. `rps` and `requests` are what
    the profiled trial served: context for the profile, never a measurement.
    """

    kind: str = PROFILE_KIND
    trial_id: str
    model: str
    server_model: str = ""
    family: str = ""
    variant: str | None = None
    workload: str
    load: LoadRecord
    load_label: str = ""
    started: str = ""
    profiled: bool
    reason: str = ""
    sampler: Mapping[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    samples: int = 0
    dropped_samples: int = 0
    sampler_cpu_s: float | None = None
    sampler_cpu_pct: float | None = None
    requests: int = 0
    rps: float | None = None
    processes: int = 0
    stacks: tuple[tuple[str | int, ...], ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this profile line."""
        data = to_json(self)
        data["stacks"] = [[stack, count] for stack, count in self.stack_counts()]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, where: str = "profile") -> ProfileRecord:
        """Validate one profile object; ResultsFormatError names `where` and the key."""
        record: ProfileRecord = from_json(cls, data, where)
        if record.kind != PROFILE_KIND:
            kind = describe(record.kind)
            raise ResultsFormatError(f"{where}: key 'kind' must be {PROFILE_KIND!r}, got {kind}")
        for position, pair in enumerate(record.stacks):
            if (len(pair) != 2 or not isinstance(pair[0], str) or isinstance(pair[1], bool)
                    or not isinstance(pair[1], int) or pair[1] < 0):
                raise ResultsFormatError(
                    f"{where}: key 'stacks' item {position} must be [\"frame;frame;…\", samples], "
                    f"got {describe(pair)}"
                )
        return dataclasses.replace(record, stacks=tuple((str(s), int(c)) for s, c in record.stacks))

    def stack_counts(self) -> list[tuple[str, int]]:
        """The stacks as (collapsed stack, samples) pairs."""
        return [(str(stack), int(count)) for stack, count in self.stacks]


def split_stack(stack: str) -> list[str]:
    """The frames of a collapsed stack, root first."""
    return [frame for frame in stack.split(SEPARATOR) if frame]


def _bound_frames(frames: list[str]) -> list[str]:
    frames = [f if len(f) <= MAX_FRAME_CHARS else f[: MAX_FRAME_CHARS - 1] + "…" for f in frames]
    if len(frames) > MAX_FRAMES:
        keep_root = MAX_FRAMES // 3
        keep_leaf = MAX_FRAMES - keep_root - 1
        frames = [*frames[:keep_root], ELIDED_FRAME, *frames[-keep_leaf:]]
    return frames


def bound_stacks(counts: Mapping[str, int] | Iterable[tuple[str, int]]) -> tuple[list[tuple[str, int]], int]:
    """Bound collapsed stacks for storage (see the module docstring): (stacks kept, samples dropped).

    Frames containing the separator are impossible in the collapsed format; a stray ';' inside a frame
    name would split it, which is what flamegraph.pl does too. Stacks that become equal after bounding
    are merged.
    """
    pairs = counts.items() if isinstance(counts, Mapping) else counts
    merged: dict[str, int] = {}
    for stack, count in pairs:
        if count <= 0:
            continue
        key = SEPARATOR.join(_bound_frames(split_stack(stack)))
        if key:
            merged[key] = merged.get(key, 0) + int(count)
    ordered = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
    kept: list[tuple[str, int]] = []
    dropped = 0
    chars = 0
    for stack, count in ordered:
        if len(kept) >= MAX_STACKS or chars + len(stack) > MAX_STACK_CHARS:
            dropped += count
            continue
        kept.append((stack, count))
        chars += len(stack)
    return kept, dropped


def profile_record(
    identity: TrialIdentity, *, reason: str = "", sampler: Sampler | None = None,
    stacks: Mapping[str, int] | None = None, duration_s: float = 0.0, sampler_cpu_s: float | None = None,
    requests: int = 0, rps: float | None = None, processes: int = 0,
) -> ProfileRecord:  # fmt: skip
    """The profile line of one trial: profiled when `stacks` holds samples, else not, for `reason`.

    The stacks are bounded here (bound_stacks); the trial id gets a "|profile" suffix so it never equals
    a measured trial's id. Raises ResultsFormatError when the record would not read back.
    """
    kept, dropped = bound_stacks(stacks or {})
    samples = sum(count for _, count in kept) + dropped
    profiled = samples > 0
    base = identity.to_json()
    cpu_pct = None
    if sampler_cpu_s is not None and duration_s > 0:
        cpu_pct = round(100.0 * sampler_cpu_s / duration_s, 2)
    data: dict[str, Any] = {
        "kind": PROFILE_KIND, "trial_id": f"{identity.trial_id}|profile", "model": identity.model,
        "server_model": identity.server_model, "family": identity.family, "variant": identity.variant,
        "workload": identity.workload, "load": base["load"], "load_label": base["load_label"],
        "started": base["started"], "profiled": profiled,
        "reason": "" if profiled else (reason or "no samples were taken"),
        "sampler": sampler.to_json() if sampler is not None else {}, "duration_s": round(duration_s, 3),
        "samples": samples, "dropped_samples": dropped,
        "sampler_cpu_s": None if sampler_cpu_s is None else round(sampler_cpu_s, 3),
        "sampler_cpu_pct": cpu_pct, "requests": requests,
        "rps": None if rps is None or rps != rps else round(rps, 1), "processes": processes,
        "stacks": [[stack, count] for stack, count in kept],
    }  # fmt: skip
    return ProfileRecord.from_json(data, where=f"profile {data['trial_id']!r}")
