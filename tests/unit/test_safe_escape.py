"""Strings that travel: property-based fuzzing of every escaper, checked with each medium's own parser.

markdown  -> markdown-it-py (CommonMark + GFM tables): no link, image, raw HTML, heading, emphasis or extra
             table cell comes out of user text, and the text reads back as given
JUnit     -> xml.etree: the document is well-formed and the text reads back
terminal  -> no control character or escape sequence reaches the screen; rich never reads markup in it
CSV       -> the csv module reads the cells back; none starts like a formula
charts    -> matplotlib draws any label (mathtext off); the SVG is well-formed XML
HTML, and every report format end to end, from results files whose names are hostile.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synthetic import write_synthetic_results

from loadbench.gate.junit import JUnitCase, JUnitProblem, JUnitSuite, render_junit
from loadbench.safe.escape import (
    chart_label,
    csv_cell,
    markdown,
    markdown_code,
    markdown_table_code,
    rich_markup,
    rich_text,
    terminal,
    xml,
)

# Hostile by construction: markup of every medium, controls, escapes, bidi overrides, lone surrogates.
_PIECES = ["[", "]", "[/]", "[bold]", "$", "$x_$", "\\", "`", "``", "|", "*", "_", "#", "!", "<", ">", "&",
           "&amp;", "<script>", "](", "![", "\n", "\r", "\t", "\x1b[31m", "\x1b]8;;http://e\x07", "\x00",
           "\x7f", "\x9b", "\u202e", "\u2028", "\ud800", "=", "+", "-", "@", "1.", ":x:", "http://e.x/", " ",
           "~~"]  # fmt: skip
hostile = st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=4)), max_size=12).map("".join)
# Strings that can be a file's content: no lone surrogates (results files are UTF-8).
storable = hostile.map(lambda s: re.sub("[\ud800-\udfff]", "?", s))

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")


def _shown(text: str) -> str:
    """What a reader should see of `text` on one line: line breaks as spaces, the rest as terminal() shows."""
    return terminal(re.sub(r"\r\n|[\r\n\u2028\u2029]", " ", text))


def _md() -> object:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _inline_tokens(source: str) -> list[object]:
    tokens = _md().parse(source)  # type: ignore[attr-defined]
    return [child for t in tokens if t.type == "inline" for child in (t.children or [])]


# What GitHub acts on in rendered text (not markdown syntax): @mentions, bare-URL/www./e-mail autolinks and
# :emoji: shortcodes (github.com's mention and emoji filters; GFM spec 6.9 "Autolinks (extension)").
_GITHUB_ACTS = re.compile(r"(?<![A-Za-z0-9_`])@[A-Za-z0-9]|(?i:https?|ftp)://|(?i:\bwww\.)"
                          r"|:(?:[A-Za-z0-9_+-]*[A-Za-z][A-Za-z0-9_+-]*|[+-]1):|(?<![0-9]):[0-9]+:")

_STRUCTURE = {"link_open", "image", "html_inline", "html_block", "em_open", "strong_open", "s_open",
              "code_inline", "softbreak", "hardbreak"}  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(hostile)
def test_markdown_text_is_inert_in_a_table_cell_and_a_list(text: str) -> None:
    for source in (f"| a | b |\n|---|---|\n| {markdown(text)} | x |\n", f"- {markdown(text)}\n"):
        tokens = _md().parse(source)  # type: ignore[attr-defined]
        kinds = [t.type for t in tokens]
        assert "heading_open" not in kinds and "html_block" not in kinds
        assert kinds.count("td_open") in (0, 2)  # one row of exactly two cells
        assert kinds.count("bullet_list_open") + kinds.count("ordered_list_open") <= 1
        children = [c for t in tokens if t.type == "inline" for c in (t.children or [])]
        assert not {c.type for c in children} & _STRUCTURE, source
        start = kinds.index("td_open") if "td_open" in kinds else 0
        cell = next((t for t in tokens[start:] if t.type == "inline"), None)
        if cell is None:  # an empty list item
            assert _shown(text).strip() == ""
            continue
        # what a reader sees: the word joiners that break GitHub's mentions and autolinks are invisible
        raw = "".join(c.content for c in cell.children or [])
        assert raw.replace("\u2060", "").strip() == _shown(text).strip()
        assert not _GITHUB_ACTS.search(raw), source


@settings(max_examples=150, deadline=None)
@given(hostile)
def test_markdown_code_reads_back_as_code_only(text: str) -> None:
    children = _inline_tokens(f"x {markdown_code(text)} y\n")
    html = [c.content for c in children if c.type == "html_inline"]
    assert html == ["<code>", "</code>"]
    assert not {c.type for c in children} & (_STRUCTURE - {"html_inline"})
    table = _md().parse(f"| a | b |\n|---|---|\n| {markdown_table_code(text)} | x |\n")  # type: ignore[attr-defined]
    assert [t.type for t in table].count("td_open") == 2
    start = [t.type for t in table].index("td_open")
    cell = next(t for t in table[start:] if t.type == "inline")
    kinds = [c.type for c in cell.children or []]
    assert kinds == ["code_inline"] or (not _shown(text).strip() and kinds in ([], ["code_inline"]))


@settings(max_examples=150, deadline=None)
@given(hostile, hostile, hostile)
def test_junit_is_well_formed_and_reads_back(name: str, message: str, details: str) -> None:
    case = JUnitCase(classname=f"loadbench.{name}", name=name, failure=JUnitProblem(
        message=message, type="ThresholdFailed", text=details), system_out=details)  # fmt: skip
    document = render_junit([JUnitSuite(name=name, cases=(case,))], name=name)
    root = ET.fromstring(document.encode("utf-8", "backslashreplace"))
    got = root.find("testsuite/testcase")
    assert got is not None and got.get("name") == xml(name)
    failure = got.find("failure")
    assert failure is not None and failure.get("message") == xml(message)
    # an XML parser normalises line ends in text content (XML 1.0 §2.11)
    assert (failure.text or "") == xml(details).replace("\r\n", "\n").replace("\r", "\n")


@settings(max_examples=150, deadline=None)
@given(hostile)
def test_terminal_text_has_no_control_characters(text: str) -> None:
    assert not _CONTROL.search(terminal(text)) and "\n" not in terminal(text)
    assert not _CONTROL.search(terminal(text, multiline=True))
    assert terminal(text, multiline=True).count("\n") == text.count("\n")


@settings(max_examples=150, deadline=None)
@given(hostile)
def test_rich_never_reads_user_text_as_markup(text: str) -> None:
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, width=10_000, force_terminal=False, emoji=False, highlight=False)
    from rich.text import Text

    console.print(Text.assemble(("x", "bold"), rich_text(text), " [/] done"), soft_wrap=True)
    assert out.getvalue() == "x" + terminal(text) + " [/] done\n"
    out.seek(0)
    out.truncate()
    console.print(f"[bold]{rich_markup(text)}[/] done", soft_wrap=True)
    assert out.getvalue() == terminal(text) + " done\n"


@settings(max_examples=150, deadline=None)
@given(st.lists(storable, min_size=1, max_size=4))
def test_csv_cells_read_back_and_never_start_a_formula(cells: list[str]) -> None:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\n").writerow([csv_cell(c) for c in cells])
    (row,) = list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    expected = [c.replace("\r\n", "\n").replace("\r", "\n") for c in cells]
    assert [c[1:] if c != orig else c for c, orig in zip(row, expected, strict=True)] == expected
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in row)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(storable.filter(lambda s: s != ""))  # names are never empty
def test_matplotlib_draws_any_label_as_plain_text(text: str) -> None:
    from loadbench.report.charts import _figure, _svg

    label = chart_label(text)
    with _figure("fuzz") as (fig, (ax,)):
        ax.plot([1, 2], [1, 2], label=label)
        ax.set_title(label)
        ax.legend()
        svg = _svg(fig)
    ET.fromstring(svg)  # well-formed


# -- end to end: hostile names in a results file, through every report format ---------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)


def _tags(html: str) -> set[str]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


HOSTILE_NAMES = ["a[/]b", "?sort[desc]=1", "$\\frac{$", "$x_$", "<script>alert(1)</script>", "![i](http://e/x.png)",
                 "# H\n## I", "\x1b[31mred\x1b[0m", "a|b", '=HYPERLINK("http://e")', "\x00\x01\x0b",
                 "\u202egnp.exe", "`code`", "_hidden", "a\r\nb"]  # fmt: skip


@pytest.fixture(scope="module")
def baseline_tags(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    from loadbench.report import build_report

    path = tmp_path_factory.mktemp("plain") / "results.jsonl"
    write_synthetic_results(path, models=("waitress", "plain"), workloads=("/p", "/q"), loads=(1,),
                            repetitions=1, latency_samples=50, breakdown=True)  # fmt: skip
    return _tags(build_report(path, "html"))


def _render_all(path: Path, names: list[str], baseline_tags: set[str]) -> None:
    from rich.console import Console

    from loadbench.report import build_report
    from loadbench.report.terminal import render_terminal_summary
    from loadbench.results.file import read_results

    # breakdown: the names also pass through the timing-breakdown table (connect, TLS, TTFB), and the
    # pipelining, check_failed and aborted keys through the CSV
    write_synthetic_results(path, name=" ".join(names), models=("waitress", *dict.fromkeys(names)),
                            workloads=("/" + "".join(names),), loads=(1,), repetitions=1,
                            latency_samples=50, breakdown=True)  # fmt: skip
    html = build_report(path, "html")
    assert 'id="timing"' in html and "TLS p99 ms" in html
    assert _tags(html) <= baseline_tags  # no element came from a name
    md = build_report(path, "md")
    assert not [c for c in _inline_tokens(md) if c.type in {"link_open", "image"}]
    assert all(t.type != "html_block" for t in _md().parse(md))  # type: ignore[attr-defined]
    assert "### Timing breakdown" in md
    rows = list(csv.reader(io.StringIO(build_report(path, "csv"))))
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)
    assert {"connect_p99_ms", "tls_p99_ms", "ttfb_p50_ms", "pipeline", "aborted"} <= set(rows[0])
    build_report(path, "json")
    out = io.StringIO()
    render_terminal_summary(read_results(path), Console(file=out, width=120, force_terminal=True))
    assert not re.search(r"\x1b\[3[0-9]m[^\x1b]*red", out.getvalue())  # the name's own escape never acts


def test_hostile_names_through_every_report_format(tmp_path: Path, baseline_tags: set[str]) -> None:
    _render_all(tmp_path / "results.jsonl", HOSTILE_NAMES, baseline_tags)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(storable.filter(lambda s: s.strip() != ""), min_size=1, max_size=6))
def test_fuzzed_names_through_every_report_format(
    tmp_path: Path, baseline_tags: set[str], names: list[str]
) -> None:
    _render_all(tmp_path / "results.jsonl", names, baseline_tags)


def test_hostile_names_through_check_and_compare_junit_and_markdown(tmp_path: Path) -> None:
    from loadbench.cli import main

    results = write_synthetic_results(tmp_path / "r.jsonl", name="x", models=("waitress", *HOSTILE_NAMES),
                                      workloads=("/" + "".join(HOSTILE_NAMES[:6]),), loads=(1,),
                                      repetitions=3, latency_samples=50)  # fmt: skip
    for args in (["check", str(results), "-t", "p99 < 1us"], ["compare", str(results), str(results)]):
        junit, md = tmp_path / f"{args[0]}.xml", tmp_path / f"{args[0]}.md"
        with pytest.raises(SystemExit):
            main([*args, "--junit", str(junit), "--markdown", str(md)])
        cases = ET.parse(junit).getroot().findall("testsuite/testcase")  # well-formed despite the names
        assert len(cases) >= len(HOSTILE_NAMES)
        tokens = _md().parse(md.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
        assert [t.type for t in tokens].count("heading_open") == 1
        children = [c for t in tokens if t.type == "inline" for c in (t.children or [])]
        assert not [c for c in children if c.type in {"link_open", "image"}]
        ours = {"<details>", "<summary>", "</summary>"}
        assert {c.content for c in children if c.type == "html_inline"} <= ours


@pytest.mark.parametrize("text", [
    "ping @octocat", "@org/team please look", "mail ops@example.com", "see http://evil.example/x",
    "HTTPS://A.B/c", "www.evil.example", "ftp://files.example", ":x: failed :+1:", "a[@b](http://c)",
])  # fmt: skip
def test_markdown_mentions_autolinks_and_shortcodes_are_neutralised(text: str) -> None:
    # Before: escaping covered markdown syntax only, so "@octocat" in a scenario name notified a user from
    # a PR comment, and a bare URL or :x: in a model name became a link or an emoji on GitHub.
    tokens = _inline_tokens(f"- {markdown(text)}\n")
    rendered = "".join(c.content for c in tokens if c.type in ("text", "text_special"))  # type: ignore[attr-defined]
    assert not _GITHUB_ACTS.search(rendered), rendered
    assert rendered.replace("\u2060", "") == text  # the reader sees the text itself


@pytest.mark.parametrize("emoji", [False, True])
def test_rich_never_renders_emoji_shortcodes_from_user_strings(tmp_path: Path, emoji: bool) -> None:
    # run's console has emoji off; user strings also reach rich only as Text, so even a console with emoji
    # on (a caller's own) prints ":x:" and ":thumbs_up:" as typed, never as ❌ or 👍.
    from rich.console import Console

    from loadbench.cli.run import _console
    from loadbench.report.terminal import render_terminal_summary
    from loadbench.results.file import read_results

    assert _console()._emoji is False  # rich keeps the setting private
    results = write_synthetic_results(tmp_path / "r.jsonl", models=(":x:",), workloads=("/:thumbs_up:",),
                                      loads=(1,), repetitions=1, latency_samples=20)  # fmt: skip
    out = io.StringIO()
    render_terminal_summary(read_results(results), Console(file=out, width=200, emoji=emoji))
    text = out.getvalue()
    assert ":x:" in text and ":thumbs_up:" in text and "❌" not in text and "👍" not in text, text
