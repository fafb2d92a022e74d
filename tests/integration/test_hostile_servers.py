"""The engine against servers that misbehave on purpose (issue 7, item 2): each case ends as a counted
error of its class, within the deadline, and the engine's memory stays bounded.

The servers are tests/servers_for_tests/server.py in its hostile modes (real processes, raw bytes);
the class each must give is documented in loadbench/engine/native/aio.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest
from servers_for_tests import test_server

from loadbench.engine import drive
from loadbench.results.metrics import Recording
from loadbench.types import Closed, DriveOptions, Load, Open, RequestSpec, Target

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
SLACK_S = 1.5  # start-up and scheduling on a shared 2-core machine
DURATION_S = 0.5
TIMEOUT_S = 0.5
GET = [RequestSpec(path="/")]


def timed(port: int, load: Load, *, warmup_s: float = 0.0) -> tuple[Recording, float]:
    options = DriveOptions(duration_s=DURATION_S, timeout_s=TIMEOUT_S, warmup_s=warmup_s)
    start = time.monotonic()
    rec = drive(Target(port=port), GET, load, options)
    return rec, time.monotonic() - start


def only(rec: Recording, error_class: str) -> bool:
    """Every transport error is of `error_class`, and its messages say so."""
    others = {k: n for k, n in rec.errors.items() if n and k != error_class}
    return not others and all(m.startswith(error_class + ": ") for m in rec.error_messages)


CASES = [
    # mode, class, a phrase of its message, delay_ms
    pytest.param("bad-status", "protocol", "bad status line", 0, id="invalid-status-line"),
    pytest.param("not-http", "protocol", "bad status line", 0, id="not-http-banner-then-silence"),
    pytest.param("bad-chunked", "protocol", "bad chunk size", 0, id="bad-chunked-encoding"),
    pytest.param("long-cl-close", "reset", "in the middle of the body", 0, id="cl-long-then-close"),
    pytest.param("long-cl-hang", "timeout", "no complete response", 0, id="cl-long-then-hang"),
    pytest.param("short-cl", "protocol", "unexpected bytes", 0, id="cl-short"),
    pytest.param("huge-header", "protocol", "head longer than", 0, id="1-MiB-header"),
    pytest.param("mid-body-close", "reset", "in the middle of the body", 0, id="closed-mid-body"),
    pytest.param("endless-chunked", "timeout", "no complete response", 0, id="endless-chunked-body"),
    pytest.param("endless-close", "timeout", "no complete response", 0, id="endless-body-until-close"),
    pytest.param("huge-chunk", "timeout", "no complete response", 0, id="one-1-TiB-chunk"),
    pytest.param("slow-first-byte", "timeout", "no complete response", 10_000, id="10-s-first-byte"),
]  # fmt: skip


@pytest.mark.parametrize(("mode", "error_class", "phrase", "delay_ms"), CASES)
@pytest.mark.parametrize("loop", ["closed", "open"])
def test_hostile_server_is_a_counted_error_of_its_class_on_time(
    mode: str, error_class: str, phrase: str, delay_ms: float, loop: str
) -> None:
    load: Load = Closed(connections=2) if loop == "closed" else Open(rate_per_s=40.0, max_connections=8)
    with test_server(mode, delay_ms=delay_ms) as srv:
        rec, elapsed = timed(srv.port, load)
        seen = srv.count()
    assert rec.errors[error_class] > 0, rec.error_messages
    assert only(rec, error_class), rec.error_messages
    assert any(phrase in m for m in rec.error_messages), rec.error_messages
    assert rec.ok == 0 and rec.requests == 0  # no response was complete and valid
    assert rec.errors[error_class] <= seen  # each error is one request the server saw
    assert elapsed <= DURATION_S + TIMEOUT_S + SLACK_S


@pytest.mark.parametrize("loop", ["closed", "open"])
def test_response_before_the_request_is_a_protocol_error(loop: str) -> None:
    # The server answers on accept and then once per request, so it is always one response ahead:
    # HTTP/1.1 cannot tell which response is whose, but the extra one arrives either with another
    # (bytes after a complete response) or on a connection with nothing in flight.
    load: Load = Closed(connections=2) if loop == "closed" else Open(rate_per_s=40.0, max_connections=8)
    with test_server("early") as srv:
        rec, elapsed = timed(srv.port, load)
    assert rec.errors["protocol"] > 0, rec.error_messages
    assert only(rec, "protocol"), rec.error_messages
    assert elapsed <= DURATION_S + TIMEOUT_S + SLACK_S


def test_requests_failing_across_phases_are_counted_once_and_the_run_ends_on_time() -> None:
    with test_server("slow-first-byte", delay_ms=10_000) as srv:
        rec, elapsed = timed(srv.port, Closed(connections=2), warmup_s=0.3)
    # The two requests sent in the warm-up (t = 0) time out inside the window (t = 0.5 s); their
    # replacements time out in the drain (t = 1.0 s), which waits for them up to the timeout.
    assert rec.errors["timeout"] == 4 and only(rec, "timeout")
    assert elapsed <= 0.3 + DURATION_S + TIMEOUT_S + SLACK_S


RSS_CHILD = textwrap.dedent("""
    import json, sys, threading
    import psutil
    import loadbench.engine.native.phases, loadbench.engine.native.recorder  # numpy + engine first
    from loadbench.engine import drive
    from loadbench.types import Closed, DriveOptions, RequestSpec, Target
    port, connections = int(sys.argv[1]), int(sys.argv[2])
    options = DriveOptions(duration_s=1.0, timeout_s=1.0)
    me = psutil.Process()
    base_mb = peak_mb = me.memory_info().rss / 2**20
    done = threading.Event()

    def sample():  # ru_maxrss would not do: it keeps the parent's peak across fork and exec
        global peak_mb
        while not done.wait(0.01):
            peak_mb = max(peak_mb, me.memory_info().rss / 2**20)

    sampler = threading.Thread(target=sample)
    sampler.start()
    rec = drive(Target(port=port), [RequestSpec(path="/")], Closed(connections=connections), options)
    done.set()
    sampler.join()
    print(json.dumps({"base_mb": base_mb, "peak_mb": peak_mb, "bytes_in": rec.bytes_in,
                      "errors": rec.errors}))
""")


@pytest.mark.parametrize(
    ("mode", "error_class"),
    [
        pytest.param("endless-chunked", "timeout"),
        pytest.param("endless-close", "timeout"),
        pytest.param("huge-chunk", "timeout"),
        pytest.param("huge-header", "protocol"),
    ],
)
def test_engine_memory_stays_bounded_against_endless_or_huge_responses(mode: str, error_class: str) -> None:
    with test_server(mode) as srv:
        out = subprocess.run([sys.executable, "-c", RSS_CHILD, str(srv.port), "4"], capture_output=True,
                             text=True, timeout=30, check=True).stdout  # fmt: skip
    result = json.loads(out)
    assert result["errors"][error_class] > 0
    if mode != "huge-header":
        assert result["bytes_in"] > 20 * 2**20  # the server did push a lot at the engine
    assert result["peak_mb"] - result["base_mb"] < 50, result
