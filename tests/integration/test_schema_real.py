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


def test_a_quick_profiled_run_of_a_shipped_scenario_validates(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = _main(["run", "ci-smoke", "--quick", "--no-report", "--quiet", "--out", str(out), "--profile",
                  "--set", "load.connections=[4]"])  # fmt: skip
    assert code == 0
    # the header, one trial per server and one profile line per server (profiled, or saying why not)
    assert check_results_file(out / "results.jsonl") == 5
