"""Table tests of the unit parsers users type values into."""

from __future__ import annotations

import pytest

from loadbench.errors import UsageError
from loadbench.units import parse_count, parse_cpus, parse_duration, parse_rate


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10s", 10.0),
        ("250ms", 0.25),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("500us", 0.0005),
        ("1.5", 1.5),
        (" 3 s ", 3.0),
        (0, 0.0),
        (2.5, 2.5),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "ten", "10 parsecs", "-1s", "1e3s", "nan", True])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "rate"),
    [("500/s", 500.0), ("1k/s", 1000.0), ("2.5k/s", 2500.0), ("30/m", 0.5), ("200", 200.0), (50, 50.0)],
)
def test_parse_rate(text: str | float, rate: float) -> None:
    assert parse_rate(text) == pytest.approx(rate)


@pytest.mark.parametrize("text", ["-5/s", "0/s", "fast", "5/week", "", 0])
def test_parse_rate_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="rate"):
        parse_rate(text)


@pytest.mark.parametrize(
    ("text", "count"), [("64", 64), ("1k", 1000), ("2M", 2_000_000), ("1.5k", 1500), (7, 7)]
)
def test_parse_count(text: str | int, count: int) -> None:
    assert parse_count(text) == count


@pytest.mark.parametrize("text", ["1.5", "-3", "many", "1.0005k", -1])
def test_parse_count_rejects(text: str) -> None:
    with pytest.raises(UsageError, match=r"count|whole|negative"):
        parse_count(text)


@pytest.mark.parametrize(
    ("text", "cpus"), [("0", (0,)), ("1,0", (0, 1)), ("0-3", (0, 1, 2, 3)), ([1, 1, 0], (0, 1))]
)
def test_parse_cpus(text: str | list[int], cpus: tuple[int, ...]) -> None:
    assert parse_cpus(text) == cpus


@pytest.mark.parametrize("text", ["", "a", "3-1", "0,,1", []])
def test_parse_cpus_rejects(text: str) -> None:
    with pytest.raises(UsageError, match=r"cpus|CPU"):
        parse_cpus(text)
