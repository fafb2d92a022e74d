"""Sampled profiles of a server under load: py-spy on the server's process tree during one extra trial.

    session = ProfileSession(run_dir=..., cpus=(1,))      # finds py-spy once; `off_reason` when it cannot run
    record, warning = session.profile(identity, server_pid, unprofiled_reason=..., drive=...)

The runner calls it once per model and workload at the heaviest load point (plan.profile_trials), after
the measured trials, and appends the ProfileRecord to results.jsonl; the record never enters a median or
the gate. How py-spy is run, and why without --idle and --native, is in loadbench.profile.pyspy.
"""

from __future__ import annotations

from loadbench.profile.session import NOT_INSTALLED, DriveFacts, ProfileSession

__all__ = ["NOT_INSTALLED", "DriveFacts", "ProfileSession"]
