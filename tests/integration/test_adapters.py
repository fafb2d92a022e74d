"""An app of the other face is served through a2wsgi, by any model, with the bundled app's answers.

The bundled app's WSGI face under the ASGI-only servers and its ASGI face under the WSGI-only ones
(declared, and detected) answer like waitress serving the WSGI face directly; the adapter is named on
the ServerProcess (and so in each result's server_options.adapter).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from loadbench.servers import AppSpec, ServerOptions, get_model

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

WSGI_FACE = "loadbench.app.wsgi:application"
ASGI_FACE = "loadbench.app.asgi:application"
PATHS = ["/plaintext", "/json", "/db?id=7", "/io?ms=1", "/static/1k.bin", "/no/such/page", "/io?ms=abc"]

CASES = [
    # (model, app target, declared interface, expected adapter)
    ("uvicorn", WSGI_FACE, "wsgi", "a2wsgi.WSGIMiddleware"),
    ("granian", WSGI_FACE, "auto", "a2wsgi.WSGIMiddleware"),
    ("gunicorn", ASGI_FACE, "asgi", "a2wsgi.ASGIMiddleware"),
    ("nginx-uwsgi", ASGI_FACE, "auto", "a2wsgi.ASGIMiddleware"),
    ("hypercorn", WSGI_FACE, "wsgi", "a2wsgi.WSGIMiddleware"),  # any ASGI-only model, by its interfaces
    ("uvicorn", ASGI_FACE, "auto", None),  # the same face: no adapter
]


def _answer(http: Callable[..., Any], url: str, path: str) -> tuple[int, str | None, bytes]:
    answer = http(url, path)
    return answer.status, answer.headers.get("content-type"), answer.body


@pytest.fixture(scope="module")
def reference(http: Callable[..., Any]) -> dict[str, tuple[int, str | None, bytes]]:
    with get_model("waitress").start(AppSpec(), ServerOptions()) as server:
        return {path: _answer(http, server.url, path) for path in PATHS}


@pytest.mark.parametrize(("name", "target", "interface", "adapter"), CASES,
                         ids=[f"{c[0]}-{c[2]}-{c[1].split('.')[-1]}" for c in CASES])
def test_the_other_face_is_adapted_and_answers_alike(
    name: str, target: str, interface: str, adapter: str | None, http: Callable[..., Any],
    reference: dict[str, tuple[int, str | None, bytes]],
) -> None:
    model = get_model(name)
    if model.available() is not None:
        pytest.skip(str(model.available()))
    app = AppSpec(kind="import", target=target, interface=interface)  # type: ignore[arg-type]
    with model.start(app, ServerOptions(workers=1)) as server:
        assert server.adapter == adapter
        answers = {path: _answer(http, server.url, path) for path in PATHS}
    assert answers == reference
