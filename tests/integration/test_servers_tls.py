"""Serving with TLS (and HTTP/2): every model that can terminate TLS gives the bundled app's answers over
https with its throwaway certificate, negotiates HTTP/2 when asked, and leaves no process or key behind;
a model that cannot is a one-line error listing those that can."""

from __future__ import annotations

import hashlib
import importlib.util
import ssl
from typing import Any

import pytest

from loadbench.cli import main
from loadbench.errors import UsageError
from loadbench.servers import AppSpec, ServerOptions, get_model, model_names
from loadbench.servers.external import ExternalModel
from loadbench.servers.registry import tls_models

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

STATIC_PATHS = ["/plaintext", "/json", "/health", "/static/100k.bin"]  # what nginx and Apache serve too
APP_PATHS = [*STATIC_PATHS, "/io?ms=1", "/db?id=7", "/no/such/page"]
TLS_MODELS = [name for name in tls_models() if name != "gunicorn-gevent"]  # gevent: covered by gunicorn


def _fingerprint(response: Any) -> tuple[int, str, str]:
    return (response.status_code, hashlib.sha256(response.content).hexdigest(),
            response.headers.get("content-type", "").split(";")[0])  # fmt: skip


def _fetch(server: Any, paths: list[str], *, http2: bool) -> dict[str, Any]:
    import httpx

    context = ssl.create_default_context(cafile=str(server.tls.ca))
    with httpx.Client(verify=context, http2=http2, timeout=10) as client:
        return {path: client.get(server.url + path) for path in paths}


@pytest.fixture(scope="module")
def reference() -> dict[str, tuple[int, str, str]]:
    """uvicorn's plain-HTTP answers: what every model must give over TLS."""
    import httpx

    with get_model("uvicorn").start(AppSpec(), ServerOptions()) as server, httpx.Client() as client:
        return {path: _fingerprint(client.get(server.url + path)) for path in APP_PATHS}


@pytest.mark.parametrize("name", TLS_MODELS)
def test_tls_model_serves_the_same_answers_and_leaves_nothing(
    name: str, reference: dict[str, tuple[int, str, str]], processes_gone: Any
) -> None:
    model = get_model(name)
    if model.available() is not None:
        pytest.skip(str(model.available()))
    http2 = model.http2_capable and importlib.util.find_spec("h2") is not None
    static_only = isinstance(model, ExternalModel) and not model.serves_import_apps  # nginx, Apache
    paths = STATIC_PATHS if static_only else APP_PATHS
    with model.start(AppSpec(), ServerOptions(workers=1, tls=True, http2=http2)) as server:
        assert server.url.startswith("https://127.0.0.1:") and server.tls is not None
        tls_dir = server.tls.ca.parent
        assert tls_dir.stat().st_mode & 0o077 == 0  # private: the key is in there
        answers = _fetch(server, paths, http2=http2)
        pids = server.pids()
    for path in paths:
        assert _fingerprint(answers[path]) == reference[path], (name, path)
    versions = {response.http_version for response in answers.values()}
    assert versions == ({"HTTP/2"} if http2 else {"HTTP/1.1"}), (name, versions)
    assert processes_gone(pids) == []
    assert not tls_dir.exists()


def test_nginx_uvicorn_plain_serves_the_app(reference: dict[str, tuple[int, str, str]]) -> None:
    import httpx

    model = get_model("nginx-uvicorn")
    if model.available() is not None:
        pytest.skip(str(model.available()))
    with model.start(AppSpec(), ServerOptions()) as server, httpx.Client() as client:
        for path in APP_PATHS:
            assert _fingerprint(client.get(server.url + path)) == reference[path], path


def test_tls_on_a_model_that_cannot_is_one_line_listing_those_that_can() -> None:
    with pytest.raises(UsageError) as failed:
        get_model("waitress").start(AppSpec(), ServerOptions(tls=True))
    message = str(failed.value)
    assert "\n" not in message and "waitress cannot terminate TLS" in message
    assert "hypercorn" in message and "nginx" in message and "uvicorn" in message


def test_serve_tls_refusal_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["serve", "waitress", "--tls"])
    _, err = capsys.readouterr()
    assert done.value.code == 2 and err.count("\n") == 1 and "models that can:" in err
    with pytest.raises(SystemExit) as done:
        main(["serve", "uvicorn", "--tls", "--http2"])
    _, err = capsys.readouterr()
    assert done.value.code == 2 and "uvicorn cannot serve HTTP/2" in err and "hypercorn" in err


def test_every_registered_model_says_whether_it_does_tls() -> None:
    for name in model_names():
        model = get_model(name)
        assert isinstance(model.tls_capable, bool) and isinstance(model.http2_capable, bool)
        assert model.tls_capable or not model.http2_capable
