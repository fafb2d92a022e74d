"""The native engine's breadth against real local servers: response checks, the connect/TTFB breakdown,
pipelining (with a server that closes after one response), Unix sockets."""

from __future__ import annotations

import dataclasses
import os
import tempfile

import pytest
from servers_for_tests import test_server

from loadbench.engine import drive
from loadbench.errors import UsageError
from loadbench.types import Closed, DriveOptions, Open, RequestSpec, ResponseCheck, Target

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def _n(n: int, **kw: object) -> DriveOptions:
    return DriveOptions(duration_s=None, max_requests=n, **kw)  # type: ignore[arg-type]


def test_checks_count_exactly_the_responses_that_fail() -> None:
    # wrong-body: of requests 1..400, multiples of 4 answer "no" (100), other multiples of 10 answer 500 "ok"
    # (20, 40, 60, ...: those not multiples of 4: 10, 30, 50, 70, 90, ... = 20).
    check = ResponseCheck(status=(200,), body=b"ok")
    with test_server("wrong-body") as srv:
        rec = drive(Target(port=srv.port), [RequestSpec(check=check)], Closed(connections=1), _n(400))
        assert srv.count() == 400
    assert rec.errors["check_failed"] == 120
    assert rec.requests == 280 == rec.ok and rec.status == {200: 280}
    assert rec.latency.count == 280 and rec.ttfb is not None and rec.ttfb.count == 280
    assert any("status 500, expected 200" in m for m in rec.error_messages)
    assert any("body does not contain 'ok'" in m for m in rec.error_messages)
    assert rec.error_rate == pytest.approx(120 / 400)


def test_a_regex_check_and_an_expected_non_2xx_status_count_as_ok() -> None:
    check = ResponseCheck(status=(200, 500), body_re=r"^(ok|no)$")
    with test_server("wrong-body") as srv:
        rec = drive(Target(port=srv.port), [RequestSpec(check=check)], Closed(connections=2), _n(200))
    assert rec.errors["check_failed"] == 0 and rec.requests == 200
    assert rec.status == {200: 190, 500: 10} and rec.ok == 200


def test_per_endpoint_checks_in_a_mix() -> None:
    good = RequestSpec(path="/ok", check=ResponseCheck(body=b"ok"))
    bad = RequestSpec(path="/status", check=ResponseCheck(status=(200,)))  # answers 503
    with test_server("bypath") as srv:
        rec = drive(Target(port=srv.port), [good, bad], Closed(connections=2), _n(300))
    assert rec.requests + rec.errors["check_failed"] == 300
    assert rec.status == {200: rec.requests} and 100 <= rec.errors["check_failed"] <= 200  # 1:1 mix


def test_checks_in_the_open_loop_and_on_a_chunked_body() -> None:
    check = ResponseCheck(body=b"helloworld")  # the chunks "hello", " ", "world" de-chunked: no match
    with test_server("chunked") as srv:
        rec = drive(Target(port=srv.port), [RequestSpec(check=check)], Open(rate_per_s=200),
                    DriveOptions(duration_s=0.5))  # fmt: skip
    assert rec.errors["check_failed"] > 50 and rec.requests == 0
    assert rec.service is not None and rec.service.count == 0
    with test_server("chunked") as srv:
        rec = drive(Target(port=srv.port), [RequestSpec(check=ResponseCheck(body=b"hello world"))],
                    Open(rate_per_s=200), DriveOptions(duration_s=0.5))  # fmt: skip
    assert rec.errors["check_failed"] == 0 and rec.requests > 50


def test_ttfb_and_connect_are_recorded_beside_latency() -> None:
    # split: the head after 20 ms, the rest of the body 20 ms later
    with test_server("split", delay_ms=20) as srv:
        rec = drive(Target(port=srv.port), [RequestSpec()], Closed(connections=2), _n(20))
    assert rec.ttfb is not None and rec.connect is not None
    assert rec.ttfb.count == rec.latency.count == 20 and rec.connect.count == 2
    assert 18e6 <= rec.ttfb.percentile(50) <= 35e6
    assert 38e6 <= rec.latency.percentile(50) <= 70e6
    assert rec.connect.max_ns < 500e6
    record = rec.to_record()
    assert record["ttfb_ms"]["p50"] < record["latency_ms"]["p50"] and record["connect_ms"]["max"] is not None


def test_ttfb_in_the_open_loop_comes_from_the_actual_send() -> None:
    with test_server("split", delay_ms=20, slots=100) as srv:
        rec = drive(Target(port=srv.port), [RequestSpec()], Open(rate_per_s=50), DriveOptions(duration_s=1.0))
    assert rec.ttfb is not None and rec.service is not None and rec.ttfb.count == rec.service.count > 30
    assert 18e6 <= rec.ttfb.percentile(50) <= 35e6 and rec.service.percentile(50) >= 38e6


def test_pipelining_gets_every_response_with_per_request_latency() -> None:
    with test_server("ok") as srv:
        rec = drive(Target(port=srv.port), [RequestSpec()], Closed(connections=2), _n(2000, pipeline=16))
        assert srv.count() == 2000
    assert rec.requests == 2000 == rec.ok and rec.error_count == 0 and rec.latency.count == 2000
    assert rec.pipeline == 16 and rec.pipeline_downgrades == 0


def test_pipelining_when_a_read_ends_at_a_head_and_the_body_follows() -> None:
    # uvicorn writes head and body apart: a read can end exactly after a head. That response is spread
    # over reads (TTFB at the head, latency at the body) and must never be taken for a whole one.
    with test_server("head-body", delay_ms=5) as srv:
        rec = drive(Target(port=srv.port), [RequestSpec()], Closed(connections=1), _n(100, pipeline=4))
        assert srv.count() == 100
    assert rec.requests == 100 == rec.ok and rec.error_count == 0
    assert rec.latency.percentile(50) - rec.ttfb.percentile(50) >= 3e6  # the body came 5 ms after the head


def test_pipelining_for_a_duration_matches_the_server_count() -> None:
    with test_server("dynamic") as srv:
        rec = drive(Target(port=srv.port), [RequestSpec()], Closed(connections=2),
                    DriveOptions(duration_s=1.0, pipeline=8))  # fmt: skip
        seen = srv.count()
    assert rec.error_count == 0 and rec.requests > 500
    assert seen == rec.requests  # every request the server saw was answered and counted


def test_a_server_that_closes_after_one_response_is_a_counted_downgrade() -> None:
    with test_server("close") as srv:
        rec = drive(Target(port=srv.port), [RequestSpec()], Closed(connections=2), _n(200, pipeline=8))
        assert srv.count() >= 200
    assert rec.requests == 200 and rec.error_count == 0
    assert rec.pipeline_downgrades >= 1


def test_pipelining_with_checks() -> None:
    check = ResponseCheck(status=(200,), body=b"ok")
    with test_server("wrong-body") as srv:
        rec = drive(Target(port=srv.port), [RequestSpec(check=check)], Closed(connections=1),
                    _n(400, pipeline=4))  # fmt: skip
        assert srv.count() == 400
    assert rec.errors["check_failed"] == 120 and rec.requests == 280


def test_unix_socket() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s.sock")
        with test_server("ok", unix=path):
            rec = drive(Target(port=80, host="localhost"), [RequestSpec()], Closed(connections=2),
                        _n(300, unix_socket=path))  # fmt: skip
    assert rec.requests == 300 == rec.ok and rec.connect is not None and rec.connect.count == 2


def test_bad_pipeline_depth_is_refused() -> None:
    with pytest.raises(UsageError, match="pipeline"):
        drive(Target(port=9), [RequestSpec()], Closed(connections=1), dataclasses.replace(_n(1), pipeline=0))


def test_the_python_api_pipelines_and_checks_like_bench() -> None:
    import loadbench

    with test_server("wrong-body") as srv:
        result = loadbench.bench(f"http://127.0.0.1:{srv.port}/", connections=1, requests=400, pipeline=4,
                                 expect_status="200", expect_body="ok")  # fmt: skip
        assert srv.count() == 400
    assert result.errors["check_failed"] == 120 and result.requests == 280
    assert result.to_json()["pipeline"] == 4
