"""Table tests of the engine's breadth: status lists, check judging, chunked bodies, the TTFB fold, the new
threshold metrics, scenario expect_* keys and bench's new options."""

from __future__ import annotations

from array import array

import numpy as np
import pytest
from click.testing import CliRunner
from gate_fakes import FakeTrial

from loadbench.cli.bench import command as bench
from loadbench.engine.native.checks import CompiledCheck, dechunk, response_body, status_list_text
from loadbench.engine.native.recorder import CHECK_FAILED_STATUS, STATUS_BITS, Recorder
from loadbench.errors import ScenarioError, UsageError
from loadbench.gate.check import metric_value
from loadbench.scenario import known_model_names, parse_scenario
from loadbench.scenario.thresholds import MetricKind, parse_threshold
from loadbench.types import ResponseCheck
from loadbench.units import parse_statuses


@pytest.mark.parametrize(("text", "codes"), [
    ("200", (200,)), ("200,204", (200, 204)), ("2xx", tuple(range(200, 300))),
    ("2xx,404", (*range(200, 300), 404)), ("200-202", (200, 201, 202)), (" 3XX ", tuple(range(300, 400))),
])  # fmt: skip
def test_parse_statuses(text: str, codes: tuple[int, ...]) -> None:
    assert parse_statuses(text) == codes


@pytest.mark.parametrize("text", ["", "2x", "600", "abc", "299-200", "200,,204", "6xx"])
def test_parse_statuses_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="--expect-status"):
        parse_statuses(text)


def test_status_list_text_folds_whole_classes() -> None:
    assert status_list_text((*range(200, 300), 301)) == "2xx,301"
    assert status_list_text((200, 204)) == "200,204"


RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=1\r\nlo\r\n0\r\n\r\n"
INTERIM = b"HTTP/1.1 100 Continue\r\n\r\n" + RESP


@pytest.mark.parametrize(("raw", "body"), [(RESP, b"hello"), (CHUNKED, b"hello"), (INTERIM, b"hello"),
                                           (b"HTTP/1.1 200 OK\r\n", b"")])  # fmt: skip
def test_response_body(raw: bytes, body: bytes) -> None:
    assert response_body(raw) == body


def test_dechunk_stops_where_the_bytes_stop() -> None:
    assert dechunk(b"3\r\nabc\r\n5\r\nde") == b"abcde"
    assert dechunk(b"zz\r\nabc") == b""


@pytest.mark.parametrize(("check", "status", "raw", "problem"), [
    (ResponseCheck(status=(200,)), 200, RESP, None),
    (ResponseCheck(status=(200,)), 503, RESP, "status 503, expected 200"),
    (ResponseCheck(body=b"ell"), 200, CHUNKED, None),
    (ResponseCheck(body=b"bye"), 200, RESP, "body does not contain 'bye'"),
    (ResponseCheck(body_re=r"^h.l+o$"), 200, RESP, None),
    (ResponseCheck(body_re=r"^x"), 200, RESP, "body does not match /^x/"),
])  # fmt: skip
def test_check_problem(check: ResponseCheck, status: int, raw: bytes, problem: str | None) -> None:
    found = CompiledCheck.of(check).problem(status, raw)
    assert (found is None) if problem is None else (found is not None and found.startswith(problem))


def test_fold_derives_ttfb_by_counts_and_drops_check_failures() -> None:
    rec = Recorder(open_loop=False)
    rec.begin()
    for ns in (1_000_000, 2_000_000, 3_000_000):
        rec.lat.append((ns << STATUS_BITS) | 200)
    rec.lat.append((9_000_000 << STATUS_BITS) | CHECK_FAILED_STATUS)
    rec.split.extend(array("q", [3_000_000, 500_000]))  # the 3 ms response's first byte came at 0.5 ms
    rec.conn.append(40_000)
    rec.fold()
    assert rec.requests == 3 and rec.latency.count == 3 and rec.status[CHECK_FAILED_STATUS] == 0
    assert rec.ttfb.count == 3 and rec.ttfb.sum_ns == 3_500_000
    assert rec.ttfb.percentile(0) == pytest.approx(500_000, rel=1e-3)
    assert rec.ttfb.percentile(100) == pytest.approx(2_000_000, rel=1e-3)
    assert rec.connect.count == 1 and int(np.round(rec.connect.mean_ns)) == 40_000


@pytest.mark.parametrize(("text", "metric"), [("connect_p99 < 5ms", "connect_p99"),
                                              ("ttfb_p50 < 1ms", "ttfb_p50"),
                                              ("tls_p99 < 20ms", "tls_p99"),
                                              ("check_failed == 0", "check_failed")])
def test_breakdown_thresholds_parse(text: str, metric: str) -> None:
    t = parse_threshold(text)
    assert t.metric == metric
    assert t.kind is (MetricKind.COUNT if metric == "check_failed" else MetricKind.TIME)


def test_breakdown_metric_values() -> None:
    trial = FakeTrial(connect_ms={"p99": 0.2}, ttfb_ms={"p50": 0.4, "p99_9": 3.0}, tls_ms={"p99": 1.5},
                      errors={"check_failed": 7})  # fmt: skip
    assert metric_value(trial, "connect_p99") == 0.2
    assert metric_value(trial, "tls_p99") == 1.5
    assert metric_value(FakeTrial(connect_ms={"p99": 0.2}), "tls_p99") is None  # plain HTTP: no figure
    assert metric_value(trial, "ttfb_p99.9") == 3.0
    assert metric_value(trial, "check_failed") == 7
    assert metric_value(FakeTrial(), "ttfb_p50") is None


SCENARIO = """\
name = "t"
[[servers]]
model = "uvicorn"
[[endpoints]]
path = "/plaintext"
{extra}
[load]
connections = [1]
"""


def _parse(extra: str) -> object:
    return parse_scenario(SCENARIO.format(extra=extra), path="t.toml", cpus=(0, 1),
                          known_models=known_model_names())  # fmt: skip


def test_scenario_expect_keys() -> None:
    scenario = _parse('expect_status = "2xx,404"\nexpect_body = "Hello"')
    spec = scenario.workloads[0].requests[0]  # type: ignore[attr-defined]
    assert spec.check == ResponseCheck(status=(*range(200, 300), 404), body=b"Hello")
    assert _parse("expect_status = [200, 204]").workloads[0].requests[0].check.status == (200, 204)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("extra", "problem"), [('expect_status = "2x"', "expect_status"),
                                                ('expect_body_re = "("', "expect_body_re"),
                                                ("expect_status = true", "expect_status")])  # fmt: skip
def test_scenario_expect_keys_refused(extra: str, problem: str) -> None:
    with pytest.raises(ScenarioError, match=problem):
        _parse(extra)


@pytest.mark.parametrize(("args", "message"), [
    (["--expect-status", "2x"], "--expect-status"),
    (["--expect-body-re", "("], "not a regular expression"),
    (["--expect-body", ""], "--expect-body"),
    (["--pipeline", "0"], "--pipeline 0"),
    (["--pipeline", "2000"], "--pipeline 2000"),
    (["--pipeline", "4", "-r", "100/s"], "closed loop"),
    (["--unix-socket", "/nonexistent/x.sock"], "--unix-socket"),
    (["--expect-status", "200", "--engine", "locust"], "need --engine native"),
])  # fmt: skip
def test_bench_refuses_bad_values(args: list[str], message: str) -> None:
    result = CliRunner().invoke(bench, ["http://127.0.0.1:9/", "-d", "1s", *args])
    assert result.exit_code != 0
    assert isinstance(result.exception, UsageError) and message in str(result.exception)


def _load(extra: str, engine: str = "") -> object:
    text = (f'name = "t"\n{engine}\n[[servers]]\nmodel = "uvicorn"\n[[endpoints]]\npath = "/"\n'
            f"[load]\n{extra}\n")
    return parse_scenario(text, path="t.toml", cpus=(0, 1), known_models=known_model_names())


def test_scenario_pipeline() -> None:
    assert _load("connections = [4]\npipeline = 16").load.pipeline == 16  # type: ignore[attr-defined]
    assert _load("connections = [4]").load.pipeline == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(("extra", "engine", "problem"), [
    ("connections = [4]\npipeline = 0", "", "t.toml:9: [load] pipeline: 0 must be at least 1"),
    ("connections = [4]\npipeline = 2000", "", "t.toml:9: [load] pipeline: 2000 must be 1 (no pipelining) "
     "to 1024"),
    ("rates = [100]\npipeline = 4", "", "t.toml:9: [load] pipeline: 4: pipelining needs a closed loop "
     "(connections = [...] or connection stages such as \"10s:64c\"); drop rates or the pipeline"),
    ("connections = [4]\npipeline = 4", 'engine = "httpx"', "[load] pipeline: pipeline = 4 needs engine = "
     "\"native\" (the httpx engine does not pipeline)"),
])  # fmt: skip
def test_scenario_pipeline_refused(extra: str, engine: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as info:
        _load(extra, engine)
    assert problem in str(info.value)
