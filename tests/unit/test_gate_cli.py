"""`loadbench check` and `loadbench compare` end to end on synthetic results files: exit codes, the
error text a user sees, and the Markdown / JUnit files they write."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from synthetic import write_synthetic_results

from loadbench.cli import main
from loadbench.errors import ExitCode

Cap = pytest.CaptureFixture[str]
Files = dict[str, Path]
PAIRED: dict[str, Any] = {
    "models": ("uvicorn",), "workloads": ("/plaintext",), "loads": (16,),
    "variants": ("baseline", "candidate"),
}


def run(argv: list[str], capsys: Cap) -> tuple[int, str, str]:
    """Run `loadbench ARGV` as the console script does; return (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), out, err


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    root = tmp_path_factory.mktemp("gate")
    paired: dict[str, dict[str, Any]] = {
        "slow15": {"seed": 2, "repetitions": 8, "candidate_slowdown": 0.15},
        "slow2": {"seed": 3, "repetitions": 8, "candidate_slowdown": 0.02},
        "fast": {"seed": 4, "repetitions": 8, "candidate_slowdown": -0.2},
        "few": {"seed": 5, "repetitions": 4},
        "saturated": {"seed": 6, "repetitions": 6, "saturated_every": 3},
    }
    made = {n: write_synthetic_results(root / f"{n}.jsonl", **PAIRED, **kw) for n, kw in paired.items()}
    made["run"] = write_synthetic_results(root / "run.jsonl", seed=1, thresholds=("error_rate < 5%",))
    return made


# ---- check ---------------------------------------------------------------------------------------------


def test_check_passes_with_cli_and_scenario_thresholds(files: Files, capsys: Cap) -> None:
    code, out, _ = run(["check", str(files["run"]), "-t", "p99 < 10s"], capsys)
    assert code == ExitCode.OK
    assert "error_rate < 5%" in out  # the scenario's threshold, from the results header
    assert out.rstrip().endswith("Result: PASSED (exit 0)")


def test_check_failure_names_each_failing_selection(files: Files, capsys: Cap) -> None:
    code, out, _ = run(["check", str(files["run"]), "-t", "p99{model=uvicorn,load=64c} < 1us"], capsys)
    assert code == ExitCode.GATE_FAILED
    failing = [line for line in out.splitlines() if "FAILED on" in line]
    assert [line.split(" on ")[1] for line in failing] == ["uvicorn /plaintext 64c", "uvicorn /io?ms=20 64c"]
    assert "Result: FAILED (exit 10)" in out


def test_check_bad_expression_exits_2_with_a_caret(files: Files, capsys: Cap) -> None:
    code, out, err = run(["check", str(files["run"]), "-t", "p99 < 50"], capsys)
    assert code == ExitCode.USAGE
    assert out == ""
    assert err == (
        "Error: bad threshold (--threshold[1]): missing unit: p99 is a time; write one of us, ms or s after "
        "the number (e.g. 50ms)\n  p99 < 50\n          ^\n"
    )


def test_check_selecting_nothing_exits_2(files: Files, capsys: Cap) -> None:
    code, _, err = run(["check", str(files["run"]), "-t", "p99{load=999c} < 5ms"], capsys)
    assert code == ExitCode.USAGE
    assert "selects no trial: load '999c' is not in the results; they have load: 16c, 1c, 64c" in err


def test_check_without_any_threshold_exits_2(files: Files, capsys: Cap) -> None:
    code, _, err = run(["check", str(files["run"]), "--no-scenario-thresholds"], capsys)
    assert code == ExitCode.USAGE
    assert "no thresholds to check" in err


def test_check_all_trials_saturated_is_invalid(tmp_path: Path, capsys: Cap) -> None:
    path = write_synthetic_results(tmp_path / "r.jsonl", models=("uvicorn",), workloads=("/json",),
                                   loads=(8,),
                                   repetitions=2, saturated_every=1)
    code, out, _ = run(["check", str(path), "-t", "p99 < 10s"], capsys)
    assert code == ExitCode.INVALID_MEASUREMENT
    assert "INVALID on uvicorn /json 8c: no usable trial" in out


def test_check_writes_junit_and_markdown(files: Files, tmp_path: Path, capsys: Cap) -> None:
    junit, markdown = tmp_path / "junit.xml", tmp_path / "out" / "summary.md"
    code, _, _ = run(["check", str(files["run"]), "-t", "p99{model=gunicorn} < 1us",
                      "--no-scenario-thresholds",
                      "--junit", str(junit), "--markdown", str(markdown)], capsys)
    assert code == ExitCode.GATE_FAILED
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("6", "6")  # 2 workloads × 3 loads
    text = markdown.read_text()
    assert text.startswith("### ❌ loadbench check: fail\n")
    assert text.count("| ❌ | `p99{model=gunicorn} < 1us` |") == 6


def test_markdown_appends_to_the_github_step_summary(
    files: Files, tmp_path: Path, capsys: Cap, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step output\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run(["check", str(files["run"]), "-t", "p99 < 10s", "--markdown", str(summary)], capsys)
    assert summary.read_text().startswith("earlier step output\n### ✅ loadbench check: pass")


# ---- compare -------------------------------------------------------------------------------------------


def test_compare_finds_a_15pct_regression(files: Files, capsys: Cap) -> None:
    code, out, _ = run(["compare", str(files["slow15"])], capsys)
    assert code == ExitCode.GATE_FAILED
    assert "uvicorn /plaintext 16c      8" in out
    assert "REGRESSION" in out
    assert out.rstrip().endswith("Result: regression (exit 10)")


def test_compare_2pct_within_5pct_is_not_a_regression(files: Files, capsys: Cap) -> None:
    code, out, _ = run(["compare", str(files["slow2"]), "--baseline", "baseline", "--candidate", "candidate",
                        "--tolerance", "5%"], capsys)
    assert code == ExitCode.OK
    assert "REGRESSION" not in out


def test_compare_improvement_and_swapped_sides(files: Files, capsys: Cap) -> None:
    code, out, _ = run(["compare", str(files["fast"])], capsys)
    assert (code, "Result: improvement (exit 0)" in out) == (ExitCode.OK, True)
    code, out, _ = run(["compare", str(files["fast"]), "--baseline", "candidate", "--candidate", "baseline"],
                       capsys)
    assert (code, "Result: regression (exit 10)" in out) == (ExitCode.GATE_FAILED, True)


def test_compare_file_with_itself_is_no_change(files: Files, capsys: Cap) -> None:
    code, out, _ = run(["compare", str(files["run"]), str(files["run"])], capsys)
    assert code == ExitCode.OK
    assert "Result: no change (exit 0)" in out
    assert "cross-run comparisons are noisier" in out


def test_compare_too_few_pairs_exits_12(files: Files, capsys: Cap) -> None:
    code, out, _ = run(["compare", str(files["few"])], capsys)
    assert code == ExitCode.INVALID_MEASUREMENT
    assert "only 4 usable pairs; a 95 % interval needs at least 6: run more rounds" in out


def test_compare_leaves_saturated_rounds_out(files: Files, capsys: Cap) -> None:
    code, out, _ = run(["compare", str(files["saturated"])], capsys)
    assert code == ExitCode.INVALID_MEASUREMENT  # 6 rounds, 4 with a saturated trial
    assert out.count("saturated (client CPU 97%") == 4


def test_inconclusive_is_a_warning_unless_asked_to_fail(tmp_path: Path, capsys: Cap) -> None:
    path = write_synthetic_results(tmp_path / "p.jsonl", seed=7, repetitions=8, candidate_slowdown=0.0,
                                   **PAIRED)
    code, out, err = run(["compare", str(path), "--metric", "p99", "--tolerance", "1%"], capsys)
    assert (code, "Overall: inconclusive" in out) == (ExitCode.OK, True)
    assert "pass --fail-on-inconclusive to fail the job" in err
    code, _, _ = run(["compare", str(path), "--metric", "p99", "--tolerance", "1%", "--fail-on-inconclusive"],
                     capsys)
    assert code == ExitCode.INCONCLUSIVE


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--baseline", "main"],
         "--baseline 'main' is not a variant in the results; its variants are baseline, candidate"),
        (["--tolerance", "5"], "--tolerance '5' is not a percentage; write it with a % sign, e.g. 5%"),
        (["--metric", "p75"], "Invalid value for '--metric'"),
    ],
)
def test_compare_usage_errors_exit_2(
    files: Files, capsys: Cap, argv: list[str], message: str
) -> None:
    code, _, err = run(["compare", str(files["slow15"]), *argv], capsys)
    assert code == ExitCode.USAGE
    assert message in err


def test_compare_calibrate_only(tmp_path: Path, capsys: Cap) -> None:
    path = write_synthetic_results(tmp_path / "c.jsonl", seed=8, repetitions=12, **PAIRED)
    code, out, _ = run(["compare", str(path), "--calibrate"], capsys)
    assert code == ExitCode.OK
    assert "baseline (2nd half) vs baseline (1st half) on rps (calibration" in out
    assert "Result: calibrated (exit 0)" in out


def test_compare_writes_junit_and_markdown(files: Files, tmp_path: Path, capsys: Cap) -> None:
    junit, markdown = tmp_path / "c.xml", tmp_path / "c.md"
    run(["compare", str(files["slow15"]), "--junit", str(junit), "--markdown", str(markdown)], capsys)
    case = ET.parse(junit).getroot().find("testsuite/testcase")
    assert case is not None
    assert case.get("name") == "uvicorn /plaintext 16c: candidate vs baseline"
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "Regression"
    assert markdown.read_text().startswith("### ❌ loadbench compare: regression")
