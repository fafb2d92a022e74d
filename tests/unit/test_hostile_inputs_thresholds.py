"""Hostile threshold expressions (issue 7, item 3): random text is a UsageError or a valid Threshold, never
anything else; through `loadbench check FILE --threshold X` (and as a scenario's stored [thresholds]) it
ends with one of the documented exit codes, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from synthetic import write_synthetic_results

from loadbench.cli import main
from loadbench.errors import ExitCode, UsageError
from loadbench.scenario.thresholds import _UNITS, FILTER_KEYS, METRICS, Threshold, parse_threshold

LIB = settings(max_examples=400, deadline=None)
CLI = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Exit codes `check` may end with (docs/ci.md): pass, a threshold failed, nothing usable, usage, error.
CHECK_CODES = {ExitCode.OK, ExitCode.GATE_FAILED, ExitCode.INVALID_MEASUREMENT, ExitCode.USAGE,
               ExitCode.ERROR}

NUMBERS = st.one_of(
    st.sampled_from(["0", "1", "50", ".5", "5.", "1.5", "9" * 400, "0" * 50 + "1", "1e3", "-5", "+5", "nan",
                     "inf", "1_000", "١٢", "²"]),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
)
UNITS = st.sampled_from(["", "ms", "us", "µs", "s", "/s", "k/s", "%", "MB", "m", "MiB", " ms", "ms ms",
                         "ms\n", "\u00a0ms", "ｍｓ"])
OPS = st.sampled_from(["<", "<=", ">", ">=", "==", "=", "!=", "=<", "=>", "<>", "", " < "])
FILTER_VALUE = st.one_of(st.sampled_from(["uvicorn", "/plaintext", "64c", "baseline", "", " ", "a=b", "{"]),
                         st.text(max_size=8))


@st.composite
def grammar_like(draw: st.DrawFn) -> str:
    """Near-misses of the grammar: real metrics, keys, ops and units, recombined and damaged."""
    metric = draw(st.one_of(st.sampled_from([*METRICS, "p99_9", "p999", "P99", "p100", "latency"]),
                            st.text(max_size=5)))
    filters = ""
    if draw(st.booleans()):
        keys = draw(st.lists(st.one_of(st.sampled_from(FILTER_KEYS), st.text(max_size=4)), max_size=3))
        body = ",".join(f"{k}={draw(FILTER_VALUE)}" for k in keys)
        filters = draw(st.sampled_from(["{%s}", "{%s", "%s}", "{ %s }", "{{%s}}"])) % body
    parts = [metric, filters, draw(OPS), draw(NUMBERS), draw(UNITS)]
    if draw(st.booleans()):  # damage: drop or duplicate a part, or splice in random text
        i = draw(st.integers(0, len(parts) - 1))
        parts[i] = draw(st.sampled_from(["", parts[i] * 2, draw(st.text(max_size=4))]))
    sep = draw(st.sampled_from(["", " ", "  ", "\t"]))
    return sep.join(parts)


@st.composite
def well_formed(draw: st.DrawFn) -> str:
    """Expressions the grammar accepts, with hostile filter values (unicode, quotes, HTML, '|')."""
    metric = draw(st.sampled_from(sorted(METRICS)))
    unit = draw(st.sampled_from(sorted(_UNITS[METRICS[metric]]) or [""]))
    keys = draw(st.lists(st.sampled_from(FILTER_KEYS), unique=True, max_size=3))
    values = [draw(st.text(st.characters(blacklist_characters=",}", blacklist_categories=["Cs"]), min_size=1,
                           max_size=10).filter(str.strip)) for _ in keys]
    filters = "{" + ",".join(f"{k}={v}" for k, v in zip(keys, values, strict=True)) + "}" if keys else ""
    number = draw(st.one_of(st.integers(0, 10**6).map(str), st.sampled_from(["0.5", ".5", "5.", "9" * 400])))
    return f"{metric}{filters} {draw(st.sampled_from(['<', '<=', '>', '>=', '==']))} {number}{unit}"


EXPRESSIONS = st.one_of(well_formed(), grammar_like(), st.text(max_size=40))


@LIB
@given(text=EXPRESSIONS)
@example(text="")
@example(text="p99 < " + "9" * 400 + "ms")
@example(text="p99{model=a,model=b} < 1ms")
@example(text="p99{} < 1ms")
@example(text="p99{model=} < 1ms")
@example(text="p99{model=x < 1ms")
@example(text="errors == 0 0")
@example(text="\x00")
def test_parse_threshold_returns_a_threshold_or_raises_usage_error(text: str) -> None:
    try:
        threshold = parse_threshold(text)
    except UsageError as exc:
        message = str(exc)
        assert message.startswith("bad threshold (--threshold): "), message
        # The caret line points inside the (tab-expanded) expression, or just after its end.
        caret = message.splitlines()[-1]
        assert caret.strip() == "^" and len(caret) - 3 <= len(text), message
        event("usage error")
        return
    event("valid")
    assert isinstance(threshold, Threshold)
    assert threshold.metric in METRICS
    assert threshold.limit >= 0
    assert all(key in FILTER_KEYS and value for key, value in threshold.filters)


# ---- through `loadbench check` ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_results(tmp_path_factory.mktemp("thr") / "results.jsonl", seed=7,
                                   models=("waitress", "uvicorn"), workloads=("/plaintext",), loads=(1, 16),
                                   repetitions=2, latency_samples=200)


def _check(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), out, err


def _assert_clean_outcome(code: int, out: str, err: str) -> None:
    assert "Traceback" not in out + err
    assert code in CHECK_CODES, (code, out, err)
    if code in (ExitCode.USAGE, ExitCode.ERROR):
        assert err.startswith("Error: "), err
        assert err.splitlines()[0].strip() != "Error:", err  # the first line names the problem
    else:
        assert out.rstrip().splitlines()[-1].startswith("Result: "), out


@CLI
@given(text=EXPRESSIONS)
@example(text="p99 < 1ms")  # valid, fails
@example(text="p99 < 10s")  # valid, passes
@example(text="p99{model=nginx} < 1ms")  # valid, selects nothing
@example(text="-t")
@example(text="--help")
def test_check_with_a_hostile_threshold_exits_cleanly(results: Path, capsys: pytest.CaptureFixture[str],
                                                      text: str) -> None:
    code, out, err = _check(["check", str(results), "--threshold", text], capsys)
    _assert_clean_outcome(code, out, err)
    event(f"exit {code}")
    try:
        parse_threshold(text)
    except UsageError:
        assert code == ExitCode.USAGE, (code, err)


@CLI
@given(texts=st.lists(EXPRESSIONS, min_size=1, max_size=3))
def test_check_with_hostile_stored_scenario_thresholds_exits_cleanly(
    results: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
    texts: list[str],
) -> None:
    """The [thresholds] kept in a results header are only checked to be non-empty strings by the scenario
    loader, so `check` is where a bad one surfaces: it must say which one, as a usage error."""
    lines = results.read_text().splitlines(keepends=True)
    header = json.loads(lines[0])
    header["scenario"]["thresholds"] = texts
    path = tmp_path_factory.mktemp("stored") / "results.jsonl"
    path.write_text(json.dumps(header) + "\n" + "".join(lines[1:]))
    code, out, err = _check(["check", str(path)], capsys)
    _assert_clean_outcome(code, out, err)
    if code == ExitCode.USAGE:
        assert "scenario [thresholds] checks" in err, err


def test_bad_threshold_is_refused_before_reading_the_results(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A typo in the expression is reported even when the results file is also wrong (cheapest first)."""
    code, _, err = _check(["check", str(tmp_path / "missing.jsonl"), "-t", "p99x < 1ms"], capsys)
    assert code == ExitCode.USAGE
    assert err.startswith("Error: bad threshold (--threshold[1]): unknown metric 'p99x'")
    assert "did you mean 'p95'?" in err or "did you mean 'p99'?" in err
