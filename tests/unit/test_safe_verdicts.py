"""Verdicts that must not be fooled: copied trial lines in check/compare, and a run in which everything
failed. Real results files (written by the real writer); the run's measuring part is replaced by its
outcome, since what is tested is the exit code the CLI derives from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from synthetic import write_synthetic_results

from loadbench.cli import main
from loadbench.errors import ExitCode

Cap = pytest.CaptureFixture[str]


def _run(argv: list[str], capsys: Cap) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    out, err = capsys.readouterr()
    return int(caught.value.code or 0), out, err


def _with_copies(path: Path, copies: int) -> Path:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines) + lines[-1] * copies)
    return path


@pytest.mark.parametrize("command", ["check", "compare"])
def test_a_copied_trial_line_is_an_error_not_evidence(tmp_path: Path, command: str, capsys: Cap) -> None:
    results = write_synthetic_results(tmp_path / "r.jsonl", models=("waitress", "uvicorn"), workloads=("/p",),
                                      loads=(1,), repetitions=3, latency_samples=50)  # fmt: skip
    clean = write_synthetic_results(tmp_path / "clean.jsonl", models=("waitress", "uvicorn"),
                                    workloads=("/p",), loads=(1,), repetitions=3,
                                    latency_samples=50)  # fmt: skip
    _with_copies(results, 5)
    argv = (["check", str(results), "-t", "p99 < 10s"] if command == "check"
            else ["compare", str(clean), str(results)])  # fmt: skip
    code, _out, err = _run(argv, capsys)
    assert code == ExitCode.ERROR
    assert err.count("\n") == 1 and "appears 6 times" in err and "r.jsonl" in err, err


def test_a_file_compared_with_itself_is_still_fine(tmp_path: Path, capsys: Cap) -> None:
    results = write_synthetic_results(tmp_path / "r.jsonl", models=("waitress",), workloads=("/p",),
                                      loads=(1,), repetitions=3, latency_samples=50)  # fmt: skip
    code, _out, _err = _run(["compare", str(results), str(results)], capsys)
    assert code == ExitCode.OK


@pytest.mark.parametrize(("failed", "written", "code", "said"), [
    (3, 3, ExitCode.ERROR, "Error: all 3 trial(s) failed, nothing was measured"),
    (1, 3, ExitCode.OK, "warning: 1 of 3 trial(s) failed"),
])  # fmt: skip
def test_run_exit_code_says_whether_anything_was_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Cap, failed: int, written: int, code: int,
    said: str,
) -> None:
    import loadbench.cli.run as run_cli
    from loadbench.runner import RunOutcome

    results = write_synthetic_results(tmp_path / "results.jsonl", models=("waitress",), workloads=("/p",),
                                      loads=(1, 2, 4), repetitions=1, failed=tuple(range(failed)),
                                      latency_samples=50)  # fmt: skip
    outcome = RunOutcome(run_dir=tmp_path, results_path=results, trials_planned=written,
                         trials_written=written, trials_failed=failed)  # fmt: skip
    monkeypatch.setattr(run_cli, "_run_with_progress", lambda *a, **k: outcome)
    got, _out, err = _run(["run", "quickstart", "--out", str(tmp_path), "--no-report"], capsys)
    assert got == code and said in err, err
