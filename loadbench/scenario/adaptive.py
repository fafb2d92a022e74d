"""The adaptive keys of [load]: repeat each load point only until its claim ("who wins, by what factor") is
decided at 95 %, within a time budget for the whole run; validated into an `Adaptive`, or None.

    [load]
    adaptive = true      # rounds of short trials, every model's server kept up, until the claims are decided
    budget = "60s"       # wall time of the whole run (server starts included); no trial starts past it
    max_rounds = 20      # optional cap on rounds (default 40, at most 200); at least MIN_ROUNDS, the fewest
                         # that decide; it also fixes the stop rule's look schedule
    tie_band = "5%"      # "X and Y tie" needs the whole 95 % interval of X/Y within ±5 %

The stop rule itself is loadbench.analysis.adaptive; the loop that applies it is loadbench.runner.adaptive.
"""

from __future__ import annotations

import re
from typing import Any

from loadbench.safe import limits
from loadbench.scenario.schema import Reader
from loadbench.scenario.types import DEFAULT_BUDGET_S, DEFAULT_MAX_ROUNDS, DEFAULT_TIE_BAND, Adaptive

__all__ = ["ADAPTIVE_KEYS", "DEFAULT_BUDGET_S", "DEFAULT_MAX_ROUNDS", "DEFAULT_TIE_BAND", "MIN_ROUNDS",
           "Adaptive", "parse_adaptive"]

ADAPTIVE_KEYS = ("adaptive", "budget", "max_rounds", "tie_band")
#: The fewest pairs the stop rule decides on (loadbench.analysis.stats.MIN_PAIRS_95): fewer rounds can
#: only ever print "undecided". Kept here as a number so the scenario layer imports no statistics.
MIN_ROUNDS = 6
_PERCENT_RE = re.compile(r"^\s*(\d+(\.\d*)?|\.\d+)\s*%\s*$")


def parse_adaptive(reader: Reader, *, servers: int, paired: bool, closed_only: bool,
                   crowds: bool) -> Adaptive | None:  # fmt: skip
    """The adaptive keys of the [load] `reader`, checked against the rest of the scenario; None when
    `adaptive` is absent or false (and then the other keys are errors, since they would do nothing)."""
    raw: dict[str, Any] = reader.table
    on = reader.boolean("adaptive", False)
    if not on:
        for key in ADAPTIVE_KEYS[1:]:
            if key in raw:
                reader.report(key, f"{raw[key]!r} applies only to adaptive runs; add adaptive = true or "
                                   f"remove {key}")
        return None
    if "repeat" in raw:
        reader.report("repeat", f"{raw['repeat']!r}: an adaptive run repeats each load point until its claim "
                                "is decided; remove repeat (cap the rounds with max_rounds)")
    if paired:
        reader.report("adaptive", "true cannot combine with [[variants]]: a paired run has its own rounds "
                                  "([paired] rounds); remove adaptive")
    if servers < 2:
        reader.report("adaptive", f"true needs at least 2 [[servers]] to compare (found {servers}); add a "
                                  "server or remove adaptive")
    if not closed_only:
        reader.report("adaptive", "true needs a closed loop (connections = [...]): its claims compare req/s, "
                                  "which an open loop's rate fixes; use connections or remove adaptive")
    if crowds:
        reader.report("adaptive", "true cannot combine with idle or slow clients (each crowd needs a fresh "
                                  "server); remove idle/slow_readers or adaptive")
    budget = reader.duration("budget", DEFAULT_BUDGET_S)
    max_rounds = reader.count("max_rounds", DEFAULT_MAX_ROUNDS) or DEFAULT_MAX_ROUNDS
    if max_rounds < MIN_ROUNDS:
        reader.report("max_rounds", f"{raw['max_rounds']!r} is too few: no claim is decided before "
                                    f"{MIN_ROUNDS} rounds; use max_rounds = {MIN_ROUNDS} or more")
        max_rounds = DEFAULT_MAX_ROUNDS
    if (problem := limits.rounds_problem(max_rounds)) is not None:
        reader.report("max_rounds", problem)
        max_rounds = DEFAULT_MAX_ROUNDS
    return Adaptive(budget_s=budget, max_rounds=max_rounds, tie_band=_tie_band(reader))


def _tie_band(reader: Reader) -> float:
    value = reader.table.get("tie_band")
    if value is None:
        return DEFAULT_TIE_BAND
    band: float | None = None
    if isinstance(value, str) and (match := _PERCENT_RE.match(value)):
        band = float(match[1]) / 100
    elif isinstance(value, int | float) and not isinstance(value, bool):
        band = float(value)
    if band is None or not 0 < band < 1:
        reader.report("tie_band", f"{value!r} must be a percentage between 0 and 100, like \"5%\" (or a "
                                  "fraction like 0.05)")
        return DEFAULT_TIE_BAND
    return band
