"""`run --set table.key=value`: overrides applied before validation, shown in the dry run, kept in results."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from loadbench.cli import cli
from loadbench.errors import ScenarioError, UsageError
from loadbench.scenario import load_scenario
from loadbench.scenario.overrides import parse_overrides

SCENARIO = """\
name = "t"
[[servers]]
model = "waitress"
[[endpoints]]
path = "/plaintext"
[load]
connections = [4]
duration = "5s"
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "t.toml"
    path.write_text(SCENARIO)
    return path


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        pytest.param("load.duration=1m30s", ("load", "duration"), "1m30s", id="bare-text"),
        pytest.param("load.connections=[16, 64]", ("load", "connections"), [16, 64], id="toml-list"),
        pytest.param("load.repeat=3", ("load", "repeat"), 3, id="toml-int"),
        pytest.param('name="x y"', ("name",), "x y", id="top-level"),
        pytest.param("servers.0.workers=4", ("servers", 0, "workers"), 4, id="array-table"),
        pytest.param("variants.1.cwd=/ci/pr", ("variants", 1, "cwd"), "/ci/pr", id="variant-cwd"),
    ],
)
def test_parse(text: str, path: tuple[object, ...], value: object) -> None:
    (override,) = parse_overrides([text])
    assert (override.path, override.value) == (path, value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("load.durration=5s", "unknown key of [load] 'durration'; did you mean 'duration'?",
                     id="key-typo"),
        pytest.param("lod.duration=5s", "unknown table 'lod'; did you mean 'load'?", id="table-typo"),
        pytest.param("load.duration", "write it like --set load.duration=30s", id="no-equals"),
        pytest.param("servers.workers=4", "chosen by index", id="array-without-index"),
        pytest.param("a.b.c=1", "is not table.key", id="too-deep"),
    ],
)
def test_unknown_keys_are_named(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_overrides([text])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_overrides_apply_before_validation(scenario: Path) -> None:
    loaded = load_scenario(scenario, cpus=(0, 1), overrides=parse_overrides(
        ["load.duration=1m30s", "load.connections=[16,64]", "servers.0.threads=8"]))
    assert loaded.load.duration_s == 90.0
    assert [p.label for p in loaded.load.points] == ["16c", "64c"]
    assert loaded.servers[0].threads == 8
    assert loaded.overrides == ("load.duration=1m30s", "load.connections=[16,64]", "servers.0.threads=8")


def test_a_bad_value_is_a_scenario_problem(scenario: Path) -> None:
    with pytest.raises(ScenarioError, match="duration"):
        load_scenario(scenario, cpus=(0, 1), overrides=parse_overrides(["load.duration=fast"]))


def test_index_out_of_range(scenario: Path) -> None:
    with pytest.raises(UsageError, match=r"has 1 \[\[servers\]\] entries"):
        load_scenario(scenario, cpus=(0, 1), overrides=parse_overrides(["servers.3.workers=2"]))


def test_dry_run_shows_overrides(scenario: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(scenario), "--dry-run", "--set", "load.duration=1m30s"])
    assert result.exit_code == 0, result.output
    assert "Overrides (--set): load.duration=1m30s" in result.output
    assert "90" in result.output


def test_variant_cwd_points_a_paired_run_at_two_checkouts(tmp_path: Path) -> None:
    base, pr = tmp_path / "base", tmp_path / "pr"
    base.mkdir(), pr.mkdir()
    path = tmp_path / "gate.toml"
    path.write_text('[app]\nmodule = "svc.app:app"\n[[servers]]\nmodel = "uvicorn"\n[[endpoints]]\n'
                    'path = "/"\n[load]\nconnections = [4]\n[[variants]]\nname = "baseline"\n'
                    '[[variants]]\nname = "candidate"\n')
    loaded = load_scenario(path, cpus=(0, 1), overrides=parse_overrides(
        [f"variants.0.cwd={base}", f"variants.1.cwd={pr}"]))
    assert [(v.name, v.app.cwd) for v in loaded.variants] == [("baseline", str(base)), ("candidate", str(pr))]
