"""Check results lines against the shipped results schema, strictly: every key must be one the schema names.

    from schema_check import check_results_file, check_results_line   # tests/ is on sys.path

The shipped schema (`loadbench schema results`) allows unknown keys, because readers keep them. The tests
hold loadbench's own writers to more: a key that a written record has and the schema does not name fails
with the key's path and the fix, so whoever adds a field to the format adds it to the schema too. The strict
copy sets `additionalProperties: false` on every object the schema gives `properties` (conditions aside);
maps (status codes, error messages, package versions, server options) have no `properties` and stay open.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from loadbench.cli.schema import schema_text

SCHEMA_FILE = "loadbench/results/results.schema.json"


@cache
def results_schema() -> dict[str, Any]:
    """The shipped results schema, as `loadbench schema results` prints it."""
    schema: dict[str, Any] = json.loads(schema_text("results"))
    return schema


def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        # Conditions ("if", "not") only look at a key or two; closing them would change their answer.
        out = {key: value if key in ("if", "not") else _strict(value) for key, value in node.items()}
        if "properties" in node:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


@cache
def _validators() -> tuple[jsonschema.Draft202012Validator, jsonschema.Draft202012Validator]:
    schema = results_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    strict = _strict(copy.deepcopy(schema))
    return jsonschema.Draft202012Validator(schema), jsonschema.Draft202012Validator(strict)


def _where(error: jsonschema.ValidationError) -> str:
    return "/".join(str(part) for part in error.absolute_path) or "(top level)"


def _leaves(errors: Iterable[jsonschema.ValidationError]) -> Iterator[jsonschema.ValidationError]:
    """Every error, with those inside anyOf/oneOf (a nullable sub-record fails as "not valid under any")."""
    for error in errors:
        yield error
        yield from _leaves(error.context or ())


def check_results_line(record: Mapping[str, Any], where: str) -> None:
    """Fail (AssertionError) unless `record` validates and names no key the results schema does not know."""
    shipped, strict = _validators()
    problems = [f"{_where(e)}: {e.message}" for e in shipped.iter_errors(record)]
    found = "; ".join(problems)
    assert not problems, f"{where}: does not validate against `loadbench schema results`: {found}"
    unknown: list[str] = []
    for error in _leaves(strict.iter_errors(record)):
        if error.validator != "additionalProperties":
            continue
        instance = error.instance if isinstance(error.instance, dict) else {}
        known = set(error.schema.get("properties", {}))
        parent = "/".join(str(part) for part in error.absolute_path)
        unknown += [f"{parent}/{key}" if parent else key for key in instance if key not in known]
    keys = ", ".join(repr(key) for key in sorted(set(unknown)))
    assert not unknown, (
        f"{where}: key(s) {keys} written by loadbench are unknown to the results schema: add them (type "
        f"and description) to {SCHEMA_FILE} and document them in docs/results-format.md"
    )


def check_results_file(path: str | Path) -> int:
    """Check every line of a results file (a pretty-printed `bench --json` object is one); the count."""
    text = Path(path).read_text(encoding="utf-8")
    lines = [line for line in text.split("\n") if line.strip()]
    try:
        records = [json.loads(line) for line in lines]
    except json.JSONDecodeError:
        records = [json.loads(text)]
    for number, record in enumerate(records, 1):
        check_results_line(record, f"{path}:{number}")
    return len(records)
