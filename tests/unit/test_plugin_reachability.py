"""Every registered plug-in (server model, engine backend, report format) is reachable from the CLI's
choices and from scenarios, and loads as the kind it is registered as: registering is all it takes."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from loadbench.cli import cli
from loadbench.plugins import COMMAND_MODEL, ENGINE_BACKENDS, REPORT_FORMATS, SERVER_MODELS


def _choices(command_name: str, option: str) -> list[str]:
    command = cli.get_command(click.Context(cli), command_name)
    assert command is not None
    (param,) = [p for p in command.params if p.name == option]
    assert isinstance(param.type, click.Choice)
    return list(param.type.choices)


SCENARIO_TAIL = '[[servers]]\nmodel = "uvicorn"\n[[endpoints]]\npath = "/"\n[load]\nconnections = [1]\n'


def test_every_engine_backend_is_a_bench_choice_and_a_scenario_engine() -> None:
    from loadbench.scenario import parse_scenario

    assert _choices("bench", "engine") == list(ENGINE_BACKENDS)
    for name in ENGINE_BACKENDS:
        assert parse_scenario(f'engine = "{name}"\n' + SCENARIO_TAIL, cpus=(0, 1)).engine == name


def test_every_report_format_is_a_report_choice() -> None:
    assert _choices("report", "fmt") == list(REPORT_FORMATS)


def test_every_server_model_is_servable_and_nameable_in_a_scenario() -> None:
    from loadbench.scenario import known_model_names

    help_text = CliRunner().invoke(cli, ["serve", "--help"]).output
    for name in SERVER_MODELS:
        assert name in help_text
    assert set(known_model_names()) == set(SERVER_MODELS) - {COMMAND_MODEL}


def test_models_and_engines_list_every_model_and_every_engine() -> None:
    for command, names in (("models", SERVER_MODELS), ("engines", ENGINE_BACKENDS)):
        result = CliRunner().invoke(cli, [command])
        assert result.exit_code == 0
        table = result.output.split("\n\n")[0]  # models: the capability lines follow a blank line
        assert [line.split()[0] for line in table.splitlines()[1:]] == list(names)


@pytest.mark.parametrize("name", list(ENGINE_BACKENDS))
def test_each_backend_loads_under_its_name(name: str) -> None:
    from loadbench.engine.registry import get_backend

    backend = get_backend(name)
    assert backend.name == name and backend.description
    assert backend.available() is None or "install" in str(backend.available())


@pytest.mark.parametrize("name", list(REPORT_FORMATS))
def test_each_report_format_loads_under_its_name(name: str) -> None:
    from loadbench.report.registry import get_renderer

    assert get_renderer(name).name == name


@pytest.mark.parametrize("name", list(SERVER_MODELS))
def test_each_server_model_loads_under_its_name(name: str) -> None:
    from loadbench.servers.registry import get_model

    assert get_model(name).name == name


def test_an_unknown_engine_is_refused_with_the_choices() -> None:
    result = CliRunner().invoke(cli, ["bench", "http://127.0.0.1:1/", "--engine", "wrk"])
    assert result.exit_code == 2 and "native" in result.output
