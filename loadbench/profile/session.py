"""One run's profiling: py-spy found once, one profile record per profiled trial, off for good on a refusal.

A model whose workers are not CPython processes gets a record saying so (its `unprofiled_reason`); when
py-spy is missing or the kernel refuses it ptrace, the session turns itself off with one line saying why,
and every later profile record carries that reason, so the report says plainly what was not profiled.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loadbench.profile.pyspy import DEFAULT_RATE_HZ, PySpyRecording, find_pyspy, pyspy_version
from loadbench.results.profiles import ProfileRecord, Sampler, profile_record

if TYPE_CHECKING:
    from loadbench.results.build import TrialIdentity

__all__ = ["NOT_INSTALLED", "DriveFacts", "ProfileSession"]

NOT_INSTALLED = "py-spy is not installed; install it with: pip install 'loadbench[profile]'"


@dataclass(frozen=True, slots=True, kw_only=True)
class DriveFacts:
    """What the profiled trial served (context for the profile, not a measurement)."""

    requests: int
    rps: float | None
    processes: int


class ProfileSession:
    """Profiles for one run (see the module docstring); `off_reason` is set once profiling cannot run."""

    def __init__(self, *, run_dir: Path, cpus: tuple[int, ...] | None, rate_hz: int = DEFAULT_RATE_HZ,
                 exe: str | None = None) -> None:  # fmt: skip
        self.run_dir = run_dir
        self.cpus = cpus
        self.rate_hz = rate_hz
        self.exe = exe if exe is not None else find_pyspy()
        self.off_reason: str | None = None if self.exe else NOT_INSTALLED
        self.version = pyspy_version(self.exe) if self.exe else ""

    def sampler(self) -> Sampler:
        """How this session samples (stored in every record)."""
        return Sampler(version=self.version, rate_hz=self.rate_hz, cpus=tuple(self.cpus or ()))

    def profile(
        self, identity: TrialIdentity, pid: int, *, unprofiled_reason: str | None,
        drive: Callable[[], DriveFacts],
    ) -> tuple[ProfileRecord, str | None]:  # fmt: skip
        """Run `drive` with py-spy recording the process tree of `pid`: the record, and a one-line warning
        when profiling failed (None otherwise). Without a profile to take, `drive` is not called."""
        if unprofiled_reason or self.off_reason:
            reason = unprofiled_reason or self.off_reason or ""
            return profile_record(identity, reason=reason, sampler=self.sampler()), None
        assert self.exe is not None
        name = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in identity.trial_id)
        recording = PySpyRecording.start(self.exe, pid, out_path=self.run_dir / "profiles" / f"{name}.txt",
                                         cpus=self.cpus, rate_hz=self.rate_hz)  # fmt: skip
        facts = DriveFacts(requests=0, rps=None, processes=0)
        try:
            facts = drive()
        finally:
            capture = recording.finish()
        warning = None
        reason = ""
        if capture.error:
            if capture.refused:
                self.off_reason = (
                    f"the kernel refused py-spy access to the server's processes ({capture.error}); "
                    "run as root, give py-spy CAP_SYS_PTRACE, or set kernel.yama.ptrace_scope to 0"
                )
                reason = self.off_reason
                warning = f"profiling is off for this run: {self.off_reason}"
            else:
                reason = f"py-spy failed: {capture.error}"
                warning = f"no profile of {identity.trial_id}: {reason}"
        rps = facts.rps if facts.rps is not None and math.isfinite(facts.rps) else None
        record = profile_record(
            identity, reason=reason, sampler=self.sampler(), stacks=capture.stacks,
            duration_s=capture.duration_s, sampler_cpu_s=capture.cpu_s, requests=facts.requests, rps=rps,
            processes=facts.processes,
        )  # fmt: skip
        return record, warning
