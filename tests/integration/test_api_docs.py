"""docs/api.md runs: its Python examples in order, and its pytest example through pytester, where a failing
budget fails the test and every server is gone after teardown."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytest_plugins = ("pytester",)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
_BLOCK_RE = re.compile(r"(<!-- pytester: (?P<name>\S+) -->\n)?```python\n(?P<code>.*?)```", re.S)

MYAPP = '''
def app(environ, start_response):
    body = b"hello\\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''


def _blocks() -> tuple[list[str], dict[str, str]]:
    """The doc's executable blocks in order (padded so tracebacks name the doc's lines), and the pytester
    files by name."""
    text = DOC.read_text()
    run, files = [], {}
    for match in _BLOCK_RE.finditer(text):
        if match["name"]:
            files[match["name"]] = match["code"]
        else:
            run.append("\n" * text.count("\n", 0, match.start("code")) + match["code"])
    return run, files


def _refused(base_url: str) -> bool:
    parts = urlsplit(base_url)
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((parts.hostname or "127.0.0.1", parts.port or 80)) != 0


def test_the_python_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks, _ = _blocks()
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "api_docs"}
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), namespace)


def test_serve_off_the_main_thread_is_one_line() -> None:
    import threading

    import loadbench
    from loadbench.errors import UsageError

    caught: list[BaseException] = []

    def worker() -> None:
        try:
            with loadbench.serve("waitress"):
                pass
        except BaseException as exc:  # handed to the main thread
            caught.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(30)
    assert len(caught) == 1 and isinstance(caught[0], UsageError)
    assert "main thread" in str(caught[0]) and "\n" not in str(caught[0])


def test_the_pytest_example_passes_under_two_models(pytester: pytest.Pytester) -> None:
    _, files = _blocks()
    pytester.makepyfile(myapp=MYAPP, test_budget=files["test_budget.py"])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=2)
    deselected = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-m", "not loadbench")
    deselected.assert_outcomes(deselected=2)


def test_a_failing_budget_fails_and_the_servers_stop(pytester: pytest.Pytester) -> None:
    urls = pytester.path / "urls.txt"
    pytester.makepyfile(myapp=MYAPP, test_failing=f'''
import pytest
import loadbench


@pytest.mark.loadbench
def test_impossible_budget(loadbench_serve):
    base_url = loadbench_serve("waitress", app="myapp:app")
    second = loadbench_serve("waitress")
    with open({str(urls)!r}, "a") as out:
        out.write(base_url + "\\n" + second + "\\n")
    result = loadbench.bench(base_url + "/", connections=2, duration="0.3s")
    assert result.latency_ms["p99"] < 0.000001, "budget exceeded"
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "--strict-markers")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*budget exceeded*"])
    started = urls.read_text().split()
    assert len(started) == 2
    assert all(_refused(url) for url in started), "a server outlived the failing test"
