"""results.py and resultsfile.py: write → read round trips, damaged and foreign files, the builders and
the run directory."""

from __future__ import annotations

import json
import math
import re
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadbench.errors import LoadbenchError, ResultsFormatError
from loadbench.monitor import MonitorSummary
from loadbench.results.build import TrialIdentity, failed_trial, measured_trial
from loadbench.results.codec import dumps_line
from loadbench.results.file import ResultsWriter, default_run_dir, read_results
from loadbench.results.records import (
    RESULTS_FORMAT,
    RESULTS_VERSION,
    ResultsHeader,
    TrialResult,
    load_from_json,
    load_to_json,
    make_header,
)
from loadbench.types import Closed, Open, RequestSpec, Stage, Stages

HEADER = make_header(scenario_name="unit", scenario_text="x = 1\n", thresholds=["p99 < 50ms"],
                     env={"hostname": "h"}, created=datetime(2026, 11, 24, 6, 0, tzinfo=UTC))  # fmt: skip
IDENTITY: dict[str, Any] = {
    "trial_id": "uvicorn|/plaintext|64c|1", "index": 0, "model": "uvicorn", "server_model": "uvicorn",
    "family": "event-loop", "server_options": {"workers": 1, "threads": None}, "variant": None,
    "workload": "/plaintext", "requests_spec": [RequestSpec(path="/plaintext")],
    "load": Closed(connections=64),
    "repetition": 1, "round": 1, "started": datetime(2026, 11, 24, 6, 0, 5, tzinfo=UTC),
    "cpus": {"server": [0], "client": [1]},
}  # fmt: skip
RECORD: dict[str, Any] = {
    "duration_s": 5.0, "warmup_s": 1.0, "requests": 1000, "ok": 990, "rps": 200.0,
    "latency_ms": {"min": 0.1, "mean": 2.5, "p50": 2.4, "p90": 3.0, "p95": 3.2, "p99": 4.1, "p99_9": 6.0,
                   "max": 9.0},
    "errors": {"connect_refused": 0, "connect_timeout": 0, "timeout": 2, "reset": 1, "protocol": 0},
    "status": {"200": 990, "503": 10}, "error_rate": 0.013, "engine": "loadbench/uvloop",
    "timeline": [[0, 200, 0, 2.3, 4.0]], "client_cpu_pct": 54.0,
}  # fmt: skip


def _trial(**changes: Any) -> TrialResult:
    return replace(measured_trial(TrialIdentity(**IDENTITY), RECORD), **changes)


def _write(path: Path, trials: list[TrialResult]) -> Path:
    with ResultsWriter(path, HEADER) as writer:
        for trial in trials:
            writer.append(trial)
    return path


# -- round trips -----------------------------------------------------------------------------------------

_finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
_text = st.text(max_size=12)
_opt_float = st.none() | _finite
_figures = st.none() | st.dictionaries(st.sampled_from(["min", "p50", "p99", "max"]), _opt_float)
_counts = st.dictionaries(_text, st.integers(min_value=0, max_value=2**53))
_json_leaf = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _finite | _text
_json = st.recursive(_json_leaf, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(_text, inner, max_size=3), max_leaves=8)  # fmt: skip
_row = st.tuples(*([_finite] * 4))
_trials = st.builds(
    TrialResult,
    trial_id=_text, index=st.integers(0, 10**6), model=_text, server_model=_text, family=_text,
    server_options=st.dictionaries(_text, _json, max_size=3), variant=st.none() | _text, workload=_text,
    requests_spec=st.lists(st.dictionaries(_text, _json, max_size=3), max_size=2).map(tuple),
    load=st.sampled_from([load_to_json(Closed(connections=8)), load_to_json(Open(rate_per_s=50.0))]),
    load_label=_text, repetition=st.integers(1, 100), round=st.integers(1, 100), started=_text,
    status_ok=st.booleans(), failure=st.none() | st.dictionaries(_text, _text, max_size=2),
    duration_s=_finite, warmup_s=_finite, requests=st.integers(0, 2**53), ok=st.integers(0, 2**53),
    rps=_finite,
    latency_ms=_figures, service_ms=_figures, errors=_counts, error_messages=_counts, status=_counts,
    error_rate=_finite, target_rps=_opt_float, dropped=st.integers(0, 10**9), schedule_lag_ms=_figures,
    saturated=st.booleans(), saturation_reasons=st.lists(_text, max_size=3).map(tuple), engine=_text,
    client_cpu_pct=_opt_float, other_cpu_pct=_opt_float, server=_figures,
    monitor=st.lists(_row, max_size=4).map(tuple),
    timeline=st.lists(st.tuples(st.integers(0, 100), st.integers(0, 10**6), _opt_float), max_size=4)
    .map(tuple),
    histogram=st.none() | _text, cpus=st.none() | st.just({"server": [0], "client": [1]}),
    # what the engine's breadth writes: the timing breakdown, pipelining, --abort-on-fail, backend extras
    connect_ms=_figures, tls_ms=_figures, ttfb_ms=_figures, connect_histogram=st.none() | _text,
    tls_histogram=st.none() | _text, ttfb_histogram=st.none() | _text, pipeline=st.integers(1, 1024),
    pipeline_downgrades=st.integers(0, 10**9), aborted=st.booleans(),
    backend_extras=st.dictionaries(_text, _json, max_size=3),
    unix_socket=st.booleans(), target=st.none() | _text.map(lambda p: "unix:" + p),
    extra=st.dictionaries(st.text(min_size=1, max_size=8).map(lambda k: "x_" + k), _json, max_size=2),
)  # fmt: skip


@given(_trials)
@settings(max_examples=150, deadline=None)
def test_trial_json_line_round_trip_is_lossless(trial: TrialResult) -> None:
    line = dumps_line(trial.to_json())
    assert "\n" not in line and line.isascii()
    assert TrialResult.from_json(json.loads(line)) == trial


@given(st.lists(_trials, max_size=4))
@settings(max_examples=25, deadline=None)
def test_results_file_round_trip_keeps_header_and_trial_order(trials: list[TrialResult]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = read_results(_write(Path(tmp) / "deep" / "dir" / "results.jsonl", trials))
    assert results.header == HEADER
    assert list(results.trials) == trials
    assert results.warnings == ()


def test_header_line_and_attribute_names_are_the_documented_keys(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.jsonl", [_trial()])
    header_line, trial_line = path.read_text().splitlines()
    header = json.loads(header_line)
    assert header["format"] == RESULTS_FORMAT and header["version"] == RESULTS_VERSION == 1
    assert header["scenario"]["thresholds"] == ["p99 < 50ms"] and len(header["scenario"]["sha256"]) == 64
    trial = json.loads(trial_line)
    documented = {"kind", "trial_id", "index", "model", "server_model", "family", "server_options", "variant",
                  "workload", "requests_spec", "load", "load_label", "repetition", "round", "started",
                  "status_ok", "failure", "duration_s", "warmup_s", "requests", "ok", "rps", "latency_ms",
                  "service_ms", "errors", "error_messages", "status", "error_rate", "bytes_in", "bytes_out",
                  "target_rps", "dropped", "schedule_lag_ms", "saturated", "saturation_reasons", "engine",
                  "client_cpu_pct", "server", "monitor", "timeline", "histogram", "service_histogram", "cpus"}
    assert documented <= set(trial)
    assert trial["load"] == {"kind": "closed", "connections": 64} and trial["load_label"] == "64c"
    assert trial["started"] == "2026-11-24T06:00:05+00:00"
    assert ": " not in trial_line and ", " not in trial_line.replace('", "', "")  # compact separators


def test_unknown_keys_survive_a_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    lines = [json.dumps(HEADER.to_json() | {"future_header_key": 1}),
             json.dumps(_trial().to_json() | {"future_key": [1, 2]})]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    results = read_results(path)
    assert results.header.extra == {"future_header_key": 1}
    assert results.trials[0].extra == {"future_key": [1, 2]}
    assert results.trials[0].to_json()["future_key"] == [1, 2]


# -- damaged and foreign files -----------------------------------------------------------------------------


def test_truncated_last_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.jsonl", [_trial(index=0), _trial(index=1)])
    text = path.read_text()
    path.write_text(text + dumps_line(_trial(index=2).to_json())[:57])
    results = read_results(path)
    assert [t.index for t in results.trials] == [0, 1]
    assert results.warnings == (f"{path}: line 4 is incomplete (the run was probably killed); skipped",)


def test_corrupt_middle_line_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.jsonl", [_trial(index=0), _trial(index=1), _trial(index=2)])
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:40]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ResultsFormatError, match=rf"^{path}:3: line is not valid JSON"):
        read_results(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("", "file is empty; a results file starts with a header line", id="empty"),
        pytest.param("\n  \n", "file is empty", id="blank"),
        pytest.param("model,rps\nuvicorn,1\n", "not a loadbench results file (line 1 is not JSON", id="csv"),
        pytest.param('{"format": "pyperf", "version": 1}\n', "format is 'pyperf', expected", id="format"),
        pytest.param('{"a": 1}\n', "format is None, expected 'loadbench-results'", id="no-format"),
        pytest.param("[1, 2]\n", "no header line, no trial object", id="array"),
        pytest.param(
            '{"format": "loadbench-results", "version": 2}\n',
            "version 2 is not supported by loadbench 0.1.0 (it reads version 1); upgrade", id="version",
        ),
        pytest.param('{"format": "loadbench-results", "version": "1"}\n', "version '1' is not", id="v-str"),
    ],
)
def test_foreign_files_give_one_line_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(content)
    with pytest.raises(ResultsFormatError) as info:
        read_results(path)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith(str(path))


def test_not_utf8_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ResultsFormatError, match="not UTF-8 text"):
        read_results(path)
    with pytest.raises(ResultsFormatError, match="cannot read results file: No such file"):
        read_results(tmp_path / "absent.jsonl")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("rps", "fast", "key 'rps' must be float, got 'fast'"),
        ("requests", 1.5, "key 'requests' must be int, got 1.5"),
        ("requests", True, "key 'requests' must be int, got True"),
        ("variant", 3, "key 'variant' must be str or null, got 3"),
        ("errors", {"reset": "x"}, "key 'errors' holds 'x', not int"),
        ("monitor", [[0.25, "x", 1, 2]], "key 'monitor' has a row that is not all numbers"),
        ("latency_ms", [1], "key 'latency_ms' must be mapping or null"),
    ],
)
def test_wrong_types_name_the_line_and_key(tmp_path: Path, key: str, value: Any, message: str) -> None:
    path = _write(tmp_path / "r.jsonl", [_trial()])
    header, line = path.read_text().splitlines()
    path.write_text(f"{header}\n{json.dumps(json.loads(line) | {key: value})}\n")
    with pytest.raises(ResultsFormatError, match="^" + re.escape(f"{path}:2: {message}")):
        read_results(path)


def test_missing_required_key_is_named(tmp_path: Path) -> None:
    data = _trial().to_json()
    del data["model"]
    with pytest.raises(ResultsFormatError, match=r"^here: required key 'model' is missing$"):
        TrialResult.from_json(data, where="here")


def test_unknown_record_kind_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.jsonl", [_trial()])
    with path.open("a") as f:
        f.write('{"kind": "footer", "interrupted": false}\n')
    results = read_results(path)
    assert len(results.trials) == 1
    assert results.warnings == (f"{path}:3: record kind 'footer' is unknown to this loadbench; skipped",)


@pytest.mark.parametrize("indent", [None, 2], ids=["compact", "pretty"])
def test_a_bench_json_object_reads_as_one_trial(tmp_path: Path, indent: int | None) -> None:
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(dict(RECORD) | {"model": "http://127.0.0.1:8000", "workload": "/",
                                               "load": {"kind": "closed", "connections": 4}}, indent=indent))
    results = read_results(path)
    assert results.header.scenario["name"] == "bench" and results.header.format == RESULTS_FORMAT
    assert len(results.trials) == 1 and results.trials[0].requests == 1000


# -- writing -------------------------------------------------------------------------------------------------


def test_writer_refuses_an_existing_file_unless_told(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.jsonl", [_trial()])
    with pytest.raises(LoadbenchError, match="already exists; choose another --out directory"):
        ResultsWriter(path, HEADER).open()
    _write_over = ResultsWriter(path, HEADER, overwrite=True)
    with _write_over:
        pass
    assert len(read_results(path).trials) == 0


def test_writer_refuses_nan_naming_the_key_and_leaves_the_file_readable(tmp_path: Path) -> None:
    with ResultsWriter(tmp_path / "r.jsonl", HEADER) as writer:
        writer.append(_trial(index=0))
        bad = _trial(index=1, latency_ms={"p99": math.nan})
        expected = "trial 'uvicorn|/plaintext|64c|1': latency_ms.p99 = nan cannot be written"
        with pytest.raises(ResultsFormatError, match=re.escape(expected)):
            writer.append(bad)
        writer.append(_trial(index=2))
        assert writer.trials_written == 2
    assert [t.index for t in read_results(tmp_path / "r.jsonl").trials] == [0, 2]


def test_append_outside_the_with_block_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LoadbenchError, match="not open"):
        ResultsWriter(tmp_path / "r.jsonl", HEADER).append(_trial())


# -- builders ------------------------------------------------------------------------------------------------


def test_make_trial_result_merges_identity_record_and_scrubs_nan() -> None:
    record = dict(RECORD) | {"latency_ms": {"p50": math.nan, "p99": 4.0}, "sent": 1001, "new_metric": 7,
                             "model": "ignored: identity wins"}  # fmt: skip
    trial = measured_trial(TrialIdentity(**IDENTITY), record)
    assert trial.model == "uvicorn" and trial.load_label == "64c" and trial.kind == "trial"
    assert trial.latency_ms == {"p50": None, "p99": 4.0}
    assert trial.sent == 1001 and trial.extra == {"new_metric": 7}
    assert trial.requests_spec == ({"method": "GET", "path": "/plaintext", "weight": 1.0},)
    assert trial.error_count == 3 and not trial.failed
    assert trial.load_spec() == Closed(connections=64)


SUMMARY = MonitorSummary(
    samples=((0.25, 97.0, 40.1, 55.0), (0.5, 99.0, 40.3, 53.0)), duration_s=0.5, cpu_pct_mean=98.0,
    cpu_pct_max=99.0, rss_mb_mean=40.2, rss_mb_max=40.3, processes=2, client_cpu_pct_mean=54.0,
    other_cpu_pct_mean=3.5,
)


def test_make_trial_result_takes_the_monitor_summary_but_prefers_the_engines_own_cpu() -> None:
    trial = measured_trial(TrialIdentity(**IDENTITY), RECORD | {"client_cpu_pct": 61.0}, monitor=SUMMARY)
    assert trial.server == {"cpu_pct_mean": 98.0, "cpu_pct_max": 99.0, "rss_mb_mean": 40.2,
                            "rss_mb_max": 40.3, "processes": 2}  # fmt: skip
    assert trial.monitor == SUMMARY.samples and trial.other_cpu_pct == 3.5
    assert trial.client_cpu_pct == 61.0
    no_engine_cpu = {k: v for k, v in RECORD.items() if k != "client_cpu_pct"}
    assert measured_trial(TrialIdentity(**IDENTITY), no_engine_cpu, monitor=SUMMARY).client_cpu_pct == 54.0
    failed = failed_trial(TrialIdentity(**IDENTITY), reason="died", monitor=SUMMARY)
    assert failed.server is not None and failed.server["rss_mb_max"] == 40.3


def test_make_trial_result_names_a_bad_record_value() -> None:
    expected = "trial 'uvicorn|/plaintext|64c|1': key 'rps' must be float, got 'many'"
    with pytest.raises(ResultsFormatError, match=re.escape(expected)):
        measured_trial(TrialIdentity(**IDENTITY), dict(RECORD) | {"rps": "many"})


def test_failed_trial_result_has_zero_counts_and_the_reason() -> None:
    trial = failed_trial(TrialIdentity(**IDENTITY), reason="port in use", log_tail="OSError: [Errno 98]")
    assert trial.failed and trial.status_ok is False
    assert trial.failure == {"reason": "port in use", "log_tail": "OSError: [Errno 98]"}
    assert (trial.requests, trial.ok, trial.rps, trial.error_count) == (0, 0, 0.0, 0)
    assert trial.latency_ms is None and trial.latency_histogram() is None


@pytest.mark.parametrize(
    "load",
    [Closed(connections=3), Open(rate_per_s=250.5, arrival="poisson", max_connections=50),
     Stages(kind="rate", stages=(Stage(duration_s=1.0, target=10.0), Stage(duration_s=2.0, target=0.0)))],
)  # fmt: skip
def test_load_shapes_round_trip(load: Closed | Open | Stages) -> None:
    assert load_from_json(json.loads(json.dumps(load_to_json(load)))) == load


def test_malformed_load_is_a_results_error() -> None:
    with pytest.raises(ResultsFormatError, match=r"load \{'kind': 'closed'\} is incomplete or malformed"):
        load_from_json({"kind": "closed"})
    with pytest.raises(ResultsFormatError, match="unknown load kind 'burst'"):
        load_from_json({"kind": "burst"})


def test_header_validation_needs_a_scenario_name() -> None:
    with pytest.raises(ResultsFormatError, match="key 'scenario' needs a string 'name', got None"):
        ResultsHeader.from_json(HEADER.to_json() | {"scenario": {}})


def test_default_run_dir_is_reports_scenario_timestamp() -> None:
    now = datetime(2026, 11, 24, 6, 1, 2)
    assert default_run_dir("quickstart", now) == Path("reports/quickstart-20261124-060102")
    odd = default_run_dir("my scenario/x", now, root="/tmp/out")
    assert odd == Path("/tmp/out/my-scenario-x-20261124-060102")


def test_runs_started_in_the_same_second_get_their_own_directories(tmp_path: Path) -> None:
    # Before: both runs were given reports/<name>-<second>/, and the second failed on (or mixed its logs
    # into) the first's. Each directory is now claimed with an atomic mkdir, here by 8 racing threads.
    from concurrent.futures import ThreadPoolExecutor

    from loadbench.results.file import create_run_dir

    now = datetime(2026, 11, 24, 6, 1, 2)
    with ThreadPoolExecutor(8) as pool:
        dirs = list(pool.map(lambda _: create_run_dir("quick start", now, root=tmp_path), range(8)))
    assert len(set(dirs)) == 8 and all(d.is_dir() for d in dirs)
    names = sorted(d.name for d in dirs)
    assert names[0] == "quick-start-20261124-060102"
    assert set(names[1:]) == {f"quick-start-20261124-060102-{n}" for n in range(2, 9)}
