"""The runner with real servers: user apps by `module:app`, servers that fail to start, missing models.

Every run is the real CLI (`python -m loadbench run`) on a short scenario written into tmp_path, with
its process tree watched so a test also fails if anything is left running.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from runner_support import REPO, small_scenario, watched_run

from loadbench.results.file import read_results

pytestmark = pytest.mark.integration


def _app_table(module: str) -> str:
    return f'[app]\nmodule = "{module}"\ncwd = "{REPO}"\n'


@pytest.mark.parametrize(
    ("module", "servers"),
    [("tests.apps.tiny_wsgi:app", ("waitress", "gunicorn")), ("tests.apps.tiny_asgi:app", ("uvicorn",))],
    ids=["wsgi", "asgi"],
)
def test_user_app_by_module_runs_under_each_server(
    tmp_path: Path, module: str, servers: tuple[str, ...]
) -> None:
    scenario = small_scenario(tmp_path, "user-app", servers=servers, app=_app_table(module), path="/any")
    with watched_run([str(scenario), "--no-report"], tmp_path / "run") as run:
        code = run.proc.wait(120)
        run.watcher.stop()
    assert code == 0, run.output()
    results = read_results(run.results)
    assert [t.model for t in results.trials] == list(servers)
    for trial in results.trials:
        assert trial.status_ok, trial.failure
        assert trial.ok > 0 and trial.status == {"200": trial.requests}
        assert trial.bytes_in > trial.ok * len(b"tiny wsgi\n")  # the user's body, not the bundled app
    assert run.watcher.wait_gone(5.0) == []


def test_server_that_cannot_import_the_app_is_recorded_as_failed(tmp_path: Path) -> None:
    scenario = small_scenario(tmp_path, "no-app", servers=("waitress", "gunicorn"),
                              app=_app_table("nonexistent_mod:app"), connections=(2, 4))
    with watched_run([str(scenario), "--no-report"], tmp_path / "run") as run:
        code = run.proc.wait(120)
        run.watcher.stop()
    out = run.output()
    assert code == 1, out  # every trial failed: nothing was measured, so the run fails (issue 14)
    results = read_results(run.results)
    assert [t.model for t in results.trials] == ["waitress", "waitress", "gunicorn", "gunicorn"]
    for trial in results.trials:
        assert not trial.status_ok and trial.failure is not None
        assert "before it was ready" in trial.failure["reason"]
        assert "nonexistent_mod" in trial.failure["log_tail"], trial.failure
        assert trial.requests == 0 and trial.histogram is None and trial.latency_ms is None
    assert "4 trial(s) failed" in out
    assert run.watcher.wait_gone(5.0) == []


def test_failed_server_does_not_stop_the_next_one(tmp_path: Path) -> None:
    scenario = small_scenario(tmp_path, "picky", servers=("gunicorn", "waitress"),
                              app=_app_table("tests.apps.picky_wsgi:app"))
    with watched_run([str(scenario), "--no-report"], tmp_path / "run") as run:
        code = run.proc.wait(120)
        run.watcher.stop()
    assert code == 0, run.output()
    gunicorn, waitress = read_results(run.results).trials
    assert not gunicorn.status_ok and gunicorn.failure is not None
    assert "will not run under gunicorn" in gunicorn.failure["log_tail"] + gunicorn.failure["reason"]
    assert waitress.status_ok and waitress.ok > 0
    assert f"failed {gunicorn.trial_id}" in run.output()
    assert run.watcher.wait_gone(5.0) == []


def _without_gevent(tmp_path: Path) -> dict[str, str]:
    """An environment in which gevent cannot be found, as if it were not installed.

    A sitecustomize on PYTHONPATH sets sys.modules["gevent"] = None: importlib.util.find_spec("gevent")
    then returns None and `import gevent` raises ImportError, as when it is absent.
    """
    stub = tmp_path / "no-gevent"
    stub.mkdir()
    (stub / "sitecustomize.py").write_text('import sys\nsys.modules["gevent"] = None\n')
    path = os.pathsep.join(p for p in (str(stub), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def test_missing_model_is_skipped_with_install_hint(tmp_path: Path) -> None:
    scenario = small_scenario(tmp_path, "skip", servers=("gunicorn-gevent", "waitress"))
    with watched_run([str(scenario), "--no-report"], tmp_path / "run", env=_without_gevent(tmp_path)) as run:
        code = run.proc.wait(120)
    out = " ".join(run.output().split())
    assert code == 0, out
    assert "warning: skipping gunicorn-gevent" in out and "pip install gevent" in out
    assert [t.model for t in read_results(run.results).trials] == ["waitress"]


def test_missing_model_with_strict_is_an_error_and_starts_nothing(tmp_path: Path) -> None:
    scenario = small_scenario(tmp_path, "strict", servers=("waitress", "gunicorn-gevent"))
    env = _without_gevent(tmp_path)
    with watched_run([str(scenario), "--strict", "--no-report"], tmp_path / "run", env=env) as run:
        code = run.proc.wait(120)
        run.watcher.stop()
    out = " ".join(run.output().split())
    assert code in (1, 2), out
    assert "gunicorn-gevent" in out and "pip install gevent" in out
    assert run.watcher.seen == {}, "--strict started servers before refusing"
    assert not run.results.exists()


def test_an_app_of_the_other_face_runs_through_the_adapter_and_says_so(tmp_path: Path) -> None:
    scenario = small_scenario(tmp_path, "faces", servers=("waitress", "uvicorn"), path="/any",
                              app=_app_table("tests.apps.tiny_asgi:app"))
    with watched_run([str(scenario), "--no-report"], tmp_path / "run") as run:
        code = run.proc.wait(120)
    assert code == 0, run.output()
    waitress, uvicorn = read_results(run.results).trials
    assert waitress.status_ok and waitress.ok > 0, waitress.failure
    assert waitress.server_options["adapter"] == "a2wsgi.ASGIMiddleware"
    assert uvicorn.status_ok and uvicorn.ok > 0
    assert "adapter" not in uvicorn.server_options
