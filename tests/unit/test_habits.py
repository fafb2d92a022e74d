"""Habits from wrk, wrk2, hey/oha, k6 and hyperfine: their spellings mean the same as loadbench's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from synthetic import write_synthetic_results

from loadbench.cli import cli, main
from loadbench.cli._habits import engine_processes
from loadbench.errors import ExitCode, UsageError
from loadbench.scenario.thresholds import parse_threshold
from loadbench.units import parse_duration


@pytest.mark.parametrize(
    ("k6", "ours"),
    [
        pytest.param("p(95)<200ms", "p95 < 200ms", id="k6-percentile-with-unit"),
        pytest.param("p(95)<200", "p95 < 200ms", id="k6-percentile-bare-is-ms"),
        pytest.param("p(99.9) < 1.5", "p99.9 < 1.5ms", id="k6-decimal-percentile"),
        pytest.param("avg<50ms", "mean < 50ms", id="avg-is-mean"),
        pytest.param("med<=1s", "p50 <= 1000ms", id="med-is-p50"),
        pytest.param("rate<0.01", "error_rate < 1%", id="rate-bare-is-fraction"),
        pytest.param("rate<1%", "error_rate < 1%", id="rate-with-percent"),
        pytest.param("p(50){model=uvicorn}<3", "p50{model=uvicorn} < 3ms", id="k6-with-filter"),
    ],
)
def test_k6_spellings_parse_to_the_same_threshold(k6: str, ours: str) -> None:
    a, b = parse_threshold(k6), parse_threshold(ours)
    assert (a.metric, a.kind, a.op, a.filters) == (b.metric, b.kind, b.op, b.filters)
    assert a.limit == pytest.approx(b.limit)


@pytest.mark.parametrize(
    ("text", "metric", "limit"),
    [
        pytest.param("p75 < 3ms", "p75", 3.0, id="any-percentile"),
        pytest.param("p99.99 < 1s", "p99.99", 1000.0, id="decimal-percentile"),
        pytest.param("p(90) < 2", "p90", 2.0, id="k6-listed-percentile"),
        pytest.param("min > 100us", "min", 0.1, id="min"),
        pytest.param("max < 2s", "max", 2000.0, id="max"),
    ],
)
def test_more_latency_metrics(text: str, metric: str, limit: float) -> None:
    threshold = parse_threshold(text)
    assert (threshold.metric, threshold.limit) == (metric, pytest.approx(limit))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("p95 < 200", "missing unit", id="own-spelling-keeps-its-unit"),
        pytest.param("avg < 200", "missing unit", id="avg-needs-a-unit"),
        pytest.param("p(100) < 2", "use max", id="p100"),
        pytest.param("p(0) < 2", "use min", id="p0"),
        pytest.param("p(95 < 2", "like p(95)", id="unclosed"),
        pytest.param("rate < 2ms", "does not fit error_rate", id="rate-with-time-unit"),
    ],
)
def test_k6_spellings_refused(text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_threshold(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1m30s", 90.0), ("1h2m3.5s", 3723.5), ("2m500ms", 120.5), ("1m", 60.0), ("90", 90.0)],
)
def test_compound_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["30s1m", "1m1m", "1m 30s", "1mm"])
def test_bad_compound_durations(text: str) -> None:
    with pytest.raises(UsageError, match="is not a duration"):
        parse_duration(text, what="-d")


def test_threads_is_processes_clamped_to_client_cpus(capsys: pytest.CaptureFixture[str]) -> None:
    assert engine_processes(None, "1", (0, 1)) == 1
    assert engine_processes(None, "8", (1,)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warning: -t 8" in err and "1 engine process " in err
    assert engine_processes("3", None, (0,)) == 3  # --processes is as asked (the user's choice)
    with pytest.raises(UsageError, match="set the same thing"):
        engine_processes("2", "2", None)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), out, err


def test_hey_q_is_refused_with_the_rate_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["bench", "http://127.0.0.1:9/", "-q", "10"], capsys)
    assert code == ExitCode.USAGE
    assert err.startswith("Error: -q 10: use -r for a rate") and err.count("\n") == 1


def test_bench_bad_threshold_is_refused_before_any_load(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["bench", "http://127.0.0.1:9/", "--threshold", "p95 < 2"], capsys)
    assert code == ExitCode.USAGE
    assert "missing unit" in err


def test_bench_accepts_the_habits_in_help() -> None:
    result = CliRunner().invoke(cli, ["bench", "--help"])
    text = " ".join(result.output.split())
    for flag in ("-t, --threads", "--latency", "-r, -R, --rate", "-d, -z, --duration", "--threshold",
                 "--quiet", "-v, --verbose", "not 3 runs"):
        assert flag in text, flag
    assert "-q" not in text.replace("--quiet", "")


def test_check_json_to_stdout_and_text_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = write_synthetic_results(tmp_path / "r.jsonl", models=("uvicorn",), workloads=("/plaintext",),
                                      loads=(16,), repetitions=3)
    code, out, err = _run(["check", str(results), "-t", "p(99)<100000", "-t", "p75 < 100s", "--json", "-"],
                          capsys)
    assert code == ExitCode.OK, err
    data = json.loads(out)
    assert data["status"] == "pass" and data["exit_code"] == 0
    assert [case["metric"] for case in data["cases"]] == ["p99", "p75"]
    assert all(isinstance(case["value"], float) and case["value"] > 0 for case in data["cases"])
    assert "Result: PASSED" in err


def test_check_any_percentile_fails_from_the_histogram(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    results = write_synthetic_results(tmp_path / "r.jsonl", models=("uvicorn",), workloads=("/plaintext",),
                                      loads=(16,), repetitions=3)
    code, out, _ = _run(["check", str(results), "-t", "p75 < 1us"], capsys)
    assert code == ExitCode.GATE_FAILED
    assert "p75 = " in out and "FAILED" in out


def test_models_json(capsys: pytest.CaptureFixture[str]) -> None:
    result = CliRunner().invoke(cli, ["models", "--json", "-"])
    assert result.exit_code == 0, result.output
    models = json.loads(result.output)
    assert {"waitress", "uvicorn"} <= {m["name"] for m in models}
    assert all(set(m) == {"name", "family", "available", "reason", "description", "tls", "http2",
                          "unix_socket"} for m in models)
    by_name = {m["name"]: m for m in models}
    assert by_name["uvicorn"]["unix_socket"] is True and by_name["uvicorn"]["tls"] is True
    assert by_name["nginx"]["unix_socket"] is False and by_name["command"]["unix_socket"] is False


def test_compare_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = write_synthetic_results(tmp_path / "p.jsonl", seed=2, repetitions=8, candidate_slowdown=0.15,
                                      models=("uvicorn",), workloads=("/plaintext",), loads=(16,),
                                      variants=("baseline", "candidate"))
    out_file = tmp_path / "verdict.json"
    code, out, _ = _run(["compare", str(results), "--json", str(out_file)], capsys)
    data = json.loads(out_file.read_text())
    assert data["exit_code"] == code
    assert data["comparisons"][-1]["verdict"] in out
