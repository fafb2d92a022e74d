"""find_key_line: the line of a key in TOML text, which tomllib does not give; and syntax errors."""

from __future__ import annotations

import tomllib

import pytest

from loadbench.scenario.text import Problems, find_key_line, syntax_problem

TEXT = '''\
name = "x"                      # 1
description = """               # 2
[load]
duration = "inside a string"
"""
[app]                           # 6
module = "a:b"
"quoted key" = 1

[[servers]]                     # 10
model = "waitress"

[[servers]]                     # 13
  model   = "uvicorn"
[servers.env]                   # 15
A = "1"

[ load ]                        # 18
duration = "5s"
[app.env]                       # 20
B = "2"
'''


@pytest.mark.parametrize(
    ("section", "key", "index", "line"),
    [
        ("", "name", None, 1),
        ("", "description", None, 2),
        ("load", "duration", None, 19),      # not the look-alike inside the multi-line string
        ("load", None, None, 18),
        ("load", "missing", None, 18),       # a missing key points at its table
        ("app", "module", None, 7),
        ("app", "quoted key", None, 8),
        ("app", "env", None, 20),            # a key given as a sub-table
        ("servers", "model", 0, 11),
        ("servers", "model", 1, 14),
        ("servers", "env", 1, 15),
        ("servers", "env", 0, 10),           # the first entry has no env: its header
        ("servers", None, 1, 13),
        ("nowhere", "key", None, None),
        ("", "absent", None, None),
    ],
)
def test_find_key_line(section: str, key: str | None, index: int | None, line: int | None) -> None:
    assert find_key_line(TEXT, section, key, index) == line


def test_text_is_valid_toml() -> None:
    # The fixture must itself be real TOML, or the lines above test nothing real.
    data = tomllib.loads(TEXT)
    assert data["servers"][1]["env"] == {"A": "1"}


def test_problems_format_and_suggestions() -> None:
    problems = Problems("f.toml", TEXT)
    problems.add("bad", section="servers", key="model", index=1)
    problems.add("worse", key="nothing")
    problems.check_keys({"modle": 1, "zzz": 2}, ("model", "name"), section="servers", index=0)
    assert problems.items == [
        "f.toml:14: [[servers]] #2 model: bad",
        "f.toml: nothing: worse",
        "f.toml:10: [[servers]] #1 modle: unknown key 'modle'; did you mean 'model'?",
        "f.toml:10: [[servers]] #1 zzz: unknown key 'zzz'; the keys here are: model, name",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a = 1\nb = ?\n", "f.toml:2:5: TOML syntax error: Invalid value"),
        ("a = 1\nb = [1,\n", "f.toml:2:8: TOML syntax error: Invalid value (at the end of the file"),
        ("[t]\n[t]\n", "f.toml:2:3: TOML syntax error: Cannot declare ('t',) twice"),
    ],
)
def test_syntax_problem(text: str, expected: str) -> None:
    with pytest.raises(tomllib.TOMLDecodeError) as info:
        tomllib.loads(text)
    assert syntax_problem("f.toml", text, info.value).startswith(expected)
