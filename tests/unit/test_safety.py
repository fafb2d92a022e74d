"""Safety (issue 7, item 5), the pure parts: servers are configured for 127.0.0.1 only, load goes only to
loopback without --allow-remote (decided from the text, never by a lookup), and the HTML report escapes
what came from a user, a request header or a server log. The running-server checks (LISTEN sockets,
private 0700 log dirs) are in tests/integration/test_safety_servers.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from synthetic import write_synthetic_results

from loadbench.engine.targets import check_target, is_loopback_host, parse_url
from loadbench.errors import TargetRefusedError, UsageError
from loadbench.servers.base import AppSpec, ServerOptions
from loadbench.servers.registry import all_models
from loadbench.types import Target


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "::", "::1", "[::1]", "", " ", "192.168.1.10", "10.0.0.1", "8.8.8.8", "example.com",
     "localhost.example.com", "127.0.0.1 ", "0", "2130706433", "0x7f000001", "*"],
)
def test_server_options_refuse_every_host_but_ipv4_loopback(host: str) -> None:
    with pytest.raises(UsageError, match=r"127\.0\.0\.1"):
        ServerOptions(host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "127.255.255.254", "localhost"])
def test_server_options_accept_loopback(host: str) -> None:
    assert ServerOptions(host=host).bind_host.startswith("127.")


@pytest.mark.parametrize("model", [m.name for m in all_models()])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.0.0.9"])
def test_every_model_command_binds_the_loopback_address_only(model: str, host: str) -> None:
    (server,) = [m for m in all_models() if m.name == model]
    app = (AppSpec(kind="command", target="python -m http.server {port} --bind {host}") if model == "command"
           else AppSpec())
    opts = ServerOptions(host=host)
    argv = " ".join(server.command(app, opts, 8123))
    assert opts.bind_host in argv
    for address in re.findall(r"\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]*\]|(?<![\w.])::(?![\w])", argv):
        assert address.startswith("127."), (address, argv)
    assert "0.0.0.0" not in argv and "localhost" not in argv  # no name the resolver could map elsewhere


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True), ("LOCALHOST", True), ("localhost.", True), ("api.localhost", True),
        ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False), ("::", False), ("10.0.0.1", False), ("::ffff:8.8.8.8", False),
        ("example.com", False), ("localhost.example.com", False), ("127.0.0.1.nip.io", False),
        ("127.1", False), ("2130706433", False), ("0x7f.0.0.1", False), ("", False), ("fe80::1%lo", False),
    ],
)
def test_loopback_is_decided_from_the_text(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_remote_target_needs_allow_remote_and_says_so() -> None:
    target = Target(scheme="http", host="example.com", port=80)
    with pytest.raises(TargetRefusedError, match="--allow-remote"):
        check_target(target, allow_remote=False)
    check_target(target, allow_remote=True)  # the user's explicit choice


@pytest.mark.parametrize(
    "url",
    ["http://user@example.com/", "http://127.0.0.1@example.com/", "http://localhost:80@example.com/",
     "http://example.com#@127.0.0.1/", "http://example.com?@127.0.0.1/", "http://127.0.0.1.example.com/"],
)
def test_url_tricks_do_not_pass_for_loopback(url: str) -> None:
    """Userinfo, fragments and queries must not make a remote host look local."""
    try:
        target, _ = parse_url(url)
    except UsageError:
        return  # refused as malformed: also safe
    with pytest.raises(TargetRefusedError):
        check_target(target, allow_remote=False)


# ---- the HTML report escapes strings from users, headers and server logs -------------------------------

PAYLOADS = {
    "hostname": "<script>alert('hostname')</script>",
    "cpu": "<img src=x onerror=alert('cpu')>",
    "scenario": "</pre><script>alert('scenario')</script>",
    "threshold": "<script>alert('threshold')</script>",
    "error": "<script>alert('error')</script>",
    "header": "<svg onload=alert('header')>",
    "reason": "<script>alert('reason')</script>",
    "log": "</textarea><script>alert('log')</script><img src=x onerror=alert('log2')>",
}


@pytest.fixture(scope="module")
def hostile_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results file whose every free-text field (env, scenario, thresholds, error messages, request
    headers, failure reason and server log tail) carries markup."""
    path = write_synthetic_results(
        tmp_path_factory.mktemp("evil") / "results.jsonl", seed=5, models=("uvicorn", "waitress"),
        workloads=("/plaintext",), loads=(16,), repetitions=2, failed=(1,), latency_samples=200,
    )
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    header["env"]["hostname"] = PAYLOADS["hostname"]
    header["env"]["cpu_model"] = PAYLOADS["cpu"]
    header["scenario"]["text"] = PAYLOADS["scenario"]
    header["scenario"]["thresholds"] = [PAYLOADS["threshold"]]
    out = [json.dumps(header)]
    for line in lines[1:]:
        trial = json.loads(line)
        if trial["status_ok"]:
            trial["error_messages"] = {PAYLOADS["error"]: 3}
            trial["requests_spec"] = [{"method": "GET", "path": "/plaintext", "weight": 1.0,
                                       "headers": [["X-Evil", PAYLOADS["header"]]]}]
        else:
            trial["failure"] = {"reason": PAYLOADS["reason"], "log_tail": PAYLOADS["log"]}
        out.append(json.dumps(trial))
    path.write_text("\n".join(out) + "\n")
    return path


def test_html_report_escapes_user_header_and_server_log_text(hostile_results: Path) -> None:
    from loadbench.report import build_report

    page = build_report(hostile_results, "html")
    assert not re.search(r"<(script|img|iframe|textarea)\b", page, re.I)
    assert not re.search(r"<[^>]*\bon(load|error)\s*=", page, re.I)
    assert "</pre><script" not in page
    # The failure's reason and the server's log are shown (as text), so their escaping was exercised.
    for name in ("reason", "log"):
        assert re.search(rf"alert\((&#39;|&#x27;|'){name}(&#39;|&#x27;|')\)", page), name
    assert "&lt;script&gt;" in page


def test_markdown_report_escapes_the_same_text(hostile_results: Path) -> None:
    from loadbench.report import build_report

    markdown = build_report(hostile_results, "md")
    assert not re.search(r"<(script|img|iframe|textarea|svg)\b", markdown, re.I)
