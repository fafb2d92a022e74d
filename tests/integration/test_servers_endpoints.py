"""Every server model answers every bundled-app endpoint the same way (WSGI and ASGI faces alike)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from loadbench.servers import AppSpec, ServerOptions, get_model, model_names

pytestmark = pytest.mark.integration


#: Models with no Python behind them (static files and fixed answers only), and the user-command model.
NOT_THE_APP = {"nginx", "apache", "apache-worker", "apache-prefork", "command"}


# A model joins by being registered; the original five stay first, waitress the reference.
MODELS = [name for name in model_names() if name not in NOT_THE_APP]
ENDPOINTS = [
    "/plaintext", "/json", "/health", "/static/1k.bin", "/static/100k.bin", "/static/1m.bin", "/io?ms=1",
    "/cpu?n=100", "/db?id=7", "/no/such/page", "/io?ms=abc",
]


def _fingerprint(answer: Any) -> tuple[int, str, str | None, str | None, int]:
    """What must match across models: status, body digest, Content-Type, Content-Length, body length."""
    digest = hashlib.sha256(answer.body).hexdigest()
    headers = answer.headers
    return answer.status, digest, headers.get("content-type"), headers.get("content-length"), len(answer.body)


@pytest.fixture(scope="module")
def answers(http: Callable[..., Any]) -> dict[str, dict[str, Any]]:
    """Start each available model once, fetch every endpoint, stop it: model -> path -> answer."""
    result: dict[str, dict[str, Any]] = {}
    for name in MODELS:
        model = get_model(name)
        if model.available() is not None:
            continue
        with model.start(AppSpec(), ServerOptions(workers=1)) as server:
            result[name] = {path: http(server.url, path) for path in ENDPOINTS}
    return result


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_model_gives_the_same_answer(answers: dict[str, dict[str, Any]], path: str) -> None:
    assert len(answers) >= 2, f"need two models to compare, have {sorted(answers)}"
    prints = {name: _fingerprint(by_path[path]) for name, by_path in answers.items()}
    reference = prints["waitress"] if "waitress" in prints else next(iter(prints.values()))
    differing = {name: fp for name, fp in prints.items() if fp != reference}
    assert not differing, f"{path}: reference {reference}, differing {differing}"


@pytest.mark.parametrize(
    ("path", "status", "content_type", "body"),
    [
        ("/health", 200, "text/plain", b"ok"),
        ("/plaintext", 200, "text/plain", b"Hello, World!"),
        ("/json", 200, "application/json", b'{"message":"Hello, World!"}'),
        ("/no/such/page", 404, "text/plain", None),
        ("/io?ms=abc", 400, "text/plain", None),
    ],
)
def test_answers_are_the_bundled_apps(
    answers: dict[str, dict[str, Any]], path: str, status: int, content_type: str, body: bytes | None
) -> None:
    for name, by_path in answers.items():
        answer = by_path[path]
        assert answer.status == status, (name, answer)
        assert str(answer.headers.get("content-type", "")).startswith(content_type), (name, answer.headers)
        if body is not None:
            assert answer.body == body, (name, answer.body)


@pytest.mark.parametrize(("name", "size"), [("1k.bin", 1024), ("100k.bin", 102400), ("1m.bin", 1048576)])
def test_static_files_have_their_size(answers: dict[str, dict[str, Any]], name: str, size: int) -> None:
    for model, by_path in answers.items():
        answer = by_path[f"/static/{name}"]
        got = (answer.status, len(answer.body), answer.headers.get("content-length"))
        assert got == (200, size, str(size)), model
