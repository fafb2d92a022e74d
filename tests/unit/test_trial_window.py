"""The trial's server-figures window: opened by the warm-up timer, re-opened by the engine's own signal."""

from __future__ import annotations

import time

from loadbench.monitor import ProcessMonitor
from loadbench.runner.trial import _Window


def _window() -> tuple[_Window, list[str]]:
    opened: list[str] = []
    return _Window(ProcessMonitor(lambda: [], interval_s=0.05), lambda: opened.append("counters")), opened


def test_the_engine_signal_after_the_timer_restarts_the_window() -> None:
    window, counters = _window()
    window.by_timer()
    time.sleep(0.3)  # the warm-up traffic the timer's window would wrongly include
    window.by_engine()
    time.sleep(0.1)
    summary = window.stop()
    assert summary is not None and summary.duration_s < 0.25
    assert counters == ["counters", "counters"]  # instruction counters opened again with the window


def test_the_timer_after_the_engine_signal_changes_nothing() -> None:
    window, counters = _window()
    window.by_engine()
    time.sleep(0.3)
    window.by_timer()
    window.by_engine()  # a second signal (several engine processes) is ignored too
    time.sleep(0.1)
    summary = window.stop()
    assert summary is not None and summary.duration_s >= 0.35
    assert counters == ["counters"]


def test_a_trial_that_ends_before_its_window_has_no_summary() -> None:
    window, counters = _window()
    assert window.stop() is None and counters == []
