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


# -- a file mixing runs, two files of different runs ---------------------------------------------------


def _stamped(path: Path, *, name: str = "synthetic", seed: int = 0, loads: tuple[object, ...] = (1,),
             version: str | None = None) -> Path:
    """A synthetic results file whose trials carry the header's run id and scenario sha256, as the
    runner writes them (loadbench.runner._Sink.record); `version` overrides the header's loadbench."""
    import dataclasses

    from loadbench.results.file import ResultsWriter, read_results

    write_synthetic_results(path, name=name, seed=seed, models=("waitress",), workloads=("/p",),
                            loads=loads, repetitions=6, latency_samples=50)  # type: ignore[arg-type]
    data = read_results(path)
    header = data.header if version is None else dataclasses.replace(data.header, loadbench_version=version)
    with ResultsWriter(path, header, overwrite=True) as writer:
        for trial in data.trials:
            writer.append(dataclasses.replace(trial, run_id=header.run_id,
                                              scenario_sha256=header.scenario["sha256"]))
    return path


def _append_trials(target: Path, source: Path) -> int:
    """Append `source`'s trial lines to `target`; return the line number of the first one appended."""
    first = len(target.read_text().splitlines()) + 1
    with target.open("a") as out:
        out.writelines(source.read_text().splitlines(keepends=True)[1:])
    return first


@pytest.mark.parametrize(("other_name", "said"), [
    ("synthetic", "of another run"),     # the same scenario, run again and appended
    ("elsewhere", "of another scenario"),  # another scenario's trials appended
])  # fmt: skip
@pytest.mark.parametrize("command", ["check", "compare", "report"])
def test_a_file_mixing_runs_is_an_error_naming_file_and_line(
    tmp_path: Path, capsys: Cap, command: str, other_name: str, said: str
) -> None:
    results = _stamped(tmp_path / "r.jsonl")
    line = _append_trials(results, _stamped(tmp_path / "other.jsonl", name=other_name, seed=7))
    argv = {"check": ["check", str(results), "-t", "p99 < 10s"],
            "compare": ["compare", str(results), "--baseline", "waitress", "--calibrate"],
            "report": ["report", str(results), "--format", "md", "-o", str(tmp_path / "r.md")]}[command]
    code, _out, err = _run(argv, capsys)
    assert code == ExitCode.ERROR
    assert err.count("\n") == 1 and f"r.jsonl:{line}: trial" in err and said in err, err
    assert not (tmp_path / "r.md").exists()


def test_a_run_file_without_appended_lines_and_an_older_file_still_read(tmp_path: Path, capsys: Cap) -> None:
    stamped = _stamped(tmp_path / "r.jsonl")
    older = write_synthetic_results(tmp_path / "old.jsonl", models=("waitress",), workloads=("/p",),
                                    loads=(1,), repetitions=6, latency_samples=50)  # no run ids: older files
    for path in (stamped, older):
        code, _out, err = _run(["check", str(path), "-t", "p99 < 10s"], capsys)
        assert code == ExitCode.OK, err


@pytest.mark.parametrize(("base", "cand", "said"), [
    ({"name": "shop"}, {"name": "blog"}, "different scenarios"),
    ({"loads": (1,)}, {"loads": ("open",)}, "different load kinds"),
])  # fmt: skip
def test_two_files_of_different_runs_are_refused(
    tmp_path: Path, capsys: Cap, base: dict[str, object], cand: dict[str, object], said: str
) -> None:
    from loadbench.shapes import Open

    def make(path: Path, spec: dict[str, object]) -> Path:
        loads = tuple(Open(rate_per_s=100.0) if load == "open" else load
                      for load in spec.get("loads", (1,)))  # type: ignore[attr-defined]
        return _stamped(path, name=str(spec.get("name", "synthetic")), loads=loads)

    b, c = make(tmp_path / "base.jsonl", base), make(tmp_path / "cand.jsonl", cand)
    code, _out, err = _run(["compare", str(b), str(c)], capsys)
    assert code == ExitCode.USAGE
    assert err.count("\n") == 1 and said in err and "base.jsonl" in err and "cand.jsonl" in err, err


def test_results_format_versions_that_differ_are_refused(tmp_path: Path) -> None:
    import dataclasses

    from loadbench.errors import UsageError
    from loadbench.gate.runs import comparable_runs
    from loadbench.results.file import read_results

    base = read_results(_stamped(tmp_path / "base.jsonl"))
    cand = dataclasses.replace(base, header=dataclasses.replace(base.header, version=2))
    with pytest.raises(UsageError, match=r"results format versions differ .*version 1 vs 2"):
        comparable_runs(base, cand, base_name="base.jsonl", cand_name="cand.jsonl")


def test_two_loadbench_versions_compare_with_a_caveat_beside_the_verdict(tmp_path: Path, capsys: Cap) -> None:
    import json

    base = _stamped(tmp_path / "base.jsonl", version="0.0.9")
    cand = _stamped(tmp_path / "cand.jsonl")
    md, js = tmp_path / "c.md", tmp_path / "c.json"
    argv = ["compare", str(base), str(cand), "--markdown", str(md), "--json", str(js)]
    code, out, _err = _run(argv, capsys)
    assert code == ExitCode.OK
    overall = [line for line in out.splitlines() if line.startswith("Overall:")]
    assert len(overall) == 1 and "caveat: the baseline was measured with loadbench 0.0.9" in overall[0], out
    assert "**Caveat:** the baseline was measured with loadbench 0.0.9" in md.read_text()
    assert json.loads(js.read_text())["comparisons"][0]["caveats"][0].startswith("the baseline was measured")
