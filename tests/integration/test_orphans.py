"""No process outlives `loadbench run` or `loadbench serve`, however they are stopped: signals, kill -9.

Each test runs the real CLI as a subprocess, samples its whole process tree while it runs (every pid
ever seen, guards and servers included), stops it, then checks that every one of those processes is
gone within 5 s, that the servers' ports are free again, and that results.jsonl still reads.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from runner_support import (
    TreeWatcher,
    loadbench_argv,
    server_ports,
    small_scenario,
    wait_for_trials,
    wait_ports_free,
    watched_run,
)

from loadbench.results.file import read_results

pytestmark = pytest.mark.integration

PLANNED = 8  # 2 servers x 2 load points x 2 repetitions


def _scenario(tmp_path: Path) -> Path:
    return small_scenario(tmp_path, "interrupted", servers=("waitress", "uvicorn"), connections=(2, 4),
                          repeat=2)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_signal_mid_run_keeps_results_and_leaves_nothing(tmp_path: Path, sig: signal.Signals) -> None:
    scenario = _scenario(tmp_path)
    with watched_run([str(scenario), "--no-report"], tmp_path / "run") as run:
        wait_for_trials(run.results, 1, run.proc)
        # Into the second trial (a signal landing while the first line is being fsynced loses that
        # line: a bug reported in resultsfile.py, ResultsWriter._write truncates a complete line).
        time.sleep(0.2)
        run.proc.send_signal(sig)
        code = run.proc.wait(20)
        run.watcher.stop()
        seen = set(run.watcher.seen)
        assert len(seen) >= 2, "the watcher saw no guard or server: the test would prove nothing"
        assert run.watcher.wait_gone(5.0) == []
        assert code == 130, run.output()
        assert "Interrupted" in run.output()
        assert wait_ports_free(server_ports(run.out_dir), seen) == []
        results = read_results(run.results)
        assert 1 <= len(results.trials) < PLANNED
        assert results.warnings == ()
        assert all(trial.status_ok for trial in results.trials), [t.failure for t in results.trials]


def test_sigkill_mid_trial_servers_die_with_the_run(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path)
    with watched_run([str(scenario), "--no-report"], tmp_path / "run") as run:
        wait_for_trials(run.results, 1, run.proc)
        time.sleep(0.15)  # into the second trial: same server block, the engine is driving it
        run.watcher.sample()
        run.proc.kill()
        run.proc.wait(10)
        run.watcher.stop()
        seen = set(run.watcher.seen)
        ports = server_ports(run.out_dir)
        assert len(seen) >= 2 and ports, "no server was seen running: the test would prove nothing"
        # Only the guard's lifeline pipe (EOF when loadbench dies) can have stopped these.
        assert run.watcher.wait_gone(5.0) == []
        assert wait_ports_free(ports, seen) == []
        results = read_results(run.results)
        assert 1 <= len(results.trials) < PLANNED  # at most the trial in flight is lost
        assert all(trial.status_ok for trial in results.trials)


_READY = re.compile(r"ready at http://127\.0\.0\.1:(\d+), pid (\d+)")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a shell does for a background job (`cmd &`)


def test_serve_started_with_sigint_ignored_still_stops_on_sigint(tmp_path: Path) -> None:
    argv = loadbench_argv("serve", "waitress", "--port", "0")
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          preexec_fn=_ignore_sigint) as serve:
        watcher = TreeWatcher(serve.pid).start()
        try:
            assert serve.stdout is not None
            line = serve.stdout.readline()
            match = _READY.search(line)
            assert match, f"unexpected first line {line!r}"
            port = int(match[1])
            watcher.sample()
            assert int(match[2]) in watcher.seen
            serve.send_signal(signal.SIGINT)
            code = serve.wait(15)
        finally:
            if serve.poll() is None:
                serve.kill()
            watcher.stop()
        stderr = serve.stderr.read() if serve.stderr else ""
    assert code == 0, stderr
    assert "waitress stopped" in stderr
    assert watcher.wait_gone(5.0) == []
    assert wait_ports_free([port], set(watcher.seen)) == []


def _ignores_sigint(pid: int) -> bool | None:
    """Whether process `pid` ignores SIGINT now (its SigIgn mask in /proc); None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    mask = int(re.search(r"^SigIgn:\s*([0-9a-f]+)$", status, re.MULTILINE)[1], 16)  # type: ignore[index]
    return bool(mask & (1 << (signal.SIGINT - 1)))


def test_run_started_with_sigint_ignored_hears_sigint_from_its_first_line(tmp_path: Path) -> None:
    # Before: `run` installed its handler ~0.2 s in (after its imports and plan), and a SIGINT before that
    # was lost: the run went on to the end. Now SIGINT is heard from main's first line (python -m: before
    # the CLI's imports), long before any server starts; a SIGINT sent at that moment stops the run.
    argv = loadbench_argv("run", str(_scenario(tmp_path)), "--out", str(tmp_path / "run"), "--no-report")
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          preexec_fn=_ignore_sigint) as run:
        watcher = TreeWatcher(run.pid).start()
        try:
            deadline = time.monotonic() + 10
            while _ignores_sigint(run.pid) and time.monotonic() < deadline:
                time.sleep(0.001)
            watcher.sample()
            children_before = dict(watcher.seen)
            run.send_signal(signal.SIGINT)
            code = run.wait(30)
        finally:
            if run.poll() is None:
                run.kill()
            watcher.stop()
        stderr = run.stderr.read() if run.stderr else ""
    assert children_before == {}, "SIGINT was still ignored when the first server started"
    assert code == 130 and "Interrupted." in stderr, stderr
    assert watcher.wait_gone(5.0) == []


def _guard_with_server(root: int, timeout_s: float = 30.0) -> psutil.Process:
    """The run's guard once its server runs under it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in psutil.Process(root).children():
            with contextlib.suppress(psutil.Error):
                if any("guard.py" in arg for arg in child.cmdline()) and child.children():
                    return child
        time.sleep(0.02)
    raise AssertionError("no guard with a server under it was seen")


@pytest.mark.parametrize("model", ["waitress", "gunicorn"])  # one process; a master with a worker
def test_guard_then_loadbench_killed_leaves_no_server(tmp_path: Path, model: str) -> None:
    # Before: the server had no lifeline of its own, so after the guard's SIGKILL only loadbench could
    # stop it, and loadbench's SIGKILL right after left the whole server tree running (every try).
    scenario = small_scenario(tmp_path, "double", servers=(model,), duration="20s")
    with watched_run([str(scenario), "--no-report"], tmp_path / "run") as run:
        guard = _guard_with_server(run.proc.pid)
        time.sleep(0.3)
        run.watcher.sample()
        servers = guard.children(recursive=True)
        guard.kill()
        run.proc.kill()
        run.proc.wait(10)
        run.watcher.stop()
        assert servers, "no server was seen running: the test would prove nothing"
        assert run.watcher.wait_gone(5.0) == []


def test_a_killed_guard_is_reported_as_the_guards_death(tmp_path: Path) -> None:
    scenario = small_scenario(tmp_path, "guard", servers=("waitress",), duration="3s", warmup="0.1s")
    with watched_run([str(scenario), "--no-report"], tmp_path / "run") as run:
        guard = _guard_with_server(run.proc.pid)
        time.sleep(0.5)
        guard.kill()
        code = run.proc.wait(60)
        run.watcher.stop()
        assert run.watcher.wait_gone(5.0) == []
    (trial,) = read_results(run.results).trials
    assert code == 1 and not trial.status_ok and trial.failure is not None
    reason = trial.failure["reason"]
    assert f"the guard of waitress (pid {guard.pid}) was killed by SIGKILL" in reason, reason
    assert "the guard died, not the server" in reason
