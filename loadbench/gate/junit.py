"""Render test results as JUnit XML, the format CI systems (GitHub, GitLab, Jenkins) display as tests.

The shape follows the common subset every consumer reads (the Ant/Jenkins JUnit schema)::

    <testsuites name tests failures errors skipped time>
      <testsuite name tests failures errors skipped time>
        <testcase classname name time>
          <failure message type>details</failure>      a check that failed
          <error message type>details</error>          a check that could not be made (invalid data)
          <skipped message/>                           a check that did not decide
          <system-out>text</system-out>
        </testcase>
      </testsuite>
    </testsuites>

Times are seconds. The caller builds JUnitSuite values; this module only serializes: every string goes
through loadbench.safe.escape.xml (characters XML 1.0 cannot carry), then xml.etree escapes & < > and quotes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from loadbench.safe.escape import xml


@dataclass(frozen=True, slots=True, kw_only=True)
class JUnitProblem:
    """A failure or an error: a one-line `message`, a `type` (a short class name) and details `text`."""

    message: str
    type: str
    text: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class JUnitCase:
    """One test case; at most one of `failure`, `error`, `skipped` (a message) is set. `time_s` seconds."""

    classname: str
    name: str
    time_s: float = 0.0
    failure: JUnitProblem | None = None
    error: JUnitProblem | None = None
    skipped: str | None = None
    system_out: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class JUnitSuite:
    """A named group of cases; its time is the sum of its cases' times."""

    name: str
    cases: tuple[JUnitCase, ...]

    @property
    def time_s(self) -> float:
        return sum(case.time_s for case in self.cases)


def _counts(cases: Sequence[JUnitCase]) -> dict[str, str]:
    return {
        "tests": str(len(cases)),
        "failures": str(sum(c.failure is not None for c in cases)),
        "errors": str(sum(c.error is not None for c in cases)),
        "skipped": str(sum(c.skipped is not None for c in cases)),
    }


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def render_junit(suites: Sequence[JUnitSuite], *, name: str = "loadbench") -> str:
    """Return the JUnit XML document (with an XML declaration) for `suites`."""
    all_cases = [case for suite in suites for case in suite.cases]
    root = ET.Element("testsuites", {"name": xml(name), **_counts(all_cases)})
    root.set("time", _seconds(sum(s.time_s for s in suites)))
    for suite in suites:
        suite_el = ET.SubElement(root, "testsuite", {"name": xml(suite.name), **_counts(suite.cases)})
        suite_el.set("time", _seconds(suite.time_s))
        for case in suite.cases:
            attributes = {"classname": xml(case.classname), "name": xml(case.name),
                          "time": _seconds(case.time_s)}
            case_el = ET.SubElement(suite_el, "testcase", attributes)
            for tag, problem in (("failure", case.failure), ("error", case.error)):
                if problem is not None:
                    attrs = {"message": xml(problem.message), "type": xml(problem.type)}
                    el = ET.SubElement(case_el, tag, attrs)
                    el.text = xml(problem.text) or None
            if case.skipped is not None:
                ET.SubElement(case_el, "skipped", {"message": xml(case.skipped)})
            if case.system_out:
                ET.SubElement(case_el, "system-out").text = xml(case.system_out)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
