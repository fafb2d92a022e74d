"""Real records validate against `loadbench schema results`, strictly: `bench --json` from each engine and
load kind, and a real (quick, shortened, profiled) run of a shipped scenario with a `--set` override in its
header."""

from __future__ import annotations

from pathlib import Path

import pytest
from schema_check import check_results_file
from servers_for_tests import test_server

from loadbench.cli import main

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def _main(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as done:
        main(argv)
    code = done.value.code
    return code if isinstance(code, int) else 1


@pytest.mark.parametrize("options", [
    ["-c", "2"],
    ["-r", "200/s"],
    ["-c", "2", "--pipeline", "4", "--expect-status", "2xx"],
    ["--engine", "httpx", "-c", "2"],
], ids=["native-closed", "native-open", "native-pipeline-checks", "httpx"])  # fmt: skip
def test_bench_json_validates(tmp_path: Path, options: list[str]) -> None:
    path = tmp_path / "bench.json"
    with test_server("ok") as srv:
        code = _main(["bench", f"{srv.url}/hello", "-d", "0.4s", "--quiet", "--json", str(path), *options])
    assert code == 0
    assert check_results_file(path) == 1


def test_bench_json_of_the_engine_breadth_validates(tmp_path: Path) -> None:
    """Real records of the breadth's features: https (the TLS handshake timed apart), --targets with
    templates, failed response checks, and a trial --abort-on-fail ended (aborted: true, exit 10)."""
    import json

    from loadbench.servers.certs import make_certificate

    (tmp_path / "tls").mkdir()
    files = make_certificate(tmp_path / "tls")
    with test_server("ok", tls=(str(files.ca), str(files.cert), str(files.key))) as srv:
        code = _main(["bench", f"https://127.0.0.1:{srv.port}/", "-c", "2", "-d", "0.3s", "--quiet",
                      "--cacert", str(files.ca), "--json", str(tmp_path / "tls.json")])  # fmt: skip
    assert code == 0 and check_results_file(tmp_path / "tls.json") == 1
    record = json.loads((tmp_path / "tls.json").read_text())
    assert record["tls_ms"]["p50"] > 0 and record["connect_ms"]["p50"] > 0
    (tmp_path / "ids.csv").write_text("id\na\nb\n")
    with test_server("wrong-body") as srv:
        (tmp_path / "targets.txt").write_text(f"GET http://127.0.0.1:{srv.port}/t/{{seq}}\n"
                                              "X-Id: {csv:ids.csv:id}\n")  # fmt: skip
        code = _main(["bench", "--targets", str(tmp_path / "targets.txt"), "-c", "1", "-d", "2s", "--quiet",
                      "--expect-body", "ok", "--threshold", "check_failed == 0", "--abort-on-fail",
                      "--abort-delay", "0s", "--json", str(tmp_path / "aborted.json")])  # fmt: skip
    assert code == 10 and check_results_file(tmp_path / "aborted.json") == 1
    record = json.loads((tmp_path / "aborted.json").read_text())
    assert record["aborted"] is True and record["errors"]["check_failed"] > 0
    request = record["requests_spec"][0]
    assert request["path"] == "/t/{seq}" and request["template"] is True  # as written, marked a template


def test_a_quick_profiled_run_of_a_shipped_scenario_validates(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = _main(["run", "ci-smoke", "--quick", "--no-report", "--quiet", "--out", str(out), "--profile",
                  "--set", "load.connections=[4]"])  # fmt: skip
    assert code == 0
    # the header, one trial per server and one profile line per server (profiled, or saying why not)
    assert check_results_file(out / "results.jsonl") == 5
