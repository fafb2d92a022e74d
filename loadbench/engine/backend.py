"""The engine-backend seam: what every load engine takes, what it gives back, and how it says it can't run.

A backend turns (target, requests, load, options) into measurements. It returns one `Recording` per
workload: the native engine measures the one workload it was given; a Locust run yields one per request
name (known only after the run) plus the whole journey. `extras` are the backend's own facts kept in
every result it produced (a latency rounding precision, a negotiated HTTP version, worker counts).
Backends are registered by name in loadbench.plugins.ENGINE_BACKENDS and loaded by engine.registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from loadbench.results.metrics import Recording, TickInfo
    from loadbench.types import DriveOptions, Load, RequestSpec, Target

__all__ = ["Backend", "BackendResult", "TickSink"]

# Called about once a second with the progress; returning True asks the engine to end the run now (the
# trial is kept, marked aborted; --abort-on-fail). Backends that cannot stop early ignore it.
TickSink = Callable[["TickInfo"], "bool | None"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BackendResult:
    """What one backend run measured: a Recording per workload name, in the order to report them, and
    the backend's extras (JSON-able values, kept under `backend_extras` in each trial record)."""

    recordings: Mapping[str, Recording]
    extras: Mapping[str, Any] = field(default_factory=dict)

    def only(self) -> Recording:
        """The single recording of a one-workload run (ValueError otherwise)."""
        if len(self.recordings) != 1:
            names = ", ".join(self.recordings)
            raise ValueError(f"expected one workload, got {len(self.recordings)}: {names}")
        return next(iter(self.recordings.values()))


class Backend(Protocol):
    """A load engine, made from its own settings (a mapping; the registry passes them to the class).

    `available()` says why it cannot run here (and how to fix it), or None.

    `drive` must return on time (warm-up + duration + timeout at most, plus start-up), stop every process
    it started, and never aim at a target the caller has not already checked (engine.run_backend refuses
    non-loopback targets before any backend is called). `workload` names the measurement when the
    backend cannot tell workloads apart itself; `on_tick` gets progress about once a second, and
    `WINDOW_OPENS` (phase "window") the moment the measured window opens, where the backend knows it: the
    runner then starts its server figures (CPU per request) with the engine's window instead of by a timer.
    """

    name: str
    description: str

    def available(self) -> str | None: ...

    def drive(
        self, target: Target, requests: Sequence[RequestSpec], load: Load, options: DriveOptions, *,
        workload: str, on_tick: TickSink | None = None,
    ) -> BackendResult: ...  # fmt: skip
