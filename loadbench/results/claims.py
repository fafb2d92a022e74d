"""Claim records: where an adaptive run left each load point's "who wins, by what factor", stored in
results.jsonl as `kind: "claim"` lines.

An adaptive run ([load] adaptive = true) repeats a load point until the claim it feeds is decided at 95 %
(loadbench.analysis.adaptive); when a claim becomes final (decided, or undecided when the budget or the
round cap ends it) the runner appends its line, so `loadbench report` prints the same sentences from the
file alone. The trials behind it are ordinary trial lines; a claim line is never a measurement. Readers
from before claims skip the line with a warning, as they skip every unknown `kind`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loadbench.errors import ResultsFormatError
from loadbench.results.codec import describe, from_json, to_json
from loadbench.results.records import LoadRecord

__all__ = ["CLAIM_KIND", "CLAIM_STATES", "ClaimRecord"]

CLAIM_KIND = "claim"
#: "a wins" (a serves more requests than b, the whole 95 % interval of a/b above 1), "tie" (the interval
#: within ±tie_band), "undecided" (neither when the run stopped repeating the point; `why` says why).
CLAIM_STATES = ("a wins", "tie", "undecided")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimRecord:
    """One load point's claim, "a against b" in req/s, as the adaptive run left it (a line of kind "claim").

    `a` is the model with the most req/s at the point and `b` the runner-up (the winner and the one it
    beat, once decided). `ratio` is the median of the paired ratios rps_a / rps_b (pairs: trials of one
    round, measured back to back), `ratio_low`–`ratio_high` its distribution-free `confidence` interval
    (None with too few pairs for one). `rounds` counts the rounds that measured the point, `pairs` those
    that gave a pair (both trials measured, neither saturated). `elapsed_s` is the run's wall time when
    the claim became final. `medians_rps` holds every model's median req/s at the point. `run_id` and
    `scenario_sha256` stamp the line like the run's trials, so a reader refuses a claim of another run.
    """

    kind: str = CLAIM_KIND
    workload: str
    load: LoadRecord
    load_label: str
    a: str
    b: str
    state: str
    ratio: float | None = None
    ratio_low: float | None = None
    ratio_high: float | None = None
    confidence: float = 0.95
    pairs: int = 0
    rounds: int = 0
    tie_band: float = 0.05
    why: str = ""
    elapsed_s: float = 0.0
    medians_rps: Mapping[str, float] = field(default_factory=dict)
    run_id: str | None = None  # the header's run_id, stamped by the runner like a trial's (None: older files)
    scenario_sha256: str | None = None  # the header's scenario sha256, stamped beside run_id
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def decided(self) -> bool:
        """True for a winner or a tie, False for an undecided claim."""
        return self.state != "undecided"

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this claim line."""
        return to_json(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, where: str = "claim") -> ClaimRecord:
        """Validate one claim object; ResultsFormatError names `where` and the key."""
        record: ClaimRecord = from_json(cls, data, where)
        if record.kind != CLAIM_KIND:
            raise ResultsFormatError(f"{where}: key 'kind' must be {CLAIM_KIND!r}, "
                                     f"got {describe(record.kind)}")
        if record.state not in CLAIM_STATES:
            states = ", ".join(map(repr, CLAIM_STATES))
            got = describe(record.state)
            raise ResultsFormatError(f"{where}: key 'state' must be one of {states}, got {got}")
        return record
