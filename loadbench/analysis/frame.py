"""results_frame(path): a results file as a pandas DataFrame, one row per trial, with short column names.

The public face of analysis for notebooks and scripts (`loadbench.results_frame`). Columns: model,
variant, workload, load (the load point's label), load_kind, load_value, repetition, round, status_ok,
saturated, requests, rps, target_rps, dropped, error_rate (a 0..1 fraction), mean_ms, p50_ms, p90_ms,
p99_ms, p99_9_ms, max_ms, server_cpu_pct (100 = one core), server_rss_mb, client_cpu_pct,
other_cpu_pct, engine, backend, trial_id. Figures are those of the results file, unchanged.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: results_frame's column -> the column of the per-trial table (analysis.trialtable.trial_row).
COLUMNS: dict[str, str] = {
    "model": "model", "workload": "workload", "load": "load_label", "load_kind": "load_kind",
    "load_value": "load_value", "repetition": "repetition", "status_ok": "status_ok",
    "saturated": "saturated", "requests": "requests", "rps": "rps", "target_rps": "target_rps",
    "dropped": "dropped", "error_rate": "error_rate", "mean_ms": "latency_mean_ms",
    "p50_ms": "latency_p50_ms", "p90_ms": "latency_p90_ms", "p99_ms": "latency_p99_ms",
    "p99_9_ms": "latency_p99_9_ms", "max_ms": "latency_max_ms", "server_cpu_pct": "server_cpu_pct",
    "server_rss_mb": "server_rss_mb", "client_cpu_pct": "client_cpu_pct", "other_cpu_pct": "other_cpu_pct",
    "engine": "engine", "backend": "backend", "trial_id": "trial_id",
}  # fmt: skip


def results_frame(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the results file at `path` into a DataFrame, one row per trial in run order (see module doc).

    Raises ResultsFormatError for a file that is not loadbench results. `model` is the server's name in the
    scenario (host:port for `bench --json`); `variant` is None outside paired runs.
    """
    import pandas as pd

    from loadbench.analysis.trialtable import trial_row
    from loadbench.results.file import read_results

    trials = read_results(path).trials
    rows = []
    for trial in trials:
        row = trial_row(trial)
        out = {name: row[source] for name, source in COLUMNS.items()}
        out["model"] = trial.model  # the plain name; the variant gets its own column
        out["variant"] = trial.variant
        out["round"] = trial.round
        rows.append(out)
    names = [c for c in COLUMNS if c != "model"]
    at = names.index("repetition") + 1
    order = ["model", "variant", *names[:at], "round", *names[at:]]
    return pd.DataFrame.from_records(rows, columns=order)
