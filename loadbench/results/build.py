"""The one place trial records are built: a trial's identity plus what was measured, or why nothing was.

`TrialIdentity` says which trial a record is (the same for the runner and for `loadbench bench`);
`measured_trial` combines it with an engine's Recording (or that Recording's record keys, as synthetic
data and old callers give them) and the monitor's summary; `failed_trial` records a server that failed to
start or died. Both validate the result exactly as a reader would, so what is written always reads back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loadbench.results.codec import load_from_json, load_to_json, request_spec_to_json, scrub_nonfinite
from loadbench.results.records import TrialResult

if TYPE_CHECKING:
    from loadbench.results.metrics import Recording
    from loadbench.results.monitoring import MonitorSummary
    from loadbench.results.records import Failure
    from loadbench.types import Load, RequestSpec

__all__ = ["TrialIdentity", "failed_trial", "measured_trial"]

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialIdentity:
    """Which trial a record is: where it stands in the run, what served it, what was sent and how hard.

    `model` is the name the reader sees (a scenario's server name, or host:port for `bench`), with the
    registry's `server_model` and its `family` beside it (empty for `bench`). `cpus` maps "server" and
    "client" to the CPUs each was pinned to (None: not pinned). `attempt` is 2 when a paired run measured
    the round again after the generator saturated. `url` is `bench`'s target; `unix_socket` the socket the
    load went to instead of TCP (recorded as unix_socket true and target "unix:PATH"). `load_suffix`
    (Crowd.label) keeps trials with idle or slow clients apart from those without: they are different load
    points.
    """

    trial_id: str
    index: int
    model: str
    server_model: str = ""
    family: str = ""
    server_options: Mapping[str, Any] = field(default_factory=dict)
    variant: str | None = None
    workload: str
    requests_spec: Sequence[RequestSpec | Mapping[str, Any]] = ()
    load: Load | Mapping[str, Any]
    repetition: int = 1
    round: int = 1
    attempt: int = 1
    started: datetime | str
    cpus: Mapping[str, Sequence[int] | None] | None = None
    url: str | None = None
    unix_socket: str | None = None  # the socket path the load went to (None: TCP)
    load_suffix: str = ""  # idle/slow clients beside the load (Crowd.label): part of the load point's label

    def for_workload(self, workload: str, suffix: str) -> TrialIdentity:
        """The identity of one of several workloads one engine run measured (a Locust journey's steps)."""
        trial_id = f"{self.trial_id}|{suffix}" if suffix else self.trial_id
        return replace(self, workload=workload, trial_id=trial_id)

    def to_json(self) -> JsonDict:
        load_json = dict(self.load) if isinstance(self.load, Mapping) else load_to_json(self.load)
        started = self.started
        if isinstance(started, datetime):
            started = started.isoformat(timespec="seconds")
        out: JsonDict = {
            "kind": "trial", "trial_id": self.trial_id, "index": self.index, "model": self.model,
            "server_model": self.server_model, "family": self.family,
            "server_options": dict(self.server_options), "variant": self.variant, "workload": self.workload,
            "requests_spec": [request_spec_to_json(s) for s in self.requests_spec], "load": load_json,
            "load_label": load_from_json(load_json).label + self.load_suffix, "repetition": self.repetition,
            "round": self.round, "started": started,
            "cpus": None if self.cpus is None else {
                k: None if v is None else list(v) for k, v in self.cpus.items()},
        }  # fmt: skip
        if self.attempt > 1:
            out["attempt"] = self.attempt
        if self.url is not None:
            out["url"] = self.url
        if self.unix_socket is not None:
            out["unix_socket"], out["target"] = True, f"unix:{self.unix_socket}"
        return out


def measured_trial(
    identity: TrialIdentity, measured: Recording | Mapping[str, Any], *,
    monitor: MonitorSummary | None = None, backend_extras: Mapping[str, Any] | None = None,
    failure: Failure | None = None,
    crowd: Mapping[str, Any] | None = None,
    instructions: int | None = None,
) -> TrialResult:  # fmt: skip
    """The record of a measured trial: its identity, the engine's figures and the monitor's summary.

    Identity wins over same-named keys of the measurement; the engine's own `client_cpu_pct` wins over
    the monitor's. `server_cpu_us_per_request` is the monitor's server CPU over the responses received
    in its window (`requests`, drained ones included, as the monitor covers the drain too); a
    measurement that already carries the key keeps it. `instructions` (hardware counters, where the kernel
    allows them; loadbench.monitor.perf) gives `server_instructions_per_request` the same way. Non-finite
    figures become null. Keys this version does not know land in `extra`.
    With `failure` (a server that died while it was measured) the trial is a failed one, status_ok false,
    and keeps what was measured before and after the death (its requests, its refused connections).
    Raises ResultsFormatError when the combination would not read back.
    """
    record = measured if isinstance(measured, Mapping) else measured.to_record()
    data: JsonDict = dict(scrub_nonfinite(record))
    for key, value in (monitor.to_record() if monitor else {}).items():
        if key == "client_cpu_pct" and data.get(key) is not None:
            continue
        data[key] = value
    if monitor is not None and "server_cpu_us_per_request" not in data:
        cost = monitor.cpu_us_per_request(int(data.get("requests") or 0))
        data["server_cpu_us_per_request"] = None if cost is None else round(cost, 3)
    if instructions is not None and int(data.get("requests") or 0) > 0:
        data["server_instructions_per_request"] = round(instructions / int(data["requests"]), 1)
    if backend_extras:
        data["backend_extras"] = dict(backend_extras)
    if failure is not None:
        data["status_ok"], data["failure"] = False, dict(failure)
    data.update(identity.to_json())
    if crowd is not None:
        data["crowd"] = dict(crowd)
    return TrialResult.from_json(data, where=f"trial {identity.trial_id!r}")


def failed_trial(
    identity: TrialIdentity, *, reason: str, log_tail: str = "", monitor: MonitorSummary | None = None,
    backend: str = "native",
) -> TrialResult:  # fmt: skip
    """A trial whose server failed to start (or never got load): status_ok false, `failure` says why, counts
    are zero. A server that died under load is `measured_trial(..., failure=...)`: its figures are kept."""
    data: JsonDict = {
        "status_ok": False, "failure": {"reason": reason, "log_tail": log_tail},
        "duration_s": 0.0, "requests": 0, "rps": 0.0, "engine": "", "backend": backend,
    }
    data.update(monitor.to_record() if monitor else {})
    data.update(identity.to_json())
    return TrialResult.from_json(data, where=f"trial {identity.trial_id!r}")
