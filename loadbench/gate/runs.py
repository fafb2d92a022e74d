"""Whether two results files can be compared at all: one scenario, one load kind, one results format.

A two-file `compare` pairs trials by model, variant, workload, load point and repetition; that pairing
means something only when both files measured the same scenario the same way. What makes the pairs
meaningless is an error (`UsageError`, exit 2), with both files and both values named:

    different scenarios        the header's scenario name, or its sha256 when both files record one
    different load kinds       the set of `load.kind` (closed, open, stages) over each file's trials
    different format versions  the header's `version`

Different loadbench versions are not an error (history across releases keeps working); they come back as
a caveat, printed beside the verdict, since an engine change between releases can read as a change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loadbench.errors import UsageError

if TYPE_CHECKING:
    from loadbench.results.records import Results

__all__ = ["comparable_runs"]


def comparable_runs(base: Results, cand: Results, *, base_name: str, cand_name: str) -> tuple[str, ...]:
    """Raise UsageError when `base` and `cand` cannot be compared; return the caveats of comparing them."""
    both = f"baseline {base_name}, candidate {cand_name}"
    if base.header.version != cand.header.version:
        raise UsageError(
            f"results format versions differ ({both}: version {base.header.version} vs "
            f"{cand.header.version}); compare runs written in one format (rerun the older side)"
        )
    base_scenario, cand_scenario = _scenario(base), _scenario(cand)
    (base_title, base_sha), (cand_title, cand_sha) = base_scenario, cand_scenario
    if base_title != cand_title or (base_sha and cand_sha and base_sha != cand_sha):
        raise UsageError(
            f"the two runs measured different scenarios ({both}: {_describe(base_scenario)} vs "
            f"{_describe(cand_scenario)}); compare two runs of one scenario file, or measure both sides "
            "as [[variants]] of one paired run"
        )
    base_kinds, cand_kinds = _load_kinds(base), _load_kinds(cand)
    if base_kinds != cand_kinds:
        raise UsageError(
            f"the two runs used different load kinds ({both}: {_join(base_kinds)} vs {_join(cand_kinds)}); "
            "a closed-loop figure and an open-loop one measure different things: rerun one side with the "
            "other's load"
        )
    base_version, cand_version = base.header.loadbench_version, cand.header.loadbench_version
    if base_version != cand_version:
        return (
            f"the baseline was measured with loadbench {base_version} and the candidate with {cand_version}; "
            "a change of the load generator between releases reads as a change of the server",
        )
    return ()


def _scenario(results: Results) -> tuple[object, object]:
    scenario = results.header.scenario
    return scenario.get("name"), scenario.get("sha256")


def _describe(scenario: tuple[object, object]) -> str:
    name, sha = scenario
    return f"{name!r} (sha256 {str(sha)[:12]}…)" if sha else f"{name!r}"


def _load_kinds(results: Results) -> frozenset[str]:
    return frozenset(str(trial.load.get("kind")) for trial in results.trials)


def _join(kinds: frozenset[str]) -> str:
    return "/".join(sorted(kinds)) or "no trials"
