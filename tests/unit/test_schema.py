"""`loadbench schema results|scenario`: the shipped JSON Schemas, what loadbench writes validating against
them (strictly: no key the schema does not name), and the scenario schema agreeing with the validator."""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from schema_check import check_results_file, check_results_line, results_schema
from synthetic import ENV, write_synthetic_results

from loadbench.cli import cli
from loadbench.cli.schema import SCHEMAS, schema_text
from loadbench.errors import UsageError
from loadbench.plugins import ENGINE_BACKENDS
from loadbench.results.metrics import LatencyHistogram, percentile_summary_ms
from loadbench.results.monitoring import MonitorSummary
from loadbench.results.profiles import ProfileRecord, Sampler, profile_record
from loadbench.results.records import ResultsHeader, TrialResult
from loadbench.scenario import TOP_LEVEL_KEYS, find_scenario, known_model_names, shipped_scenarios
from loadbench.scenario import schema as tables
from loadbench.scenario.adaptive import ADAPTIVE_KEYS
from loadbench.scenario.crowd import CROWD_KEYS
from loadbench.scenario.engine_table import LOCUST_KEYS
from loadbench.scenario.types import PROFILE_POINTS
from loadbench.types import Closed, ErrorClass, Open, Stages
from loadbench.units import parse_count, parse_duration, parse_rate

ROOT = Path(__file__).resolve().parents[2]


def _scenario_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_text("scenario"))
    return schema


# -- the command ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_command_prints_the_shipped_draft_2020_12_schema(name: str) -> None:
    result = CliRunner().invoke(cli, ["schema", name])
    assert result.exit_code == 0, result.output
    package, filename = SCHEMAS[name]
    shipped = (ROOT / "loadbench" / package.split(".")[1] / filename).read_text(encoding="utf-8")
    assert result.output == shipped
    schema = json.loads(result.output)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_output_goes_through_the_safe_writer(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "results.schema.json"
    result = CliRunner().invoke(cli, ["schema", "results", "-o", str(out)])
    assert result.exit_code == 0 and result.output == ""
    assert out.read_text(encoding="utf-8") == schema_text("results")
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "elsewhere.json")
    refused = CliRunner().invoke(cli, ["schema", "scenario", "-o", str(link)])
    assert refused.exit_code != 0 and "symbolic link" in str(refused.exception)
    assert not (tmp_path / "elsewhere.json").exists()


def test_schema_files_are_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data = pyproject["tool"]["setuptools"]["package-data"]
    for package, filename in SCHEMAS.values():
        assert filename in data[package]


# -- the results schema names every field of the records -------------------------------------------------

def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)} - {"extra"}


def test_results_schema_names_every_record_field() -> None:
    defs = results_schema()["$defs"]
    assert set(defs["trial"]["properties"]) == _fields(TrialResult)
    assert set(defs["header"]["properties"]) == _fields(ResultsHeader)
    assert set(defs["errors"]["properties"]) == {cls.value for cls in ErrorClass}
    assert set(defs["latency"]["properties"]) == set(percentile_summary_ms(LatencyHistogram()))
    monitor = MonitorSummary(duration_s=1.0, cpu_pct_mean=1.0, cpu_pct_max=2.0, rss_mb_mean=3.0,
                             rss_mb_max=4.0, processes=1, samples=(), client_cpu_pct_mean=None,
                             other_cpu_pct_mean=None, fds_mean=5.0, fds_max=6)
    assert set(defs["server"]["properties"]) == set(monitor.to_record()["server"])
    # the runner adds, once per run, why hardware counters were unavailable and (with a CGI model) the
    # interpreter's start-up time, beside collect_env's keys
    assert set(defs["env"]["properties"]) == set(ENV) | {"instruction_counters", "python_startup_ms"}
    assert set(defs["profile"]["properties"]) == _fields(ProfileRecord)
    assert set(defs["sampler"]["properties"]) == set(Sampler().to_json())
    load_keys = set(defs["load"]["properties"])
    for shape in (Open(rate_per_s=5.0), Stages(kind="rate", stages=())):
        assert set(shape.to_json()) <= load_keys


@pytest.mark.parametrize(("record", "needle"), [
    ({"model": "m", "workload": "w", "load": {"kind": "closed", "connections": 1}, "duration_s": 1.0,
      "requests": 1, "rps": "fast"}, "rps"),
    ({"model": "m", "workload": "w", "load": {"kind": "closed"}, "duration_s": 1.0, "requests": 1,
      "rps": 1.0}, "connections"),
    ({"model": "m", "workload": "w", "duration_s": 1.0, "requests": 1, "rps": 1.0}, "load"),
    ({"model": "m", "workload": "w", "load": {"kind": "closed", "connections": 1}, "duration_s": 1.0,
      "requests": True, "rps": 1.0}, "requests"),
    ({"format": "loadbench-results", "version": 1, "created": "x", "scenario": {}, "env": {}}, "name"),
    ({"format": "loadbench-results", "version": 2, "created": "x", "scenario": {"name": "s"}, "env": {}},
     "1"),
], ids=["rps-not-a-number", "closed-without-connections", "no-load", "bool-count", "header-no-name",
        "header-version-2"])  # fmt: skip
def test_results_schema_refuses_what_the_reader_refuses(record: dict[str, Any], needle: str) -> None:
    with pytest.raises(AssertionError, match="does not validate") as info:
        check_results_line(record, "line")
    assert needle in str(info.value)


def test_unknown_record_kinds_validate_as_the_reader_skips_them() -> None:
    check_results_line({"kind": "annotation", "text": "anything"}, "line")


def test_a_written_key_the_schema_does_not_know_fails_naming_it() -> None:
    trial = {"model": "m", "workload": "w", "load": {"kind": "closed", "connections": 1}, "duration_s": 1.0,
             "requests": 1, "rps": 1.0, "shiny_new_figure": 3, "latency_ms": {"p50": 1.0, "p42": 2.0}}
    jsonschema.validate(trial, results_schema())  # the shipped schema keeps unknown keys, as readers do
    with pytest.raises(AssertionError) as info:
        check_results_line(trial, "results.jsonl:2")
    message = str(info.value)
    assert "'latency_ms/p42'" in message and "'shiny_new_figure'" in message
    assert "loadbench/results/results.schema.json" in message and "docs/results-format.md" in message


# -- every line loadbench writes validates -----------------------------------------------------------------

@pytest.mark.parametrize("options", [
    {},
    {"loads": (Open(rate_per_s=200.0, arrival="poisson"), 4), "saturated_every": 3, "failed": (1,)},
    {"variants": ("baseline", "candidate"), "repetitions": 2, "thresholds": ("p99 < 50ms",)},
    {"models": ("gunicorn-gevent", "nginx", "made-up"), "failed": ("nginx",), "repetitions": 1},
    {"breakdown": True, "repetitions": 1, "failed": (2,)},
], ids=["closed", "open-saturated-failed", "paired", "other-models-failed", "breakdown-pipeline-checks"])
def test_every_synthetic_results_line_validates(tmp_path: Path, options: dict[str, Any]) -> None:
    path = write_synthetic_results(tmp_path / "results.jsonl", latency_samples=50, **options)
    assert check_results_file(path) > 1


def test_stored_results_files_validate() -> None:
    stored = sorted((ROOT / "tests").glob("**/*.jsonl"))
    assert stored  # the golden tests' input at least
    for path in stored:
        check_results_file(path)


def test_profile_records_validate() -> None:
    from loadbench.results.build import TrialIdentity

    identity = TrialIdentity(trial_id="uvicorn|/json|64c|1", index=3, model="uvicorn", server_model="uvicorn",
                             family="event-loop", workload="/json", load=Closed(connections=64),
                             started="2026-01-01T00:00:00+00:00")  # fmt: skip
    taken = profile_record(identity, sampler=Sampler(version="0.4.0", cpus=(1,)), duration_s=1.5,
                           stacks={"[main process];run (uvicorn/main.py);handle (app.py)": 90, "idle": 10},
                           sampler_cpu_s=0.1, requests=700, rps=466.7, processes=1)  # fmt: skip
    skipped = profile_record(identity, reason="nginx is written in C")
    for record in (taken, skipped):
        check_results_line(record.to_json(), f"profile {record.profiled}")
    with pytest.raises(AssertionError, match="does not validate"):
        check_results_line({**taken.to_json(), "stacks": [["a;b", -1]]}, "profile")


def test_locust_backend_records_validate() -> None:
    from test_locust_backend import _convert, _doc, _entry  # the Locust tests' fake result documents

    from loadbench.results.build import TrialIdentity, measured_trial

    result = _convert(_doc([_entry("/a"), _entry("/b")]))
    for workload, recording in result.recordings.items():
        identity = TrialIdentity(trial_id=f"t|{workload}", index=0, model="uvicorn", workload=workload,
                                 load=recording.load, started="2026-01-01T00:00:00+00:00")
        trial = measured_trial(identity, recording, backend_extras={**result.extras, "locustfile": "x.py"})
        check_results_line(trial.to_json(), f"locust {workload}")


# -- the scenario schema agrees with the scenario validator ----------------------------------------------

def test_scenario_schema_names_the_keys_the_validator_knows() -> None:
    schema = _scenario_schema()
    props, defs = schema["properties"], schema["$defs"]
    assert set(props) == set(TOP_LEVEL_KEYS)
    assert set(defs["app"]["properties"]) == set(tables.APP_KEYS)
    assert set(defs["server"]["properties"]) == set(tables.SERVER_KEYS)
    assert set(defs["load"]["properties"]) == set(tables.LOAD_KEYS + CROWD_KEYS + ADAPTIVE_KEYS)
    assert set(props["endpoints"]["items"]["properties"]) == set(tables.ENDPOINT_KEYS)
    assert set(props["mixes"]["items"]["properties"]) == set(tables.MIX_KEYS)
    assert set(props["mixes"]["items"]["properties"]["endpoints"]["items"]["anyOf"][1]["properties"]) == set(
        tables.MIX_ENTRY_KEYS)
    assert set(props["cpus"]["properties"]) == set(tables.CPU_KEYS)
    assert set(props["thresholds"]["properties"]) == set(tables.THRESHOLD_KEYS)
    assert set(props["variants"]["items"]["properties"]) == set(tables.VARIANT_KEYS)
    assert set(props["paired"]["properties"]) == set(tables.PAIRED_KEYS)
    assert set(props["locust"]["properties"]) == set(LOCUST_KEYS)
    assert defs["server"]["properties"]["model"]["enum"] == list(known_model_names())
    assert props["engine"]["enum"] == list(ENGINE_BACKENDS)
    assert props["profile"]["anyOf"][1]["enum"] == list(PROFILE_POINTS)


def _toml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", markdown, flags=re.S)


def test_shipped_scenarios_and_documented_examples_validate() -> None:
    validator = jsonschema.Draft202012Validator(_scenario_schema())
    texts = {name: find_scenario(name).read_text(encoding="utf-8") for name in shipped_scenarios()}
    docs = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    texts |= {f"docs/scenarios.md block {i}": block for i, block in enumerate(_toml_blocks(docs), 1)}
    assert len(texts) > 10
    for where, text in texts.items():
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                    for e in validator.iter_errors(tomllib.loads(text))]
        assert not problems, f"{where}: {problems}"


@pytest.mark.parametrize(("text", "where"), [
    ('[load]\nduraton = "10s"\nconnections = [1]', "load"),
    ('nmae = "x"', ""),
    ('[[servers]]\nmodel = "uvicron"', "servers/0/model"),
    ('[load]\nconnections = [1]\nrates = ["10/s"]', "load"),
    ('[load]\nconnections = [1]\nduration = "ten seconds"', "load/duration"),
    ('engine = "wrk"', "engine"),
    ('[[endpoints]]\nmethod = "GET"', "endpoints/0"),
], ids=["typo-in-load", "typo-top", "unknown-model", "two-load-kinds", "bad-duration", "unknown-engine",
        "endpoint-without-path"])  # fmt: skip
def test_scenario_schema_refuses_mistakes(text: str, where: str) -> None:
    errors = list(jsonschema.Draft202012Validator(_scenario_schema()).iter_errors(tomllib.loads(text)))
    assert errors
    assert any("/".join(map(str, e.absolute_path)) == where for e in errors), [e.message for e in errors]


_UNIT_CASES: list[tuple[str, Any, list[str]]] = [
    ("duration", parse_duration, ["10s", "250ms", "2m", "1m30s", " 1.5 s", "3", ".5h", "1µs", "10 sec", "s",
                                  "1m30", "-1s", "ten", "1d"]),
    ("rate", parse_rate, ["500/s", "1k/s", "30/m", "200", "2 k / min", "1.5/h", "/s", "5/d", "fast"]),
    ("count", parse_count, ["64", "1k", "2M", " 8 ", "1.5k", "k", "-3", "64c"]),
]


@pytest.mark.parametrize(("kind", "parse", "values"), _UNIT_CASES, ids=[c[0] for c in _UNIT_CASES])
def test_unit_patterns_accept_what_the_parsers_accept(kind: str, parse: Any, values: list[str]) -> None:
    defs = _scenario_schema()["$defs"]["load"]["properties"]
    subschemas = {"duration": defs["duration"], "rate": defs["rates"]["anyOf"][0], "count": defs["repeat"]}
    subschema = subschemas[kind]
    validator = jsonschema.Draft202012Validator(subschema)
    for value in values:
        try:
            parse(value)
            parsed = True
        except (UsageError, ValueError):
            parsed = False
        assert validator.is_valid(value) == parsed, f"{kind} {value!r}: parser {parsed}, schema {not parsed}"
