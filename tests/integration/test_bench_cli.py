"""`loadbench bench` as users run it: refusals before any network use, exit codes, the JSON record."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from servers_for_tests import test_server

from loadbench.cli import cli, main
from loadbench.errors import TargetRefusedError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

DOCUMENTED_KEYS = {
    "kind", "trial_id", "index", "model", "server_model", "family", "server_options", "variant", "workload",
    "requests_spec", "load", "load_label", "repetition", "round", "started", "status_ok", "failure",
    "duration_s", "warmup_s", "requests", "ok", "rps", "latency_ms", "service_ms", "errors", "error_messages",
    "status", "error_rate", "bytes_in", "bytes_out", "target_rps", "dropped", "schedule_lag_ms", "saturated",
    "saturation_reasons", "engine", "client_cpu_pct", "server", "monitor", "timeline", "histogram",
    "service_histogram", "cpus",
}  # fmt: skip


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(argv)
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


@pytest.mark.parametrize("url", ["http://example.com/", "http://10.0.0.1:8080/", "http://[2001:db8::1]/"])
def test_remote_target_is_refused_before_any_socket_or_lookup(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def getaddrinfo(*args: object, **kwargs: object) -> list[object]:
        calls.append("getaddrinfo")
        raise AssertionError("name lookup attempted")

    def connect(self: socket.socket, address: object) -> None:
        calls.append("connect")
        raise AssertionError("connect attempted")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    result = CliRunner().invoke(cli, ["bench", url, "-c", "1", "-d", "1s"])
    assert isinstance(result.exception, TargetRefusedError)
    assert "--allow-remote" in str(result.exception) and "loopback" in str(result.exception)
    assert calls == []


def test_remote_refusal_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(["bench", "http://example.com/"], capsys)
    assert code == 2 and out == ""
    assert err.startswith("Error: target http://example.com is not a loopback address")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-r", "-5/s"], "--rate: '-5/s' is not a rate"),
        (["-r", "0/s"], "must be a positive rate"),
        (["-d", "0"], "--duration 0: must be longer than 0 s"),
        (["-c", "0"], "--connections 0: must be at least 1"),
        (["-c", "2", "-r", "5/s"], "exclude each other"),
        (["--stages", "10s"], "is not DURATION:TARGET"),
        (["--stages", "1s:10/s,1s:5c"], "mixes rates and connection counts"),
        (["--timeout", "0s"], "--timeout 0s: must be longer than 0 s"),
        (["-n", "0"], "--requests 0: must be at least 1"),
        (["--processes", "0"], "--processes 0: must be at least 1"),
        (["-H", "NoColon"], "is not 'Name: value'"),
        (["--body", "@/nonexistent/file"], "cannot read the file"),
        (["--mix", "nopath=2"], "write it like /path=3"),
        (["--cpus", "x"], "is not a CPU list"),
        (["--stages", "1s:1c", "-d", "5s"], "the stages set the duration"),
    ],
)  # fmt: skip
def test_bad_values_are_one_line_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(["bench", "http://127.0.0.1:9/", *args], capsys)
    assert code == 2, err
    assert message in err and err.count("\n") == 1 and out == ""


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http:///x", "has no host"),
        ("ftp://127.0.0.1/", "scheme 'ftp' is not supported"),
        ("nonsense", "no scheme"),
    ],
)
def test_bad_urls_exit_2(url: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["bench", url], capsys)
    assert code == 2 and message in err


def test_json_file_holds_the_trial_record_and_the_summary_leads_with_the_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "result.json"
    with test_server("ok") as srv:
        code, out, err = run_main(["bench", f"{srv.url}/hello", "-c", "2", "-d", "0.5s", "--json", str(path)],
                                  capsys)  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"loadbench bench {srv.url}/hello"
    assert lines[1].startswith(("OK: the engine kept up", "WARNING: the load generator did not deliver"))
    assert any(line.startswith("latency    p50 ") for line in lines)
    assert any(line.startswith("engine     loadbench/") for line in lines)
    record = json.loads(path.read_text())
    assert record.keys() >= DOCUMENTED_KEYS
    assert record["model"] == srv.url.removeprefix("http://")  # the target names the "model"
    assert (record["server"], record["service_ms"]) == (None, None)
    assert record["load"] == {"kind": "closed", "connections": 2} and record["load_label"] == "2c"
    assert record["workload"] == "/hello" and record["requests"] > 0
    assert record["status"] == {"200": record["ok"]}
    assert set(record["latency_ms"]) == {"min", "mean", "p50", "p90", "p95", "p99", "p99_9", "max"}
    assert record["errors"] == dict.fromkeys(
        ("connect_refused", "connect_timeout", "timeout", "reset", "protocol", "check_failed"), 0)  # fmt: skip  # noqa: E501


def test_json_to_stdout_moves_the_summary_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with test_server("ok") as srv:
        code, out, err = run_main(["bench", srv.url, "-r", "200/s", "-d", "0.5s", "--json", "-"], capsys)
    assert code == 0
    record = json.loads(out)
    assert record["load"]["kind"] == "open" and record["target_rps"] == 200.0
    assert record["service_ms"] is not None and record["schedule_lag_ms"] is not None
    assert "latency" in err and "(from the scheduled send)" in err


def test_saturation_is_a_warning_with_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    with test_server("slow", delay_ms=50) as srv:
        argv = ["bench", srv.url, "-r", "200/s", "-d", "0.6s", "--max-connections", "1"]
        code, out, _ = run_main(argv, capsys)
    assert code == 0
    assert out.splitlines()[1].startswith("WARNING: the load generator did not deliver the load asked")
    assert "dropped" in out


def test_a_run_without_responses_never_says_the_engine_kept_up(capsys: pytest.CaptureFixture[str]) -> None:
    with test_server("hang") as srv:
        code, out, _ = run_main(["bench", srv.url, "-c", "1", "-d", "0.3s", "--timeout", "0.5s"], capsys)
    assert code == 0
    assert out.splitlines()[1].startswith("WARNING: no response arrived in the measured window; all ")
    assert "OK: the engine kept up" not in out and "timeout 1" in out


def test_help_ends_with_examples() -> None:
    result = CliRunner().invoke(cli, ["bench", "--help"])
    assert result.exit_code == 0
    examples = result.output.split("Examples:")[1].splitlines()
    assert examples[1].strip() == "loadbench bench http://127.0.0.1:8000/plaintext -c 64 -d 10s --warmup 1s"


def test_the_command_module_imports_no_engine() -> None:
    import subprocess
    import sys

    code = "import sys, loadbench.cli.bench; print(sorted({'numpy', 'asyncio'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
