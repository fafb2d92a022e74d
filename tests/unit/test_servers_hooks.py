"""The launcher's hooks are declared members of every model, with defaults: no model needs getattr."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from loadbench.servers import AppSpec, ServerOptions, get_model, model_names
from loadbench.servers.external import ExternalModel

FILE_WRITERS = {"nginx", "nginx-gunicorn", "nginx-uvicorn", "apache", "apache-worker", "apache-prefork",
                "nginx-uwsgi", "nginx-fastcgi", "nginx-scgi", "cgi", "apache-wsgi"}
#: Models with a proxy in front of a Python server: its 502/503/504 mean "the app is not up yet".
PROXIES = {"nginx-gunicorn", "nginx-uvicorn", "nginx-uwsgi", "nginx-fastcgi", "nginx-scgi", "cgi"}


@pytest.mark.parametrize("name", model_names())
def test_every_model_declares_the_hooks(name: str) -> None:
    model = get_model(name)
    assert model.needs_run_dir is (name in FILE_WRITERS) is isinstance(model, ExternalModel)
    assert model.stop_signal == signal.SIGTERM
    assert isinstance(model.not_ready_statuses, frozenset)
    assert bool(model.not_ready_statuses) is (name in PROXIES)


@pytest.mark.parametrize("name", ["waitress", "gunicorn", "uvicorn", "hypercorn"])
def test_prepare_of_a_model_without_files_is_its_command(name: str, tmp_path: Path) -> None:
    model, app, opts = get_model(name), AppSpec(), ServerOptions()
    assert model.prepare(app, opts, 43210, tmp_path) == model.command(app, opts, 43210)
    assert not list(tmp_path.iterdir())
