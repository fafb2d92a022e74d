"""One stage grammar for `bench --stages` and scenario `stages = [...]`: every target carries its unit."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from loadbench.cli import main
from loadbench.errors import ScenarioError, UsageError
from loadbench.scenario import load_scenario
from loadbench.shapes import Stage, Stages
from loadbench.units import parse_stages

NO_UNIT = "stage target '10' has no unit; write 10/s for a rate (requests per second) or 10c for connections"


@pytest.mark.parametrize(
    ("spec", "kind", "stages"),
    [
        pytest.param("10s:500/s", "rate", ((10, 500),), id="rate"),
        pytest.param("10s:2k/s", "rate", ((10, 2000),), id="rate-k"),
        pytest.param("1m:30/m", "rate", ((60, 0.5),), id="rate-per-minute"),
        pytest.param("10s:64c", "connections", ((10, 64),), id="connections"),
        pytest.param("10s:1kc", "connections", ((10, 1000),), id="connections-k"),
        pytest.param("10s:100/s,30s:500/s,10s:0", "rate", ((10, 100), (30, 500), (10, 0)),
                     id="bare-zero-rate"),
        pytest.param("10s:16c,20s:64c,5s:0", "connections", ((10, 16), (20, 64), (5, 0)),
                     id="bare-zero-connections"),
        pytest.param("5s:0,10s:100/s", "rate", ((5, 0), (10, 100)), id="bare-zero-first"),
        pytest.param("10s:100/s,10s:0/s", "rate", ((10, 100), (10, 0)), id="zero-rate-with-unit"),
        pytest.param("10s:8c,10s:0c", "connections", ((10, 8), (10, 0)), id="zero-connections-with-unit"),
        pytest.param(" 10s : 500/s , 500ms:1k/s ", "rate", ((10, 500), (0.5, 1000)), id="spaces"),
        pytest.param("10:5/s", "rate", ((10, 5),), id="bare-duration-is-seconds"),
        pytest.param(["10s:100/s", "30s:500/s", "10s:0"], "rate", ((10, 100), (30, 500), (10, 0)),
                     id="list"),
    ],
)  # fmt: skip
def test_good_stages(spec: str | Sequence[object], kind: str, stages: tuple[tuple[float, float], ...],
                     ) -> None:  # fmt: skip
    parsed = parse_stages(spec, what="--stages", arrival="poisson", max_connections=32)
    expected = tuple(Stage(duration_s=d, target=t) for d, t in stages)
    assert parsed == Stages(kind=kind, stages=expected, arrival="poisson", max_connections=32)  # type: ignore[arg-type]


FORM = "write it like 10s:500/s for a rate or 10s:64c for connections"
NOT_A_STAGE = "is not a stage (it is not DURATION:TARGET); " + FORM
NOTHING_SENT = ("every stage target is 0, so nothing would be sent; give one a positive target, "
                "like 10s:100/s or 10s:16c")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param("30s:10", NO_UNIT, id="bare-number"),
        pytest.param("10s:10/s,30s:10", NO_UNIT, id="bare-number-after-a-rate"),
        pytest.param("10s:2k", "stage target '2k' has no unit; write 2k/s for a rate (requests per second) "
                     "or 2kc for connections", id="bare-number-k"),
        pytest.param("10s", f"'10s' {NOT_A_STAGE}", id="no-target"),
        pytest.param(":5/s", f"':5/s' {NOT_A_STAGE}", id="no-duration"),
        pytest.param([10], f"10 {NOT_A_STAGE}", id="not-a-string"),
        pytest.param([], "is empty; give at least one stage, like 10s:100/s", id="empty-list"),
        pytest.param("10s:fast", f"stage target 'fast' is neither a rate nor connections; {FORM}",
                     id="target-text"),
        pytest.param("soon:5/s", "duration of stage 'soon:5/s': 'soon' is not a duration; use a form like "
                     "10s, 250ms or 2m", id="bad-duration"),
        pytest.param("10s:-5/s", "rate of stage '10s:-5/s': '-5/s' is not a rate; use a form like 500/s "
                     "or 1k/s", id="negative-rate"),
        pytest.param("10s:5/fortnight", "rate of stage '10s:5/fortnight': '5/fortnight' is not a rate; "
                     "use a form like 500/s or 1k/s", id="rate-unit"),
        pytest.param("10s:1.5c", "connections of stage '10s:1.5c': '1.5' is not a whole number",
                     id="fractional-connections"),
        pytest.param("1s:10/s,1s:5c", "mixes rates and connection counts; all stages must use one kind: "
                     "rates (like 500/s) or connections (like 64c)", id="mixed"),
        pytest.param("0s:0/s", "the stages last 0 s in total; give them a positive duration",
                     id="zero-duration"),
        pytest.param("10s:0", NOTHING_SENT, id="only-bare-zero"),
        pytest.param("10s:0c,5s:0c", NOTHING_SENT, id="never-a-connection"),
    ],
)  # fmt: skip
def test_bad_stages(spec: str | Sequence[object], message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_stages(spec, what="--stages X")
    assert str(info.value) == f"--stages X: {message}"


@click.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def console(argv: tuple[str, ...]) -> None:
    """The `loadbench` console script (loadbench.cli:main) as a click command, for CliRunner."""
    main(list(argv))


def test_cli_bare_stage_target_exits_2_before_any_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        calls.append("network")
        raise AssertionError("a socket was used")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    result = CliRunner().invoke(console, ["bench", "http://127.0.0.1:1/", "--stages", "10s:10"])
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: --stages '10s:10': {NO_UNIT}\n"
    assert result.stdout == "" and calls == []


SCENARIO = """\
name = "ramp"

[[servers]]
model = "uvicorn"

[[endpoints]]
path = "/plaintext"

[load]
warmup = "1s"
stages = ["10s:100/s", "30s:10", "10s:0"]
"""


def test_scenario_bare_stage_target_is_a_problem_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "ramp.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, cpus=(0, 1), known_models=("uvicorn",))
    assert info.value.problems == [f"{path}:11: [load] stages: {NO_UNIT}"]


def test_scenario_and_cli_read_stages_alike(tmp_path: Path) -> None:
    path = tmp_path / "ramp.toml"
    path.write_text(SCENARIO.replace('"30s:10"', '"30s:10c"').replace('"10s:100/s"', '"10s:100c"'), "utf-8")
    (point,) = load_scenario(path, cpus=(0, 1), known_models=("uvicorn",)).load.points
    assert point == parse_stages("10s:100c,30s:10c,10s:0", what="--stages")
