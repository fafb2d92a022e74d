"""Server families are one StrEnum: models declare it, results keep its string, reading tolerates others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from synthetic import write_synthetic_results

from loadbench.analysis.explain import _guess_family_class, family_class
from loadbench.analysis.summary import summarize
from loadbench.results.family import Family, parse_family
from loadbench.results.file import read_results
from loadbench.servers import all_models


def test_every_model_declares_a_family() -> None:
    assert all(isinstance(model.family, Family) for model in all_models())


def test_a_family_is_its_plain_string_in_text_and_json() -> None:
    family = Family.PRE_FORK_THREADS
    assert family == "pre-fork+threads" and f"{family}" == str(family) == "pre-fork+threads"
    assert json.dumps({"family": family}) == '{"family": "pre-fork+threads"}'


@pytest.mark.parametrize("family", list(Family))
def test_each_family_keeps_the_class_its_words_gave_it(family: Family) -> None:
    assert family_class(family) == family_class(family.value) == _guess_family_class(family.value)


@pytest.mark.parametrize(
    ("text", "parsed"), [("event-loop", Family.EVENT_LOOP), ("fibers", None), ("", None)]
)
def test_parse_family(text: str, parsed: Family | None) -> None:
    assert parse_family(text) is parsed


def test_a_results_file_with_an_unknown_family_still_reads_and_summarizes(tmp_path: Path) -> None:
    path = write_synthetic_results(tmp_path / "results.jsonl", seed=2, workloads=("/plaintext",), loads=(1,))
    text = path.read_text().replace('"family":"threaded"', '"family":"green threads (v9)"')
    assert "green threads (v9)" in text
    path.write_text(text)
    summary = summarize(read_results(path))
    assert "green threads (v9)" in {p.family for w in summary.workloads for p in w.points}
    assert family_class("green threads (v9)") == "threaded"
