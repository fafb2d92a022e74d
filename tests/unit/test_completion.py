"""Shell completion (click's `_LOADBENCH_COMPLETE`): commands, model names for `serve`, scenario names and
files for `run`, the choices of `schema`; the documented `bash_source` line prints a script."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from loadbench.cli import cli
from loadbench.plugins import SERVER_MODELS
from loadbench.scenario import shipped_scenarios


def _complete(words: str) -> list[tuple[str, str]]:
    """What bash would be offered for the last word of `words` (a trailing space: a new, empty word)."""
    parts = words.split()
    cword = len(parts) if words.endswith(" ") else len(parts) - 1
    env = {"_LOADBENCH_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    result = CliRunner().invoke(cli, [], prog_name="loadbench", env=env)
    assert result.exit_code == 0, result.output
    return [tuple(line.split(",", 1)) for line in result.output.splitlines()]  # type: ignore[misc]


def test_bash_source_prints_the_script_the_docs_tell_users_to_eval() -> None:
    result = CliRunner().invoke(cli, [], prog_name="loadbench", env={"_LOADBENCH_COMPLETE": "bash_source"})
    assert result.exit_code == 0
    assert "_loadbench_completion" in result.output and "complete -o nosort -F" in result.output


def test_commands_and_choices_complete() -> None:
    assert _complete("loadbench sch") == [("plain", "schema")]
    assert _complete("loadbench schema ") == [("plain", "results"), ("plain", "scenario")]


def test_serve_completes_every_server_model() -> None:
    assert [value for _, value in _complete("loadbench serve ")] == list(SERVER_MODELS)
    assert _complete("loadbench serve gunicorn-g") == [
        ("plain", "gunicorn-gthread"), ("plain", "gunicorn-gevent")]


def test_run_completes_shipped_names_then_toml_files_and_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quick-mine.toml").write_text("")
    (tmp_path / "quick-notes.txt").write_text("")
    (tmp_path / "quickdir").mkdir()
    offered = _complete("loadbench run quick")
    assert offered == [("plain", "quickstart"), ("plain", "quick-mine.toml"), ("plain", "quickdir/")]
    names = shipped_scenarios()
    assert [value for _, value in _complete("loadbench run ")][:len(names)] == names


def test_run_leaves_paths_and_unknown_words_to_the_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _complete("loadbench run ./sc") == [("file", "./sc")]
    assert _complete("loadbench run zzz") == [("file", "zzz")]
