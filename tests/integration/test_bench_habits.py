"""`bench` with other tools' spellings against a real server: wrk's -t and --latency, wrk2's -R, oha's -z,
k6 thresholds that end the run with exit 10, --quiet."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from loadbench.cli import main
from loadbench.errors import ExitCode

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    import loadbench

    with loadbench.serve("waitress") as base_url:
        yield base_url + "/plaintext"


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), out, err


def test_wrk_spelling(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["bench", url, "-t", "64", "-c", "4", "-d", "0m0.5s", "--latency"], capsys)
    assert code == 0, err
    assert err.count("warning: -t 64") == 1
    assert "p99" in out


def test_wrk2_and_oha_spellings_with_json(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["bench", url, "-R", "100", "-z", "0.5s", "--json", "-", "--quiet"], capsys)
    assert code == 0
    record = json.loads(out)
    assert record["target_rps"] == 100 and record["requests"] > 0


def test_a_failed_threshold_exits_10(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["bench", url, "-c", "2", "-d", "0.3s", "--threshold", "p(99)<0.000001",
                         "--threshold", "rate<0.5"], capsys)
    assert code == ExitCode.GATE_FAILED
    assert "FAILED" in out


def test_a_held_threshold_exits_0_and_quiet_prints_nothing(url: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["bench", url, "-c", "2", "-d", "0.3s", "--threshold", "p(99)<5000", "--quiet"],
                          capsys)
    assert (code, out, err) == (0, "", "")
