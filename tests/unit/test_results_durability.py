"""A writer killed with SIGKILL mid-run leaves a file that reads back with every complete trial."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loadbench.results.file import read_results

# Appends big trials (a long timeline) forever, so a kill often lands in the middle of a line.
_WRITER = """
import sys
from loadbench.results.records import TrialResult, make_header
from loadbench.results.file import ResultsWriter
header = make_header(scenario_name="kill", created="2026-11-24T06:00:00+00:00")
timeline = tuple((s, 1000 + s, 0, 1.5, 4.25) for s in range(20000))
with ResultsWriter(sys.argv[1], header) as writer:
    for i in range(10**9):
        writer.append(TrialResult(index=i, model="m", workload="/", load={"kind": "closed", "connections": 1},
                                  duration_s=1.0, requests=i, rps=float(i), timeline=timeline))
"""


@pytest.mark.parametrize("min_lines", [3, 8])
def test_sigkill_mid_run_keeps_every_complete_trial(tmp_path: Path, min_lines: int) -> None:
    path = tmp_path / "results.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not path.exists() or path.read_bytes().count(b"\n") < min_lines:
            assert time.monotonic() < deadline, "the writer made no progress in 60 s"
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.01)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    data = path.read_bytes()
    complete = data.count(b"\n")
    assert complete >= min_lines
    results = read_results(path)
    assert [t.index for t in results.trials] == list(range(complete - 1))
    partial = not data.endswith(b"\n")
    assert len(results.warnings) == int(partial)
    if partial:
        assert f"line {complete + 1} is incomplete" in results.warnings[0]
