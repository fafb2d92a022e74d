"""The history scenario end to end at --quick size: every chapter starts, serves, is measured and stopped,
and the report tells the story by family, with CGI set beside this run's measured interpreter start-up.

About 2 minutes (72 one-second trials, eight server starts, CGI's 10 s drain at 64 connections), so it is
marked slow: run it with `pytest -m slow tests/integration/test_history.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from runner_support import watched_run

from loadbench.results.file import read_results
from loadbench.scenario import find_scenario
from loadbench.servers import get_model

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


def test_history_quick_runs_every_available_chapter_and_explains_each_family(tmp_path: Path) -> None:
    with watched_run([str(find_scenario("history")), "--quick"], tmp_path / "run") as run:
        code = run.proc.wait(540)
        run.watcher.stop()
        assert run.watcher.wait_gone(5.0) == []
    assert code == 0, run.output()
    results = read_results(run.results)
    models = ["cgi", "nginx-fastcgi", "nginx-scgi", "apache-wsgi", "gunicorn", "uwsgi", "uvicorn", "granian"]
    available = [name for name in models if get_model(name).available() is None]
    assert sorted({t.model for t in results.trials}) == sorted(available)
    assert all(t.status_ok for t in results.trials), [t.failure for t in results.trials if not t.status_ok]
    assert len(results.trials) == 9 * len(available)
    if "cgi" in available:
        startup = results.header.env["python_startup_ms"]
        assert startup["bare"] > 0 and startup["with_app_import"] >= startup["bare"]
    text = (tmp_path / "run" / "report.html").read_text()
    assert "How each family serves" in text
    if "cgi" in available:
        assert "Process per request (cgi)" in text and "python -c pass" in text
    assert "Protocol hop (nginx-fastcgi)" in text and "Rust core (granian)" in text
