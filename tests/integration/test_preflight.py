"""The strict preflight: wrong framing and (for the bundled app) wrong answers are caught before any load,
the block becomes failed trials naming the endpoint, and the run goes on."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from servers_for_tests import SERVER, test_server

from loadbench.engine.preflight import preflight
from loadbench.plan import build_plan
from loadbench.results.file import read_results
from loadbench.runner import run_plan
from loadbench.scenario import load_scenario
from loadbench.servers.certs import make_certificate
from loadbench.types import DriveOptions, RequestSpec, Target

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

OPTIONS = DriveOptions(timeout_s=1.0)


def _check(port: int, *paths: str, bundled: bool = False, scheme: str = "http", cacert: str | None = None
           ) -> list[str]:  # fmt: skip
    requests = [RequestSpec(path=path) for path in paths]
    options = DriveOptions(timeout_s=1.0, cacert=cacert)
    return preflight(Target(scheme=scheme, port=port), requests, options, bundled=bundled)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "words"),
    [
        pytest.param("/short-cl", "Content-Length 2 but the body is", id="content-length-shorter"),
        pytest.param("/long-cl-close", "Content-Length 100 but the body is 10 bytes (shorter)", id="longer"),
        pytest.param("/bad-chunked", "not hex: broken chunked encoding", id="bad-chunked"),
        pytest.param("/bad-status", "not an HTTP/1.x status line", id="bad-status"),
    ],
)
def test_framing_problems_are_named(path: str, words: str) -> None:
    with test_server("bypath") as srv:
        problems = _check(srv.port, path, "/ok", "/chunked")
    assert len(problems) == 1 and problems[0].startswith(f"GET {path}: ") and words in problems[0], problems


def test_good_framing_passes_with_any_status() -> None:
    with test_server("chunked") as srv:
        assert _check(srv.port, "/") == []
    with test_server("status", status=503) as srv:  # measuring a failing path on purpose stays possible
        assert _check(srv.port, "/") == []


def test_a_wrong_body_for_the_bundled_app_is_caught(tmp_path: Path) -> None:
    with test_server("ok") as srv:  # answers "ok" where the bundled app says "Hello, World!"
        problems = _check(srv.port, "/plaintext", bundled=True)
        assert _check(srv.port, "/plaintext", bundled=False) == []
    assert len(problems) == 1 and "GET /plaintext: body b'ok' (2 bytes)" in problems[0]
    assert "Hello, World!" in problems[0]


def test_preflight_speaks_tls(tmp_path: Path) -> None:
    files = make_certificate(tmp_path)
    with test_server("bypath", tls=(str(files.ca), str(files.cert), str(files.key))) as srv:
        assert _check(srv.port, "/ok", scheme="https", cacert=str(files.ca)) == []
        problems = _check(srv.port, "/short-cl", scheme="https", cacert=str(files.ca))
    assert len(problems) == 1 and "Content-Length 2" in problems[0]


def test_a_block_failing_preflight_sends_no_load_and_the_run_goes_on(tmp_path: Path) -> None:
    """The command server answers /short-cl with a wrong Content-Length: both its blocks (repeat 2) fail
    before any load, each naming the endpoint; the server saw only the preflight's requests."""
    scenario = tmp_path / "bad.toml"
    scenario.write_text(f"""name = "bad"
[app]
command = ["{sys.executable}", "{SERVER}", "bypath", "--port", "{{port}}"]
ready_path = "/ok"
[[endpoints]]
path = "/ok"
[[endpoints]]
path = "/short-cl"
[load]
connections = [2]
duration = "0.3s"
warmup = "0s"
repeat = 2
""", encoding="utf-8")  # fmt: skip
    outcome = run_plan(build_plan(load_scenario(scenario)), run_dir=tmp_path / "run")
    assert (outcome.trials_planned, outcome.trials_written, outcome.trials_failed) == (4, 4, 4)
    for trial in read_results(outcome.results_path).trials:
        assert trial.failure is not None and trial.requests == 0
        reason = trial.failure["reason"]
        assert reason.startswith("preflight failed before any load: GET /short-cl: Content-Length 2")


def test_bundled_answers_checked_per_server_and_no_preflight_turns_it_off(tmp_path: Path) -> None:
    """nginx serves no /io (404 where the bundled app answers 200): its block fails preflight, uvicorn's
    is measured; with preflight = false both are measured."""
    body = """[[servers]]
model = "nginx"
[[servers]]
model = "uvicorn"
[[endpoints]]
path = "/io?ms=1"
[load]
connections = [2]
duration = "0.3s"
warmup = "0s"
repeat = 1
"""
    for preflight_on in (True, False):
        scenario = tmp_path / f"pf-{preflight_on}.toml"
        scenario.write_text(f'name = "pf"\n{body}preflight = {str(preflight_on).lower()}\n', encoding="utf-8")
        loaded = load_scenario(scenario)
        from loadbench.servers import get_model

        if get_model("nginx").available() is not None:
            pytest.skip("nginx is not installed")
        outcome = run_plan(build_plan(loaded), run_dir=tmp_path / f"run-{preflight_on}")
        trials = {t.model: t for t in read_results(outcome.results_path).trials}
        assert trials["uvicorn"].failure is None and trials["uvicorn"].requests > 0
        if preflight_on:
            failure = trials["nginx"].failure
            assert failure is not None
            assert "GET /io?ms=1: status 404, but the bundled app answers 200" in failure["reason"]
        else:
            assert trials["nginx"].failure is None and trials["nginx"].status.get("404", 0) > 0  # type: ignore[call-overload]
