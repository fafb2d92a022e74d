"""Double faults: SIGKILL a run's guard, then loadbench itself; count the run's processes left after 5 s.

    python benchmarks/double_fault.py TRIES MODEL[,MODEL...] [GAP_S]

Before the server had a lifeline of its own (guard.py: PR_SET_PDEATHSIG in CMD), every try left the
server tree running (waitress 1 process, gunicorn 2, uvicorn 1); see docs/architecture.md.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
import psutil
from runner_support import TreeWatcher, loadbench_argv, small_scenario


def one(tmp: Path, model: str, gap_s: float) -> list[int]:
    sc = small_scenario(tmp, f"double-{model}", servers=(model,), connections=(2,), repeat=1, duration="20s")
    p = subprocess.Popen(loadbench_argv("run", str(sc), "--out", str(tmp / "run"), "--no-report"),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    w = TreeWatcher(p.pid, every_s=0.01).start()
    guard = None
    deadline = time.monotonic() + 30
    while guard is None and time.monotonic() < deadline:
        for c in psutil.Process(p.pid).children():
            try:
                if any("guard.py" in a for a in c.cmdline()) and c.children():
                    guard = c
            except psutil.Error:
                pass
        time.sleep(0.02)
    assert guard is not None, "no guard with a server seen"
    time.sleep(0.5)
    w.sample()
    guard.send_signal(signal.SIGKILL)
    time.sleep(gap_s)
    p.send_signal(signal.SIGKILL)
    p.wait()
    w.sample()
    w.stop()
    left = w.wait_gone(5.0)
    w.kill_leftovers()
    return left

def main(argv: list[str]) -> None:
    tries, models = int(argv[0]), argv[1].split(",")
    gap = float(argv[2]) if len(argv) > 2 else 0.0
    for model in models:
        lefts = []
        for _ in range(tries):
            with tempfile.TemporaryDirectory() as tmp:
                lefts.append(len(one(Path(tmp), model, gap)))
        print(f"{model}: {tries} double faults (guard SIGKILL, {gap} s, loadbench SIGKILL): processes left "
              f"per try {lefts}, total {sum(lefts)}")


if __name__ == "__main__":
    main(sys.argv[1:])
