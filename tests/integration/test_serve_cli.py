"""`loadbench serve` and `loadbench models` as users run them: real processes, real signals, exit codes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import psutil
import pytest

from loadbench.cli import main

pytestmark = pytest.mark.integration

_READY = re.compile(
    r"^(\S+) \((\S+)\) ready at (http://127\.0\.0\.1:\d+), pid (\d+), in (\d+) ms; Ctrl-C stops it$"
)


def _run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(argv)
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def test_models_lists_every_model_with_availability(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run_main(["models"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["MODEL", "FAMILY", "AVAILABLE", "DESCRIPTION"]
    table = lines[1:lines.index("")]  # the table, then one line per capability
    rows = {line.split()[0]: line.split()[1:3] for line in table}
    assert rows["waitress"] == ["threaded", "yes"]
    assert rows["gunicorn"] == ["pre-fork", "yes"]
    assert rows["uvicorn"] == ["event-loop", "yes"]
    assert set(rows) == {
        "waitress", "gunicorn", "gunicorn-gthread", "gunicorn-gevent", "uvicorn", "hypercorn",
        "nginx", "nginx-gunicorn", "nginx-uvicorn", "apache", "apache-worker", "apache-prefork", "command",
        "uwsgi", "nginx-uwsgi", "nginx-fastcgi", "nginx-scgi", "cgi", "apache-wsgi", "granian",
        "granian-wsgi",
    }


def test_serve_unknown_model_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run_main(["serve", "gunicron"], capsys)
    assert code == 2
    assert "unknown server model 'gunicron'; did you mean 'gunicorn'?" in err
    assert "known models: waitress, gunicorn, gunicorn-gthread, gunicorn-gevent, uvicorn" in err


def test_serve_help_lists_models_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run_main(["serve", "--help"], capsys)
    assert code == 0
    assert "MODEL is one of: waitress, gunicorn" in out
    assert "Examples:" in out


@pytest.mark.parametrize(
    ("name", "family", "sig"),
    [("uvicorn", "event-loop", signal.SIGINT), ("gunicorn", "pre-fork", signal.SIGINT),
     ("waitress", "threaded", signal.SIGTERM)],
)
def test_serve_runs_until_signalled_then_leaves_nothing(
    name: str, family: str, sig: int, http: Callable[..., Any], processes_gone: Callable[..., list[int]]
) -> None:
    argv = [sys.executable, "-m", "loadbench", "serve", name, "--port", "0", "--workers", "2"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as serve:
        try:
            assert serve.stdout is not None
            line = serve.stdout.readline().strip()
            match = _READY.match(line)
            assert match, f"unexpected first line {line!r}"
            assert match[1] == name and match[2] == family
            url, pid = match[3], int(match[4])
            assert http(url, "/health").body == b"ok"
            tree = [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
            serve.send_signal(sig)
            code = serve.wait(15)
        finally:
            if serve.poll() is None:
                serve.kill()
        stderr = serve.stderr.read() if serve.stderr else ""
    assert code == 0, stderr
    assert f"{name} stopped" in stderr
    assert processes_gone(tree, 5.0) == []
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
