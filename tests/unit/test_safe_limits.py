"""The limits of loadbench.safe.limits, each refused with one line naming it, before any server or socket."""

from __future__ import annotations

import os
import resource
import stat
import time
from pathlib import Path

import pytest
from synthetic import write_synthetic_results

from loadbench.cli import main
from loadbench.errors import ExitCode, ResultsFormatError, ScenarioError
from loadbench.results.file import read_results
from loadbench.safe import limits
from loadbench.scenario import parse_scenario

Cap = pytest.CaptureFixture[str]

BASE = """name = "limits"
[[servers]]
model = "waitress"
[[endpoints]]
path = "/plaintext"
[load]
connections = [1]
duration = "1s"
"""


_D = 'duration = "1s"'


def _problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, path="s.toml", known_models=["waitress"])
    return caught.value.problems


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param((_D, _D + "\nrepeat = 1e9"), "", id="repeat-float"),
        pytest.param((_D, _D + "\nrepeat = 1000000000"), "limit of 1000", id="repeat"),
        pytest.param((_D, 'duration = "25h"'), "limit of 24 h", id="duration"),
        pytest.param((_D, _D + '\nwarmup = "25h"'), "limit of 24 h", id="warmup"),
        pytest.param((_D, _D + '\ntimeout = "1ms"'), "limit of 10 ms", id="timeout"),
        pytest.param(("connections = [1]", "connections = [10000000]"), "file-descriptor limit", id="fds"),
        pytest.param(("connections = [1]", "rates = [\"100000k/s\"]"), "can schedule", id="rate"),
        pytest.param(("connections = [1]\nduration = \"1s\"", "stages = [\"30h:10/s\"]"), "limit of 24 h",
                     id="stages"),
        pytest.param(("/plaintext", "/a b"), "percent-encode", id="path-space"),
        pytest.param(("/plaintext", "/a\\r\\nX-Injected: 1"), "percent-encode", id="path-crlf"),
        pytest.param(("path = \"/plaintext\"", "path = \"/p\"\nheaders = { X = \"a\\nb\" }"), "line break",
                     id="header-lf"),
    ],
)
def test_scenario_limits_are_problems_with_the_key(edit: tuple[str, str], expected: str) -> None:
    problems = _problems(BASE.replace(*edit))
    assert problems and all("\n" not in p for p in problems)
    assert expected in " ".join(problems), problems


def test_a_deeply_nested_toml_is_one_problem_not_a_recursion_error() -> None:
    started = time.perf_counter()
    problems = _problems(BASE + "x = " + "[" * 5000 + "]" * 5000 + "\n")
    assert len(problems) == 1 and "nested 5000 deep, more than the limit of 32" in problems[0]
    assert time.perf_counter() - started < 2


def test_toml_depth_skips_strings_comments_and_table_headers() -> None:
    assert limits.toml_depth('[a]\n[[b]]\nx = "[[[["  # [[[[\ny = [[1], {z = [2]}]\n') == 3
    assert limits.toml_depth("x = '''\n[[[\n'''\n") == 0


def test_a_huge_scenario_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    from loadbench.scenario import load_scenario

    big = tmp_path / "big.toml"
    big.write_text(BASE + "#" * (2 * limits.MAX_SCENARIO_BYTES))
    with pytest.raises(ScenarioError, match="larger than the limit of 1024 KiB"):
        load_scenario(big, known_models=["waitress"])


def test_a_results_line_over_16_mib_is_refused(tmp_path: Path) -> None:
    path = write_synthetic_results(tmp_path / "r.jsonl", models=("waitress",), workloads=("/p",), loads=(1,),
                                   repetitions=1, latency_samples=20)  # fmt: skip
    with path.open("a") as out:
        out.write("x" * (limits.MAX_RESULTS_LINE_BYTES + 10) + "\n")
    with pytest.raises(ResultsFormatError, match=r"r\.jsonl:3: line is longer than the limit of 16 MiB"):
        read_results(path)


def test_an_endless_results_device_stops_at_the_line_limit(tmp_path: Path) -> None:
    zero = tmp_path / "zero"  # our own node for /dev/zero (1, 5), never the machine's
    try:
        os.mknod(zero, stat.S_IFCHR | 0o444, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("making a device node needs CAP_MKNOD")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ResultsFormatError, match="line is longer than the limit of 16 MiB"):
        read_results(zero)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 200 * 1024  # read in 1 MiB chunks, stopped at 16 MiB


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["-r", "100000k/s", "-d", "0.3s"], "rate: 100,000,000/s is more than", id="rate"),
        pytest.param(["-c", "1", "-d", "1s", "--timeout", "1ms"], "timeout: 1 ms is shorter", id="timeout"),
        pytest.param(["-c", "1", "-d", "25h"], "duration: 90000 s is longer", id="duration"),
        pytest.param(["-c", "10000000", "-d", "1s"], "connections: 10000000 connections exceed", id="fds"),
        pytest.param(["-c", "4", "-d", "1s", "--processes", str(len(os.sched_getaffinity(0)) + 1)],
                     "engine processes exceed", id="processes"),
    ],
)
def test_bench_limits_are_one_line_before_any_socket(
    args: list[str], expected: str, capsys: Cap, monkeypatch: pytest.MonkeyPatch
) -> None:
    import loadbench.engine.registry as registry

    monkeypatch.setattr(registry, "get_backend", _no_backend)
    with pytest.raises(SystemExit) as caught:
        main(["bench", "http://127.0.0.1:9/", *args])
    err = capsys.readouterr().err
    assert caught.value.code == ExitCode.USAGE
    assert err.count("\n") == 1 and err.startswith("Error: ") and expected in err, err


def _no_backend(*_args: object, **_kwargs: object) -> object:
    class _Refuse:
        def available(self) -> None:
            raise AssertionError("a limit should have refused the run before the backend")

        def drive(self, *_a: object, **_k: object) -> None:
            raise AssertionError("a limit should have refused the run before the backend")

    return _Refuse()
