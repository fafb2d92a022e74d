"""Hostile scenario files (issue 7, item 3): random and malformed TOML never escapes as a traceback.

Documents are built from strategies over the real scenario keys (scenario.TOP_LEVEL_KEYS and the
per-table key lists of scenario_schema) with values of every TOML type, wrong values, unknown keys,
random text and bytes that are not UTF-8. `load_scenario` must raise ScenarioError (or accept the file),
never anything else; `loadbench run FILE --dry-run` must exit 2 with an "Error:" message and no traceback.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from loadbench.cli import main
from loadbench.errors import ExitCode, ScenarioError
from loadbench.scenario import TOP_LEVEL_KEYS, load_scenario
from loadbench.scenario.engine_table import LOCUST_KEYS
from loadbench.scenario.schema import (
    APP_KEYS,
    CPU_KEYS,
    ENDPOINT_KEYS,
    LOAD_KEYS,
    MIX_ENTRY_KEYS,
    MIX_KEYS,
    PAIRED_KEYS,
    SERVER_KEYS,
    THRESHOLD_KEYS,
    VARIANT_KEYS,
)

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLI_FUZZ = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# ---- a small TOML writer (no tomli_w in the venv): every value type TOML has ---------------------------


def _toml_string(text: str) -> str:
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def to_toml(doc: dict[str, Any]) -> str:
    """Top-level plain values first, then [tables] and [[arrays of tables]]."""
    lines: list[str] = []
    tables: list[tuple[str, Any]] = []
    for key, value in doc.items():
        if isinstance(value, dict) or (isinstance(value, list) and value and
                                       all(isinstance(v, dict) for v in value)):
            tables.append((key, value))
        else:
            lines.append(f"{_toml_string(key)} = {_toml_value(value)}")
    for key, value in tables:
        for table in value if isinstance(value, list) else [value]:
            lines.append(f"[[{_toml_string(key)}]]" if isinstance(value, list) else f"[{_toml_string(key)}]")
            lines.extend(f"{_toml_string(k)} = {_toml_value(v)}" for k, v in table.items())
    return "\n".join(lines) + "\n"


# ---- strategies ----------------------------------------------------------------------------------------

# Values that look right to a careless eye: units, edge numbers, names of real things, path-ish text.
PLAUSIBLE = st.sampled_from([
    "10s", "0s", "-5s", "0", "1k", "2M", "1.5", "1e9", "500/s", "0/s", "-5/s", "1k/s", "30/m", "10s:100/s",
    "10s:16c", "5s:0c", "0s:0/s", "10s:", ":100/s", "uvicorn", "waitress", "gunicorn", "uvicron", "command",
    "/plaintext", "/io?ms=20", "plaintext", "", " ", "GET", "get", "POST", "uniform", "poisson", "ABBA",
    "abab", "0-3", "3-0", "0,1", "99", "-1", "pkg.mod:app", "pkg.mod", ":app", "python -m http.server {port}",
    "{port", "{nope}", "'unclosed", "~nosuchuser_xyz/dir", "~", "a\x00b", "/" + "x" * 5000, "..", ".",
    "p99 < 50ms", "bogus", "\u202e", "\N{SNOWMAN}", "x\ny", "X-Header", "bad header",
])
SCALARS = st.one_of(
    PLAUSIBLE,
    st.text(max_size=30),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, 1, -1, 2**31, 2**63 - 1, -(2**63), 10**6]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    st.dates(),
    st.times(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(PLAUSIBLE, st.text(max_size=8)), inner, max_size=3),
    ),
    max_leaves=8,
)


def table(keys: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """A table with some of the real `keys` (and now and then an unknown one), each with a hostile value."""
    key = st.one_of(st.sampled_from(keys), st.sampled_from(keys), st.text(min_size=1, max_size=10))
    return st.dictionaries(key, VALUES, max_size=len(keys) + 1)


def array_of_tables(keys: tuple[str, ...]) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(table(keys), min_size=1, max_size=3)


SECTIONS: dict[str, st.SearchStrategy[Any]] = {
    "name": VALUES,
    "description": VALUES,
    "engine": st.one_of(VALUES, st.sampled_from(["native", "locust", "nativ", ""])),
    "app": st.one_of(VALUES, table(APP_KEYS)),
    "servers": st.one_of(array_of_tables(SERVER_KEYS), VALUES),
    "endpoints": st.one_of(array_of_tables(ENDPOINT_KEYS), VALUES),
    "mixes": st.one_of(
        st.lists(st.fixed_dictionaries({"name": VALUES, "endpoints": st.lists(
            st.one_of(VALUES, table(MIX_ENTRY_KEYS)), max_size=3)}), min_size=1, max_size=2),
        array_of_tables(MIX_KEYS),
    ),
    "load": st.one_of(table(LOAD_KEYS), VALUES),
    "cpus": st.one_of(table(CPU_KEYS), VALUES),
    "thresholds": st.one_of(table(THRESHOLD_KEYS), VALUES),
    "variants": st.one_of(array_of_tables(VARIANT_KEYS), VALUES),
    "paired": st.one_of(table(PAIRED_KEYS), VALUES),
    "locust": st.one_of(table(LOCUST_KEYS), VALUES),
    "profile": st.one_of(VALUES, st.booleans(), st.sampled_from(["heaviest", "all", "off", "some"])),
}
assert set(SECTIONS) == set(TOP_LEVEL_KEYS), "a new top-level scenario key needs a strategy here"


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A scenario-shaped document: a random subset of the real sections, plus maybe an unknown key."""
    chosen = draw(st.lists(st.sampled_from(sorted(SECTIONS)), unique=True, max_size=len(SECTIONS)))
    doc = {key: draw(SECTIONS[key]) for key in chosen}
    if draw(st.booleans()) and draw(st.booleans()):
        doc[draw(st.text(min_size=1, max_size=10))] = draw(VALUES)
    return doc


SHIPPED = sorted(p.read_text() for p in SCENARIOS.glob("*.toml"))


@st.composite
def mutated_shipped(draw: st.DrawFn) -> str:
    """A shipped scenario with a slice cut out, or one value replaced by random text."""
    text = draw(st.sampled_from(SHIPPED))
    if draw(st.booleans()):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 200)))
        return text[:start] + text[end:]
    values = list(re.finditer(r"= (.+)$", text, re.MULTILINE))
    match = draw(st.sampled_from(values))
    return text[:match.start(1)] + _toml_value(draw(VALUES)) + text[match.end(1):]


# ---- library: load_scenario raises ScenarioError or returns a Scenario --------------------------------


def _load(tmp_path: Path, data: bytes | str) -> None:
    path = tmp_path / "hostile.toml"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    try:
        load_scenario(path, cpus=(0, 1))
    except ScenarioError as exc:
        message = str(exc)
        assert message.startswith(str(path)), message
        assert exc.problems and all(p.strip() for p in exc.problems)


@FUZZ
@given(doc=documents())
def test_scenario_shaped_documents_raise_only_scenario_error(tmp_path_factory: pytest.TempPathFactory,
                                                             doc: dict[str, Any]) -> None:
    _load(tmp_path_factory.mktemp("s"), to_toml(doc))


@FUZZ
@given(text=mutated_shipped())
def test_mutated_shipped_scenarios_raise_only_scenario_error(tmp_path_factory: pytest.TempPathFactory,
                                                             text: str) -> None:
    _load(tmp_path_factory.mktemp("s"), text)


@settings(max_examples=100, deadline=None)
@given(data=st.one_of(st.text(max_size=200), st.binary(max_size=200)))
@example(data=b"\xff\xfe\x00n\x00a\x00m\x00e")  # UTF-16 with a BOM
@example(data=b'name = "caf\xe9"')  # Latin-1
@example(data="")
@example(data="[load]\nconnections = [1\n")
def test_random_text_and_bytes_raise_only_scenario_error(tmp_path_factory: pytest.TempPathFactory,
                                                         data: str | bytes) -> None:
    _load(tmp_path_factory.mktemp("s"), data)


@pytest.mark.parametrize(
    ("snippet", "named"),
    [
        pytest.param('[load]\nconnections = [1]\nduration = [1, 2]\n', "duration", id="duration-list"),
        pytest.param('[load]\nconnections = [1]\ntimeout = {a = 1}\n', "timeout", id="timeout-table"),
        pytest.param('[load]\nconnections = [1]\nwarmup = 1979-05-27\n', "warmup", id="warmup-date"),
        pytest.param('[load]\nconnections = [1]\nduration = 1e400\n', "duration", id="duration-inf"),
        pytest.param('[load]\nconnections = [1]\nduration = nan\n', "duration", id="duration-nan"),
        pytest.param('[load]\nrates = [[1]]\n', "rates", id="rates-nested-list"),
        pytest.param('[load]\nrates = [nan]\n', "rates", id="rates-nan"),
        pytest.param('[load]\nconnections = [1.5]\n', "connections", id="connections-fraction"),
        pytest.param('[load]\nconnections = [1e300]\n', "connections", id="connections-huge-float"),
        pytest.param('[load]\nconnections = [{a = 1}]\n', "connections", id="connections-table"),
        pytest.param('[load]\nconnections = [1]\nrepeat = "lots"\n', "repeat", id="repeat-text"),
        pytest.param('[load]\nstages = [1]\n', "stages", id="stages-number"),
        pytest.param('[app]\ncwd = "a\\u0000b"\n[load]\nconnections = [1]\n', "cwd", id="cwd-nul"),
        pytest.param('[app]\ncwd = "~nosuchuser_xyz/x"\n[load]\nconnections = [1]\n', "cwd",
                     id="cwd-unknown-user"),
        pytest.param('[app]\ncwd = "' + "x" * 5000 + '"\n[load]\nconnections = [1]\n', "cwd",
                     id="cwd-too-long"),
        pytest.param('[cpus]\nserver = [1.5]\n[load]\nconnections = [1]\n', "server", id="cpus-float"),
        pytest.param('[cpus]\nserver = ["a"]\n[load]\nconnections = [1]\n', "server", id="cpus-text-item"),
        pytest.param('[[servers]]\nmodel = "uvicorn"\nworkers = [2]\n[load]\nconnections = [1]\n', "workers",
                     id="workers-list"),
        pytest.param('[paired]\nrounds = 1e999\n[load]\nconnections = [1]\n', "rounds", id="rounds-inf"),
        pytest.param('[load]\nconnections = [1]\nduration = ' + "9" * 400 + "\n", "duration",
                     id="duration-int-beyond-float"),
        pytest.param('[load]\nconnections = ["' + "9" * 400 + '"]\n', "connections",
                     id="count-text-beyond-float"),
        pytest.param('[load]\nconnections = [1]\nrepeat = ' + "9" * 5000 + "\n", "cannot be read",
                     id="int-of-5000-digits"),
        pytest.param('[[mixes]]\nname = "m"\nendpoints = [{endpoint = []}]\n[load]\nconnections = [1]\n',
                     "endpoint", id="mix-endpoint-ref-list"),
        pytest.param('[[mixes]]\nname = "m"\nendpoints = [{path = "/", weight = inf}]\n'
                     '[load]\nconnections = [1]\n', "weight", id="mix-weight-inf"),
        pytest.param('[thresholds]\nchecks = ["p99x < 1ms"]\n[load]\nconnections = [1]\n',
                     "unknown metric 'p99x'", id="threshold-typo-fails-before-the-run"),
        pytest.param('[thresholds]\nchecks = ["p99 < 50"]\n[load]\nconnections = [1]\n', "missing unit",
                     id="threshold-without-unit"),
        pytest.param('[cpus]\nserver = "0-99999999999"\n[load]\nconnections = [1]\n', "server",
                     id="cpus-huge-range"),
        pytest.param('[cpus]\nserver = "' + "9" * 5000 + '"\n[load]\nconnections = [1]\n', "server",
                     id="cpus-5000-digits"),
    ],
)
def test_wrong_types_are_named_problems(tmp_path: Path, snippet: str, named: str) -> None:
    """Known-risky shapes (non-string values where a unit string goes, NUL bytes, unknown ~user)."""
    path = tmp_path / "bad.toml"
    path.write_text(snippet)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, cpus=(0, 1))
    assert named in str(info.value)


# ---- through the CLI: exit 2, "Error:", no traceback --------------------------------------------------


def _run_dry(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(["run", str(path), "--dry-run"])
    code = info.value.code
    _, err = capsys.readouterr()
    return (code if isinstance(code, int) else 1), err


@CLI_FUZZ
@given(data=st.one_of(documents().map(to_toml), mutated_shipped(), st.binary(max_size=100)))
def test_run_dry_run_of_hostile_files_exits_2_with_an_error_line(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str], data: str | bytes
) -> None:
    path = tmp_path_factory.mktemp("cli") / "hostile.toml"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    code, err = _run_dry(path, capsys)
    assert "Traceback" not in err
    if code == ExitCode.OK:  # a valid plan: the document happened to be a correct scenario
        return
    assert code == ExitCode.USAGE, err
    assert err.startswith("Error: "), err
    assert str(path) in err.splitlines()[0]


def test_run_with_a_missing_scenario_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run_dry(tmp_path / "nope" / "missing.toml", capsys)
    assert code == ExitCode.USAGE
    assert err.startswith("Error: ") and "missing.toml" in err and "no such file" in err
    assert "Traceback" not in err


def test_run_with_a_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dir.toml").mkdir()
    code, err = _run_dry(tmp_path / "dir.toml", capsys)
    assert code == ExitCode.USAGE
    assert err.startswith("Error: ") and "dir.toml" in err
