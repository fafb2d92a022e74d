"""Every report format is one registered Renderer: names, suffixes and the CLI's choices come from it."""

from __future__ import annotations

import pytest
from synthetic import write_synthetic_results

from loadbench.analysis.summary import Summary, summarize
from loadbench.cli.report import command
from loadbench.errors import UsageError
from loadbench.plugins import REPORT_FORMATS
from loadbench.report import Renderer, format_names, get_renderer
from loadbench.results.file import read_results


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    path = tmp_path_factory.mktemp("registry") / "results.jsonl"
    path = write_synthetic_results(path, seed=1, workloads=("/plaintext",), loads=(1,))
    return summarize(read_results(path))


def test_the_registry_lists_the_plugins_table_in_order() -> None:
    assert format_names() == list(REPORT_FORMATS) == [
        "html", "md", "csv", "json", "bencher", "github-benchmark", "hgrm"
    ]


@pytest.mark.parametrize("name", list(REPORT_FORMATS))
def test_each_renderer_conforms(name: str, summary: Summary) -> None:
    renderer: Renderer = get_renderer(name)  # statically: each object satisfies the protocol
    assert renderer.name == name
    assert renderer.suffix == renderer.suffixes[0] == f".{'html' if name == 'html' else name}"
    assert all(s.startswith(".") and s == s.lower() for s in renderer.suffixes)
    assert isinstance(renderer.render(summary), str)


def test_the_cli_takes_its_format_choices_from_the_registry() -> None:
    fmt = next(p for p in command.params if p.name == "fmt")
    assert list(fmt.type.choices) == format_names()  # type: ignore[attr-defined]


def test_no_two_formats_claim_one_suffix() -> None:
    suffixes = [s for name in REPORT_FORMATS for s in get_renderer(name).suffixes]
    assert len(suffixes) == len(set(suffixes))


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match="'pdf' is unknown; choose one of html, md, csv, json"):
        get_renderer("pdf")
