"""`loadbench schema results|scenario`: print a JSON Schema (draft 2020-12) shipped inside the package.

The schemas are package data beside the code that defines each format: loadbench/results/results.schema.json
(one line of results.jsonl: the header, a trial, or a record of another kind) and
loadbench/scenario/scenario.schema.json (a scenario file, for TOML editors through `#:schema`). Printed
as shipped, byte for byte; `-o FILE` goes through the safe writer.
"""

from __future__ import annotations

import importlib.resources

import click

__all__ = ["SCHEMAS", "command", "schema_text"]

#: name -> (package holding it, file name)
SCHEMAS: dict[str, tuple[str, str]] = {
    "results": ("loadbench.results", "results.schema.json"),
    "scenario": ("loadbench.scenario", "scenario.schema.json"),
}

EPILOG = """\b
Examples:
  loadbench schema results                          # one line of results.jsonl
  loadbench schema scenario -o scenario.schema.json # then, atop a scenario file:
                                                    #   #:schema ./scenario.schema.json
  loadbench schema results -o results.schema.json  # validate each line of results.jsonl with it
"""


def schema_text(name: str) -> str:
    """The text of the shipped schema `name` ("results" or "scenario")."""
    package, filename = SCHEMAS[name]
    return importlib.resources.files(package).joinpath(filename).read_text(encoding="utf-8")


@click.command(epilog=EPILOG)
@click.argument("name", type=click.Choice(list(SCHEMAS)), metavar="results|scenario")
@click.option("-o", "--output", "output", metavar="FILE|-", default="-", show_default=True,
              help="Write the schema to FILE instead of stdout ('-').")
def command(name: str, output: str) -> None:
    """Print the JSON Schema (draft 2020-12) of a results line or of a scenario file.

    `results` describes one line of results.jsonl (line 1 is the header, every further line a trial; a
    `bench --json` object is one trial); unknown keys are allowed, as readers keep them. `scenario`
    describes a scenario file as TOML editors see it (taplo, Even Better TOML: put `#:schema PATH` on the
    first line); it checks shapes, and `loadbench run FILE --dry-run` checks the rest.
    """
    from loadbench.safe.write import write_output

    write_output(output, schema_text(name), what="-o")
