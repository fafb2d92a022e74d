"""Load shapes: how hard a run drives its target. Each shape is one frozen class that knows itself.

A shape knows the loop that drives it (closed: each connection sends its next request when the last
completes; open: sends are scheduled at a rate), its label, its JSON form in result records, how it
splits across engine processes, what makes it invalid, the value it is plotted and ordered by, and its
schedule over the measured window. Nothing else switches on the shape: a new shape is one class here
plus its entry in SHAPES. Durations are seconds, rates requests per second.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

from loadbench.errors import UsageError

__all__ = [
    "SHAPES",
    "ArrivalProcess",
    "Closed",
    "Load",
    "LoadShape",
    "Loop",
    "Open",
    "Stage",
    "Stages",
    "shape_from_json",
    "split_count",
]

ArrivalProcess = Literal["uniform", "poisson"]
Loop = Literal["closed", "open"]


def split_count(total: int, parts: int) -> list[int]:
    """Split `total` into `parts` near-equal whole shares (the first ones get the remainder)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Stage:
    """Ramp linearly from the previous stage's target (0 for the first) to `target` over `duration_s`."""

    duration_s: float
    target: float


class LoadShape(ABC):
    """What every load shape answers; subclasses are frozen slots dataclasses listed in SHAPES.

    `json_kind` is the "kind" of the shape's JSON form (docs/results-format.md), the key from_json is
    looked up by.
    """

    __slots__ = ()
    json_kind: ClassVar[str]

    @property
    @abstractmethod
    def loop(self) -> Loop:
        """"closed" (connections send back to back) or "open" (sends scheduled at a rate)."""

    @property
    @abstractmethod
    def label(self) -> str:
        """Short text naming the load point, like 64c or 2k/s (in trial ids and reports)."""

    @abstractmethod
    def describe(self) -> str:
        """One phrase for the `bench` summary, like "64 connections, closed loop"."""

    @classmethod
    @abstractmethod
    def describe_points(cls, points: Sequence[LoadShape]) -> str:
        """One phrase for a scenario's load points of this shape, like "closed loop at 1, 64 connections"."""

    @property
    def arrival(self) -> ArrivalProcess:
        """How open-loop sends are spaced in time; a closed loop sends as responses come back."""
        return "uniform"

    @property
    @abstractmethod
    def connection_limit(self) -> int:
        """The most connections the engine may hold open at once (its file descriptor budget)."""

    @property
    def own_duration_s(self) -> float | None:
        """The measured window's length when the shape sets it (stages), else None: the run's applies."""
        return None

    def shortened(self, max_duration_s: float) -> Self:
        """A copy for smoke runs whose own duration, if it sets one, is at most `max_duration_s`."""
        return self

    @property
    @abstractmethod
    def plot_value(self) -> float:
        """The number a load point is ordered and plotted by: connections, or requests per second."""

    @property
    def mean_rate_per_s(self) -> float | None:
        """The mean rate asked over the measured window (None for a closed loop)."""
        return None

    @abstractmethod
    def schedule(self, duration_s: float) -> tuple[Stage, ...]:
        """The measured window as ramps from 0 (see Stage): targets are rates for an open loop and
        connection counts for a closed one; `duration_s` is the window when the shape does not set it."""

    @abstractmethod
    def validate(self) -> None:
        """Raise UsageError naming the first value the engine cannot run."""

    @abstractmethod
    def split(self, parts: int) -> list[Self]:
        """Each of `parts` engine processes' share, adding up to the whole."""

    def max_processes(self, wanted: int) -> int:
        """How many of `wanted` engine processes get a useful share (each needs at least one connection)."""
        return wanted

    @abstractmethod
    def to_json(self) -> dict[str, object]:
        """The JSON form used in result records (docs/results-format.md)."""

    @classmethod
    @abstractmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Inverse of to_json; raises KeyError/ValueError/TypeError on a malformed dict."""


Load = LoadShape


@dataclass(frozen=True, slots=True, kw_only=True)
class Closed(LoadShape):
    """Closed loop: `connections` connections, each sends its next request when the last completes."""

    json_kind: ClassVar[str] = "closed"
    connections: int

    @property
    def loop(self) -> Loop:
        return "closed"

    @property
    def label(self) -> str:
        return f"{self.connections}c"

    def describe(self) -> str:
        return f"{self.connections} connections, closed loop"

    @classmethod
    def describe_points(cls, points: Sequence[LoadShape]) -> str:
        counts = ", ".join(str(point.connections) for point in points if isinstance(point, Closed))
        return f"closed loop at {counts} connections"

    @property
    def connection_limit(self) -> int:
        return self.connections

    @property
    def plot_value(self) -> float:
        return float(self.connections)

    def schedule(self, duration_s: float) -> tuple[Stage, ...]:
        return (Stage(duration_s=0.0, target=float(self.connections)),)

    def validate(self) -> None:
        if self.connections < 1:
            raise UsageError(f"connections: {self.connections} must be at least 1")

    def split(self, parts: int) -> list[Self]:
        return [dataclasses.replace(self, connections=n) for n in split_count(self.connections, parts)]

    def max_processes(self, wanted: int) -> int:
        return max(1, min(wanted, self.connections))

    def to_json(self) -> dict[str, object]:
        return {"kind": "closed", "connections": self.connections}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(connections=int(data["connections"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class Open(LoadShape):
    """Open loop: requests scheduled at `rate_per_s`; latency counts from each scheduled send time.

    When no connection is free a new one opens, up to `max_connections`; beyond that the request is
    dropped and counted as dropped.
    """

    json_kind: ClassVar[str] = "open"
    rate_per_s: float
    arrival: ArrivalProcess = "uniform"
    max_connections: int = 1024

    @property
    def loop(self) -> Loop:
        return "open"

    @property
    def label(self) -> str:
        rate = self.rate_per_s
        return f"{rate / 1000:g}k/s" if rate >= 1000 and rate % 100 == 0 else f"{rate:g}/s"

    def describe(self) -> str:
        return f"{self.rate_per_s:g}/s {self.arrival}, open loop"

    @classmethod
    def describe_points(cls, points: Sequence[LoadShape]) -> str:
        labels = ", ".join(point.label for point in points)
        return f"open loop at {labels} ({points[0].arrival} arrivals)"

    @property
    def connection_limit(self) -> int:
        return self.max_connections

    @property
    def plot_value(self) -> float:
        return float(self.rate_per_s)

    @property
    def mean_rate_per_s(self) -> float | None:
        return self.rate_per_s

    def schedule(self, duration_s: float) -> tuple[Stage, ...]:
        rate = self.rate_per_s
        return (Stage(duration_s=0.0, target=rate), Stage(duration_s=duration_s, target=rate))

    def validate(self) -> None:
        if self.rate_per_s <= 0:
            raise UsageError(f"rate: {self.rate_per_s}/s must be positive")
        if self.max_connections < 1:
            raise UsageError(f"max connections: {self.max_connections} must be at least 1")

    def split(self, parts: int) -> list[Self]:
        share = math.ceil(self.max_connections / parts)
        return [dataclasses.replace(self, rate_per_s=self.rate_per_s / parts, max_connections=share)] * parts

    def to_json(self) -> dict[str, object]:
        return {"kind": "open", "rate_per_s": self.rate_per_s, "arrival": self.arrival,
                "max_connections": self.max_connections}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(rate_per_s=float(data["rate_per_s"]), arrival=data.get("arrival", "uniform"),
                   max_connections=int(data.get("max_connections", 1024)))  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Stages(LoadShape):
    """A k6-style staged load: `kind` says whether targets are rates (per second) or connection counts.

    Rate stages run an open loop (with `arrival` and `max_connections` as in Open); connection stages a
    closed loop whose connection count follows the ramps.
    """

    json_kind: ClassVar[str] = "stages"
    kind: Literal["rate", "connections"]
    stages: tuple[Stage, ...]
    arrival: ArrivalProcess = "uniform"
    max_connections: int = 1024

    @property
    def duration_s(self) -> float:
        return sum(stage.duration_s for stage in self.stages)

    @property
    def loop(self) -> Loop:
        return "open" if self.kind == "rate" else "closed"

    @property
    def label(self) -> str:
        unit = "/s" if self.kind == "rate" else "c"
        return ",".join(f"{s.duration_s:g}s:{s.target:g}{unit}" for s in self.stages)

    def describe(self) -> str:
        return f"stages {self.label} ({self.arrival if self.kind == 'rate' else 'closed loop'})"

    @classmethod
    def describe_points(cls, points: Sequence[LoadShape]) -> str:
        return "stages " + ", ".join(point.label for point in points)

    @property
    def _peak(self) -> float:
        return max((stage.target for stage in self.stages), default=0.0)

    @property
    def connection_limit(self) -> int:
        return round(self._peak) if self.kind == "connections" else self.max_connections

    @property
    def own_duration_s(self) -> float | None:
        return self.duration_s

    def shortened(self, max_duration_s: float) -> Self:
        """Every stage scaled down by the same factor (rounded to the millisecond, so labels and trial
        ids stay readable)."""
        factor = min(1.0, max_duration_s / self.duration_s) if self.duration_s else 1.0
        stages = tuple(Stage(duration_s=round(stage.duration_s * factor, 3), target=stage.target)
                       for stage in self.stages)  # fmt: skip
        return dataclasses.replace(self, stages=stages)

    @property
    def plot_value(self) -> float:
        return self._peak

    @property
    def mean_rate_per_s(self) -> float | None:
        duration = self.duration_s
        if self.kind == "connections" or duration <= 0:
            return None
        previous, hits = 0.0, 0.0
        for stage in self.stages:  # the area under the ramps: each stage is a trapezoid
            hits += (previous + stage.target) / 2 * stage.duration_s
            previous = stage.target
        return hits / duration

    def schedule(self, duration_s: float) -> tuple[Stage, ...]:
        return self.stages

    def validate(self) -> None:
        if self.max_connections < 1:
            raise UsageError(f"max connections: {self.max_connections} must be at least 1")
        if not self.stages or self.duration_s <= 0:
            raise UsageError("stages: give at least one stage with a positive duration, like 10s:100/s")

    def split(self, parts: int) -> list[Self]:
        """Rates divided; connection targets split as evenly as whole numbers allow, stage by stage, so
        the shares add up to the count asked."""
        if self.kind == "connections":
            shares = [split_count(round(s.target), parts) for s in self.stages]
            return [
                dataclasses.replace(self, stages=tuple(Stage(duration_s=s.duration_s, target=float(n[i]))
                                                       for s, n in zip(self.stages, shares, strict=True)))
                for i in range(parts)
            ]  # fmt: skip
        stages = tuple(Stage(duration_s=s.duration_s, target=s.target / parts) for s in self.stages)
        share = math.ceil(self.max_connections / parts)
        return [dataclasses.replace(self, stages=stages, max_connections=share)] * parts

    def max_processes(self, wanted: int) -> int:
        if self.kind == "connections":
            return max(1, min(wanted, round(self._peak)))
        return wanted

    def to_json(self) -> dict[str, object]:
        return {
            "kind": "stages", "stages_kind": self.kind, "arrival": self.arrival,
            "max_connections": self.max_connections,
            "stages": [[s.duration_s, s.target] for s in self.stages],
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            kind=data["stages_kind"],
            stages=tuple(Stage(duration_s=float(d), target=float(t)) for d, t in data["stages"]),
            arrival=data.get("arrival", "uniform"),
            max_connections=int(data.get("max_connections", 1024)),
        )


SHAPES: tuple[type[LoadShape], ...] = (Closed, Open, Stages)
"""Every load shape, by its JSON "kind"; shape_from_json looks them up here."""


def shape_from_json(data: Mapping[str, Any]) -> LoadShape:
    """The shape a results-format `load` object describes, by its "kind" (see SHAPES).

    Raises KeyError/ValueError/TypeError on a malformed dict.
    """
    kind = data["kind"]
    for shape in SHAPES:
        if shape.json_kind == kind:
            return shape.from_json(data)
    kinds = [shape.json_kind for shape in SHAPES]
    raise ValueError(f"unknown load kind {kind!r}; expected {', '.join(kinds[:-1])} or {kinds[-1]}")
