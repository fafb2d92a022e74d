"""JUnit XML: the generic renderer's shape and escaping, and the cases the gate turns into test cases."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from gate_fakes import FakeTrial

from loadbench.analysis.stats import median_interval
from loadbench.gate.check import check
from loadbench.gate.compare import Comparison, GroupComparison, Verdict
from loadbench.gate.junit import JUnitCase, JUnitProblem, JUnitSuite, render_junit
from loadbench.gate.render import check_junit, comparison_junit
from loadbench.scenario.thresholds import parse_threshold


def test_render_shape_counts_and_escaping() -> None:
    suites = [
        JUnitSuite(name="a", cases=(
            JUnitCase(classname="x", name="p99 < 5ms [m /json?a=1&b=2]", time_s=1.25),
            JUnitCase(classname="x", name="fails", time_s=0.5,
                      failure=JUnitProblem(message='p99 = 9ms "<" 5ms', type="ThresholdFailed", text="a\nb")),
        )),
        JUnitSuite(name="b", cases=(
            JUnitCase(classname="y", name="invalid", error=JUnitProblem(message="too few", type="Invalid")),
            JUnitCase(classname="y", name="undecided", skipped="inconclusive", system_out="more pairs"),
        )),
    ]  # fmt: skip
    text = render_junit(suites)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == {
        "tests": "4", "failures": "1", "errors": "1", "skipped": "1", "time": "1.750",
    }  # fmt: skip
    first, second = root.findall("testsuite")
    assert (first.get("name"), first.get("tests"), first.get("failures"), first.get("time")) == (
        "a", "2", "1", "1.750",
    )  # fmt: skip
    cases = first.findall("testcase")
    assert cases[0].get("name") == "p99 < 5ms [m /json?a=1&b=2]"
    assert cases[0].get("time") == "1.250"
    assert list(cases[0]) == []  # a passing case has no children
    failure = cases[1].find("failure")
    assert failure is not None
    assert (failure.get("message"), failure.get("type"), failure.text) == (
        'p99 = 9ms "<" 5ms', "ThresholdFailed", "a\nb",
    )  # fmt: skip
    invalid, undecided = second.findall("testcase")
    assert invalid.find("error") is not None
    skipped = undecided.find("skipped")
    assert skipped is not None and skipped.get("message") == "inconclusive"
    assert undecided.findtext("system-out") == "more pairs"


def test_check_report_gives_one_case_per_threshold_and_selection() -> None:
    trials = [
        FakeTrial(model="a", latency_ms={"p99": 10.0}),
        FakeTrial(model="b", latency_ms={"p99": 30.0}),
        FakeTrial(model="c", saturated=True),
    ]
    report = check(trials, [parse_threshold("p99 < 20ms"), parse_threshold("rps > 1/s")])
    root = ET.fromstring(render_junit([check_junit(report)]))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "1", "2")
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names[:3] == ["p99 < 20ms [a /json 64c]", "p99 < 20ms [b /json 64c]", "p99 < 20ms [c /json 64c]"]
    failed = [case for case in suite.iter("testcase") if case.find("failure") is not None]
    assert failed[0].find("failure").get("message") == "p99 = 30ms (< 20ms) FAILED on b /json 64c"  # type: ignore[union-attr]
    assert failed[0].get("classname") == "loadbench.check.p99"
    assert failed[0].get("time") == "5.000"


def _group(label: str, verdict: Verdict, ratios: list[float]) -> GroupComparison:
    return GroupComparison(label=label, metric="rps", tolerance=0.05, log_ratios=tuple(ratios),
                           interval=median_interval(ratios), verdict=verdict, excluded=(), more_pairs=20)


def test_comparison_cases_per_verdict() -> None:
    down = [math.log(0.85)] * 8
    comparison = Comparison(
        baseline="baseline", candidate="candidate", metric="rps", tolerance=0.05, kind="paired", warnings=(),
        groups=(
            _group("m /a 1c", Verdict.REGRESSION, down),
            _group("m /b 1c", Verdict.NO_CHANGE, [0.0] * 8),
            _group("m /c 1c", Verdict.INCONCLUSIVE, [-0.1, 0.1] * 4),
            _group("m /d 1c", Verdict.TOO_FEW, [0.0] * 3),
        ),
    )
    root = ET.fromstring(render_junit([comparison_junit(comparison)]))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "4", "1", "1", "1",
    )  # fmt: skip
    regression = suite.find("testcase")
    assert regression is not None
    assert regression.get("name") == "m /a 1c: candidate vs baseline"
    failure = regression.find("failure")
    assert failure is not None and failure.get("type") == "Regression"
    assert failure.get("message", "").startswith("m /a 1c: regression, rps -15.0% [-15.0%, -15.0%]")
    strict = ET.fromstring(render_junit([comparison_junit(comparison, fail_on_inconclusive=True)]))
    assert strict.get("failures") == "2" and strict.get("skipped") == "0"
