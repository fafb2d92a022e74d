"""The report renderers on seeded synthetic results: content, escaping, self-containment, the CLI."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console
from synthetic import write_synthetic_results

from loadbench.analysis.summary import Summary, summarize
from loadbench.cli.report import command
from loadbench.errors import UsageError
from loadbench.report import build_report, default_report_path, format_for_path, render_report, write_report
from loadbench.report.markdown import md_escape
from loadbench.report.terminal import render_terminal_summary
from loadbench.results.file import read_results

EVIL_NAME = "<script>alert(1)</script>"
EVIL_MODEL = '<img src=x onerror="alert(2)">'
EVIL_PATH = "/<img src=y onerror=alert(3)>"


@pytest.fixture(scope="module")
def results_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_results(
        tmp_path_factory.mktemp("report") / "results.jsonl", seed=5, workloads=("/plaintext", "/io?ms=20"),
        repetitions=3, failed=(4,), saturated_every=11,
    )


@pytest.fixture(scope="module")
def summary(results_path: Path) -> Summary:
    return summarize(read_results(results_path))


@pytest.fixture(scope="module")
def html(summary: Summary) -> str:
    return render_report(summary, "html")


def test_html_has_every_section(html: str, summary: Summary) -> None:
    for heading in ("Verdict", "Errors by class", "Failed trials", "Environment", "Scenario", "Raw table"):
        assert f">{heading}" in html
    assert html.count('<section id="workload-') == 2
    assert html.count("<li>On ") == 2  # one verdict sentence per workload
    assert "pre-fork workers block on each I/O wait" in html
    assert "OSError: bind failed" in html  # the failed trial's log excerpt
    assert "could not keep up in" in html
    assert "order-statistic confidence interval" in html
    assert "Synthetic CPU" in html and "server_cpus" in html
    assert html.count("<tr><td>") >= len(summary.table)  # raw table: a row per trial


def test_html_has_five_charts_per_workload_each_titled_and_sized(html: str) -> None:
    figures = re.findall(r'<figure class="chart" id="(w\d-\w+)"', html)
    assert figures == [f"w{n}-{c}" for n in (1, 2)
                       for c in ("throughput", "latency", "spectrum", "timeline", "resources")]
    sizes = re.findall(r'<svg[^>]* width="([\d.]+)pt" height="([\d.]+)pt"', html)
    assert len(sizes) == 10 and all(float(w) > 100 and float(h) > 100 for w, h in sizes)
    assert "percentile (log scale of 1/(1−p))" in html and "99.99%" in html
    assert "throughput (requests/s)" in html and "latency (ms, log scale)" in html


def test_html_is_self_contained(html: str) -> None:
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r"<(script|link|iframe|object|embed|img)\b", html, re.I)
    assert not re.search(r"\s(src|href)=\"(?!#)", html), "only in-page links are allowed"
    assert "@import" not in html and "url(http" not in html
    for match in re.finditer(r"([\w:-]+)=\"https?://", html):
        assert match.group(1).startswith("xmlns"), match.group(0)  # SVG namespaces name, never fetch


def test_html_is_deterministic(summary: Summary, html: str) -> None:
    assert render_report(summary, "html") == html


def test_user_text_is_escaped_everywhere(tmp_path: Path) -> None:
    path = write_synthetic_results(
        tmp_path / "evil.jsonl", name=EVIL_NAME, models=("uvicorn", EVIL_MODEL),
        workloads=("/plaintext", EVIL_PATH), repetitions=2, failed=(1,),
    )
    page = build_report(path, "html")
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text, in the title and headings
    assert "onerror=&#34;alert(2)&#34;" in page or "onerror=&quot;alert(2)&quot;" in page
    # Chart legends and titles hold the same names: matplotlib escaped them inside the SVG.
    svg_text = "".join(re.findall(r"<svg.*?</svg>", page, re.S))
    assert "&lt;img src=x" in svg_text and "<img" not in svg_text
    markdown = build_report(path, "md")
    assert "<script" not in markdown and "<img" not in markdown
    assert "&lt;script&gt;" in markdown


def test_md_escape_neutralises_markdown_and_html() -> None:
    assert md_escape("a|b*c_d`e<f>&[g]") == r"a\|b\*c\_d\`e&lt;f&gt;&amp;\[g\]"


def test_markdown_summary(summary: Summary) -> None:
    text = render_report(summary, "md")
    assert text.startswith("## loadbench: synthetic\n")
    assert text.count("| model | load | req/s |") == 2
    table_rows = [line for line in text.splitlines() if line.startswith("| ") and "model" not in line]
    assert len(table_rows) == 2 * 9
    assert "**uvicorn**" in text and "> [!WARNING]" in text and "> [!CAUTION]" in text
    assert len(text.encode()) < 65_000  # GitHub's step summary and comment limits are far above this


def test_csv_has_one_row_per_trial(summary: Summary, results_path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(render_report(summary, "csv"))))
    trials = read_results(results_path).trials
    assert [r["trial_id"] for r in rows] == [t.trial_id for t in trials]
    assert float(rows[1]["rps"]) == trials[1].rps
    assert rows[4]["status_ok"] == "False" and "did not answer" in rows[4]["failure"]


def test_json_summary_is_strict_json(summary: Summary) -> None:
    data = json.loads(render_report(summary, "json"))
    assert (data["format"], data["version"]) == ("loadbench-summary", 1)
    assert [w["workload"] for w in data["workloads"]] == ["/plaintext", "/io?ms=20"]
    point = data["workloads"][1]["points"][0]
    assert set(point["rps"]) == {"median", "low", "high", "n", "coverage"}
    assert data["workloads"][1]["verdict"]["winner"] == "uvicorn"
    assert len(data["trials"]) == len(summary.table)
    assert data["env"]["server_cpus"] == [0]


def test_terminal_summary_tables_and_winner(summary: Summary) -> None:
    console = Console(record=True, width=160, color_system=None)
    render_terminal_summary(summary, console)
    text = console.export_text()
    assert "/plaintext (closed loop)" in text and "/io?ms=20 (closed loop)" in text
    assert re.search(r"uvicorn\s+1c\s+[\d,]+\s", text)
    assert "On /io?ms=20, uvicorn (event-loop) wins" in text
    assert "1 trial(s) failed" in text


def test_write_report_defaults_next_to_results(results_path: Path) -> None:
    target = write_report(results_path)
    assert target == results_path.with_name("report.html") == default_report_path(results_path)
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert not list(target.parent.glob(".report.html.*"))  # no temporary file left behind


def test_unknown_format_is_a_usage_error(summary: Summary) -> None:
    with pytest.raises(UsageError, match="'pdf' is unknown; choose one of html, md, csv, json"):
        render_report(summary, "pdf")


@pytest.mark.parametrize(("name", "fmt"), [("a.md", "md"), ("a.CSV", "csv"), ("x.json", "json"),
                                           ("r.htm", "html"), ("report", "html")])
def test_format_for_path(name: str, fmt: str) -> None:
    assert format_for_path(name) == fmt


def test_cli_md_to_stdout_and_csv_by_suffix(results_path: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(command, [str(results_path), "--format", "md"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("## loadbench: synthetic")
    out = tmp_path / "trials.csv"
    result = runner.invoke(command, [str(results_path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"Report written to {out}" in result.output
    assert out.read_text().startswith("trial_id,")


def test_cli_html_default_and_bad_file(results_path: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    (results_path.parent / "report.html").unlink(missing_ok=True)
    result = runner.invoke(command, [str(results_path)])
    assert result.exit_code == 0, result.output
    assert (results_path.parent / "report.html").exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "something-else"}\n')
    result = runner.invoke(command, [str(bad)])
    assert result.exit_code == 1
    assert "not a loadbench results file" in str(result.exception)


def test_charts_use_okabe_ito_and_unique_svg_ids(summary: Summary, html: str) -> None:
    from loadbench.report.charts import OKABE_ITO, model_styles

    styles = model_styles(summary)
    assert [s.color for s in styles.values()] == list(OKABE_ITO[:3])
    assert len({s.marker for s in styles.values()}) == 3
    ids = re.findall(r'<clipPath id="([\w-]+)"', html)
    assert ids and len(ids) == len(set(ids)), "per-chart hash salts keep ids unique in one page"
    for color in OKABE_ITO[:3]:
        assert f"stroke: {color.lower()}" in html


def test_header_only_results_render_every_format(results_path: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text(results_path.read_text().splitlines()[0] + "\n")
    summary = summarize(read_results(empty))
    assert summary.workloads == () and any("no trials" in note for note in summary.notes)
    assert "holds no trials" in render_report(summary, "html")
    assert render_report(summary, "md").count("0 trials, 0 workloads") == 1
    assert render_report(summary, "csv") == ""
    assert json.loads(render_report(summary, "json"))["trials"] == []


def _busy_short_run(tmp_path: Path) -> Path:
    """One-second trials (a single timeline point each), one repetition, two of them on a busy machine."""
    path = write_synthetic_results(tmp_path / "short.jsonl", seed=4, workloads=("/plaintext",), repetitions=1,
                                   duration_s=1.0)
    lines = path.read_text(encoding="utf-8").splitlines()
    for index, other in ((2, 150.0), (5, 42.0)):
        record = json.loads(lines[index + 1])
        record["other_cpu_pct"] = other
        lines[index + 1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_busy_machine_is_flagged_first_in_every_summary(tmp_path: Path) -> None:
    summary = summarize(read_results(_busy_short_run(tmp_path)))
    note = "Other processes used up to 150 % of a core during 2 of 9 trials"
    page = render_report(summary, "html")
    assert page.index(note) < page.index("<ul class=\"verdicts\">")  # above the verdict
    assert page.count('<span class="flag busy">busy ×1</span>') == 2
    assert "<th>other CPU %</th>" in page and ">150.0<" in page
    markdown = render_report(summary, "md")
    assert markdown.index(note) < markdown.index("**Verdict**")
    assert markdown.count("| busy ×1 |") == 2 and "| flags |" in markdown
    console = Console(record=True, width=80, color_system=None)
    render_terminal_summary(summary, console)
    text = console.export_text()
    assert text.startswith("Busy machine. Other processes used up to 150 %")
    assert text.count("busy ×1") == 2


def test_short_trials_get_a_note_instead_of_an_empty_timeline(tmp_path: Path) -> None:
    page = build_report(_busy_short_run(tmp_path), "html")
    assert 'id="w1-timeline"' not in page
    assert "No chart over time: the measured window lasted 1 s" in page
    assert 'id="w1-resources"' in page and "One repetition per point, so there is no interval" in page


def test_timeline_with_few_seconds_draws_markers(tmp_path: Path) -> None:
    from loadbench.report.charts import MARKERS_UP_TO, model_styles, timeline_chart

    path = write_synthetic_results(tmp_path / "two.jsonl", workloads=("/plaintext",), repetitions=1,
                                   duration_s=2.0)
    summary = summarize(read_results(path))
    chart = timeline_chart(summary.workloads[0], model_styles(summary), "t")
    assert chart is not None and "time into the measured window" in chart.svg
    assert len(summary.workloads[0].details[0].timeline_s) == 2 <= MARKERS_UP_TO
    assert chart.svg.count("<use ") >= 2 * 2 * 3  # a marker per point, per panel, per model


def test_terminal_tables_fit_80_columns_without_an_empty_flags_column(tmp_path: Path) -> None:
    path = write_synthetic_results(tmp_path / "quiet.jsonl", models=("gunicorn-gthread", "uvicorn"),
                                   workloads=("/plaintext",), repetitions=3)
    console = Console(record=True, width=80, color_system=None)
    render_terminal_summary(summarize(read_results(path)), console)
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if line.startswith("model"))
    assert header.split() == [
        "model", "load", "req/s", "p50", "ms", "p99", "ms", "errors", "CPU", "%", "RSS", "MB"
    ], "no flags column when no point has a flag"
    rows = [line for line in lines if re.match(r"^(gunicorn|uvicorn|\s+)\S*\s+\d+c\s", line)]
    assert len(rows) == 6, "every point fits on one line"


# -- the timing breakdown (connect, TLS handshake, TTFB beside total latency) -------------------------------

def test_no_breakdown_section_without_breakdown_figures(summary: Summary, html: str) -> None:
    assert summary.breakdown == () and not summary.breakdown_tls
    assert 'id="timing"' not in html and "Timing breakdown" not in render_report(summary, "md")


def test_breakdown_rows_are_medians_per_point_and_leave_failed_trials_out(tmp_path: Path) -> None:
    import dataclasses
    import statistics

    from loadbench.analysis.breakdown import breakdown_rows

    path = write_synthetic_results(tmp_path / "r.jsonl", models=("uvicorn",), workloads=("/p",), loads=(1, 4),
                                   repetitions=3, failed=(1,), latency_samples=50, breakdown=True)
    trials = list(read_results(path).trials)
    # One repetition at 1c gets other figures: the median must ignore it, not average it in.
    odd = next(i for i, t in enumerate(trials) if t.load_label == "1c" and t.repetition == 2)
    trials[odd] = dataclasses.replace(trials[odd], connect_ms={"p50": 50.0, "p99": 90.0}, tls_ms=None)
    rows = {r.load_label: r for r in breakdown_rows(trials)}
    assert set(rows) == {"1c", "4c"}
    one, four = rows["1c"], rows["4c"]
    assert (one.repetitions, four.repetitions) == (3, 2)  # trial 1 (4c, repetition 1) failed
    expected = trials[0].connect_ms or {}
    assert one.connect_p50_ms == expected["p50"] and one.connect_p99_ms == expected["p99"]
    assert one.tls_p50_ms == (trials[0].tls_ms or {})["p50"]  # the repetitions that measured it
    assert one.connections == 12  # 4 per repetition (the synthetic connect histogram), summed
    p99s = [(t.latency_ms or {})["p99"] for t in trials if t.load_label == "4c" and t.status_ok]
    assert len(p99s) == 2 and four.total_p99_ms == statistics.median(p99s)
    assert four.ttfb_p50_ms is not None and four.ttfb_p50_ms < (four.total_p50_ms or 0) * 2


def test_breakdown_section_in_html_and_markdown_escaped(tmp_path: Path) -> None:
    path = write_synthetic_results(tmp_path / "r.jsonl", models=(EVIL_MODEL,), workloads=(EVIL_PATH,),
                                   loads=(1,), repetitions=1, latency_samples=50, breakdown=True)
    summary = summarize(read_results(path))
    assert len(summary.breakdown) == 1
    html = render_report(summary, "html")
    timing = html[html.index('<section id="timing">'):html.index('<section id="errors">')]
    assert "TLS p50 ms" in timing and "TTFB p99 ms" in timing and "total p99 ms" in timing
    assert EVIL_MODEL not in timing and "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in timing
    assert '<a href="#timing">Timing breakdown</a>' in html
    md = render_report(summary, "md")
    section = md[md.index("### Timing breakdown"):]
    assert md_escape(EVIL_MODEL) in section and EVIL_MODEL not in section
    header, _, first = section.splitlines()[2:5]
    assert header.count("|") == first.count("|") == 13  # 12 columns, TLS included
