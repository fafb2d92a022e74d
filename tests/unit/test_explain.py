"""Workload kinds, server families and the verdict's wording, table-driven."""

from __future__ import annotations

import pytest

from loadbench.analysis.explain import choose_verdict, family_class, workload_kind
from loadbench.analysis.summary import Point, median_ci


@pytest.mark.parametrize(
    ("workload", "spec", "kind"),
    [
        ("/io?ms=20", (), "io"),
        ("/db?id=3", (), "io"),
        ("/cpu?n=1000", (), "cpu"),
        ("/static/1k.bin", (), "static"),
        ("/plaintext", (), "plain"),
        ("/json", (), "plain"),
        ("/logo.png", (), "static"),
        ("/api/users", (), "other"),
        ("checkout-mix", ({"path": "/io?ms=5"}, {"path": "/cpu?n=10"}), "mixed"),
        ("read-mix", ({"path": "/io?ms=5"}, {"path": "/db?id=1"}), "io"),
    ],
)
def test_workload_kind(workload: str, spec: tuple[dict[str, str], ...], kind: str) -> None:
    assert workload_kind(workload, spec) == kind


@pytest.mark.parametrize(
    ("family", "cls"),
    [
        ("event-loop", "event-loop"),
        ("threaded", "threaded"),
        ("pre-fork", "pre-fork"),
        ("pre-fork + threads", "threaded"),
        ("process-per-request", "process-per-request"),
        ("external event-loop", "native"),
        ("topology", "native"),
        ("", "other"),
    ],
)
def test_family_class(family: str, cls: str) -> None:
    assert family_class(family) == cls


def _point(model: str, family: str, load: int, rps: list[float], cpu: float = 100.0) -> Point:
    latency = [64 / r * 1000 for r in rps]
    return Point(
        workload="/cpu?n=1000", model=model, family=family, load_label=f"{load}c", load_kind="closed",
        load_value=float(load), repetitions=len(rps), failed=0, saturated=0, rps=median_ci(rps),
        p50_ms=median_ci(latency), p99_ms=median_ci([v * 3 for v in latency]),
        error_rate=median_ci([0.0]), server_cpu_pct=median_ci([cpu]), rss_mb=median_ci([30.0]),
        client_cpu_pct=median_ci([20.0]), errors=(),
    )


def test_cpu_verdict_credits_more_cores_only_when_the_data_shows_it() -> None:
    points = [
        _point("gunicorn", "pre-fork", 1, [480, 490, 500], cpu=100),
        _point("gunicorn", "pre-fork", 64, [950, 960, 970], cpu=195),
        _point("waitress", "threaded", 1, [470, 480, 490], cpu=100),
        _point("waitress", "threaded", 64, [480, 485, 490], cpu=99),
    ]
    verdict = choose_verdict("/cpu?n=1000", "cpu", "closed", points)
    assert verdict is not None
    assert (verdict.winner, verdict.runner_up, verdict.significant) == ("gunicorn", "waitress", True)
    assert verdict.ratio == pytest.approx(960 / 485)
    assert "GIL" in verdict.reason and "more cores" in verdict.reason
    assert "from 1c to 64c" in verdict.sentence

    same_cpu = [_point(p.model, p.family, int(p.load_value), [p.rps.low, p.rps.median, p.rps.high], cpu=100)
                for p in points]  # fmt: skip
    verdict = choose_verdict("/cpu?n=1000", "cpu", "closed", same_cpu)
    assert verdict is not None and "more cores" not in verdict.reason


def test_overlapping_intervals_are_called_noise() -> None:
    points = [_point("a", "threaded", 16, [100, 110, 120]), _point("b", "threaded", 16, [95, 105, 115])]
    verdict = choose_verdict("/plaintext", "plain", "closed", points)
    assert verdict is not None and verdict.significant is False
    assert "within the noise" in verdict.sentence


def test_one_model_gives_no_verdict() -> None:
    assert choose_verdict("/plaintext", "plain", "closed", [_point("a", "threaded", 16, [100.0])]) is None


def test_busy_trials_behind_the_compared_figures_are_named_in_the_verdict() -> None:
    import dataclasses

    quiet = [_point("a", "event-loop", 16, [300, 310, 320]), _point("b", "threaded", 16, [100, 110, 120])]
    verdict = choose_verdict("/plaintext", "plain", "closed", quiet)
    assert verdict is not None and "busy" not in verdict.sentence
    busy = [dataclasses.replace(quiet[0], busy=2, other_cpu_pct_max=35.0), quiet[1]]
    verdict = choose_verdict("/plaintext", "plain", "closed", busy)
    assert verdict is not None
    assert verdict.sentence.endswith(
        "(2 of the trials compared ran on a busy machine, so the figures are suspect)."
    )
