"""Build comparisons from trial records: within one paired run, across two runs, or a calibration.

Names: in a run with variants (a paired gate run) `--baseline`/`--candidate` name variants and pairs share
model, workload, load point and round; in a run without variants they name models, and pairs share
workload, load point and round. Two runs pair by model, variant, workload, load point and repetition.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

from loadbench.errors import UsageError
from loadbench.gate import trials as tr
from loadbench.gate.compare import (
    COMPARE_METRICS,
    DEFAULT_TOLERANCE,
    Comparison,
    Verdict,
    compare_pairs,
    make_pairs,
)

if TYPE_CHECKING:
    from loadbench.results.records import TrialResult

CROSS_RUN_WARNING = (
    "comparing two separate runs: nothing alternated between them, so any drift of the machine between "
    "the runs (other load, thermal state, a different host) reads as a change; cross-run comparisons are "
    "noisier than a paired run (`loadbench run` with [[variants]] and [paired] order = \"ABBA\")"
)


def _check_metric(metric: str, tolerance: float | None) -> float:
    if metric not in COMPARE_METRICS:
        raise UsageError(f"--metric {metric!r} is not comparable; use one of {', '.join(COMPARE_METRICS)}")
    if tolerance is None:
        return DEFAULT_TOLERANCE[metric]
    if not (math.isfinite(tolerance) and 0 <= tolerance < 10):
        raise UsageError(f"--tolerance {tolerance:.6g} is out of range; give a percentage such as 5%")
    return tolerance


def _side_name(trial: TrialResult, attr: str) -> str | None:
    """Return the trial's variant (`attr` "variant") or model (`attr` "model")."""
    return trial.variant if attr == "variant" else trial.model


def _names(trials: Sequence[TrialResult], attr: str) -> list[str]:
    seen: dict[str, None] = {}
    for trial in trials:
        value = _side_name(trial, attr)
        if value:
            seen[str(value)] = None
    return list(seen)


def resolve_sides(
    trials: Sequence[TrialResult], baseline: str | None, candidate: str | None
) -> tuple[str, str, str]:
    """Return (attribute, baseline, candidate): attribute "variant" or "model" that the names select.

    Without names a run whose variants include "baseline" and "candidate" compares those two.
    """
    variants, models = _names(trials, "variant"), _names(trials, "model")
    attr, choices = ("variant", variants) if variants else ("model", models)
    if baseline is None and candidate is None and {"baseline", "candidate"} <= set(variants):
        return "variant", "baseline", "candidate"
    for option, name in (("--baseline", baseline), ("--candidate", candidate)):
        if name is not None and name not in choices:
            extra = ""
            if attr == "variant" and name in models:
                extra = f"; this run has variants, so name a variant rather than the model '{name}'"
            raise UsageError(
                f"{option} {name!r} is not a {attr} in the results; its {attr}s are "
                f"{', '.join(choices) or 'none'}{extra}"
            )
    if baseline is None or candidate is None:
        raise UsageError(
            f"name both sides: --baseline NAME --candidate NAME, where NAME is a {attr} in the results "
            f"({', '.join(choices) or 'none'})"
        )
    return attr, baseline, candidate


def _label(key: Hashable) -> str:
    assert isinstance(key, tuple)
    return " ".join(str(part) for part in key if part)


def default_metric(trials: Sequence[TrialResult]) -> str:
    """The metric a gate compares when none is named: the server's CPU per request when every usable trial
    measured it (loadbench launched the servers), since a neighbour's stolen time is not in it
    (docs/ci.md); throughput otherwise (a server loadbench did not start, whose CPU it cannot see)."""
    usable = [trial for trial in trials if trial.status_ok and trial.requests]
    if usable and all(trial.server_cpu_us_per_request is not None for trial in usable):
        return "cpu_per_request"
    return "rps"


def compare_in_run(
    trials: Sequence[TrialResult],
    *,
    baseline: str | None,
    candidate: str | None,
    metric: str = "rps",
    tolerance: float | None = None,
) -> Comparison:
    """Compare two variants (or two models) of one run, pair by pair (see the module docstring)."""
    tol = _check_metric(metric, tolerance)
    attr, base_name, cand_name = resolve_sides(trials, baseline, candidate)
    base = [t for t in trials if _side_name(t, attr) == base_name]
    cand = [t for t in trials if _side_name(t, attr) == cand_name]
    if attr == "variant":

        def group(t: TrialResult) -> Hashable:
            return (t.model, t.workload, t.load_label)

    else:

        def group(t: TrialResult) -> Hashable:
            return (t.workload, t.load_label)

    pairs, warnings = make_pairs(base, cand, group=group, match=tr.round_of)
    groups = compare_pairs(pairs, label=_label, metric=metric, tolerance=tol)
    if not groups:
        warnings.append(
            f"{base_name} and {cand_name} share no (workload, load point, round): nothing to compare"
        )
    return Comparison(
        baseline=base_name, candidate=cand_name, metric=metric, tolerance=tol, kind="paired",
        groups=tuple(groups), warnings=tuple(warnings),
    )


def compare_runs(
    base_trials: Sequence[TrialResult],
    cand_trials: Sequence[TrialResult],
    *,
    base_name: str,
    cand_name: str,
    metric: str = "rps",
    tolerance: float | None = None,
    caveats: tuple[str, ...] = (),
) -> Comparison:
    """Compare two runs, pairing trials by model, variant, workload, load point and repetition.

    `caveats` (gate.runs.comparable_runs) are kept on the Comparison and printed beside its verdict."""
    tol = _check_metric(metric, tolerance)

    def group(t: TrialResult) -> Hashable:
        return (t.model, t.variant, t.workload, t.load_label)

    def match(t: TrialResult) -> Hashable:
        return t.repetition

    pairs, warnings = make_pairs(base_trials, cand_trials, group=group, match=match)
    groups = compare_pairs(pairs, label=_label, metric=metric, tolerance=tol)
    if not groups:
        warnings.append("the two runs share no (model, workload, load point, repetition): nothing to compare")
    return Comparison(
        baseline=base_name, candidate=cand_name, metric=metric, tolerance=tol, kind="cross-run",
        groups=tuple(groups), warnings=(CROSS_RUN_WARNING, *warnings), caveats=caveats,
    )


def calibrate(
    trials: Sequence[TrialResult],
    *,
    baseline: str | None,
    metric: str = "rps",
    tolerance: float | None = None,
) -> Comparison:
    """Compare the baseline against itself to measure the noise floor.

    Per group, the baseline's trials in run order are split into two interleaved halves (1st, 3rd, ... vs
    2nd, 4th, ...), so consecutive trials form a pair as in a paired run. The verdict should be "no change";
    a warning is added for every group whose interval half-width exceeds half the tolerance, since then a
    real change of the tolerance's size will often read inconclusive.
    """
    tol = _check_metric(metric, tolerance)
    variants = _names(trials, "variant")
    attr = "variant" if variants else "model"
    if baseline is None:
        if "baseline" not in variants:
            raise UsageError(
                "--calibrate needs --baseline NAME (a variant, or a model when the run has none)"
            )
        baseline = "baseline"
    if baseline not in _names(trials, attr):
        raise UsageError(
            f"--baseline {baseline!r} is not a {attr} in the results; its {attr}s are "
            f"{', '.join(_names(trials, attr)) or 'none'}"
        )
    own = [t for t in trials if _side_name(t, attr) == baseline]
    by_group: dict[Hashable, list[TrialResult]] = {}
    for t in sorted(own, key=tr.index_of):
        key = (t.model, t.workload, t.load_label)
        by_group.setdefault(key, []).append(t)
    pairs = {key: list(zip(ts[0::2], ts[1::2], strict=False)) for key, ts in by_group.items()}
    groups = compare_pairs(pairs, label=_label, metric=metric, tolerance=tol)
    warnings = []
    for g in groups:
        half = g.interval.half_width
        if half is not None and half > math.log1p(tol) / 2:
            warnings.append(
                f"noisy: {g.label} varies by ±{g.noise_pct():.1f}% (95 % interval half-width, {metric}) "
                f"between {baseline}'s own halves, more than half the tolerance ({tol * 50:.1f}%); a real "
                f"{tol * 100:g}% change may read inconclusive: run more rounds or longer trials, pin CPUs, "
                f"or quiet the machine"
            )
        if g.verdict is Verdict.REGRESSION or g.verdict is Verdict.IMPROVEMENT:
            warnings.append(
                f"unstable: {baseline} against itself reads '{g.verdict.value}' on {g.label}; the machine "
                f"drifted during the run"
            )
    return Comparison(
        baseline=f"{baseline} (1st half)", candidate=f"{baseline} (2nd half)", metric=metric, tolerance=tol,
        kind="calibration", groups=tuple(groups), warnings=tuple(warnings),
    )
