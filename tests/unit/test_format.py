"""The one number formatter every report, verdict sentence, chart and gate table uses, table-driven."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from loadbench.analysis import format as fmt


@pytest.mark.parametrize(
    ("func", "value", "text"),
    [
        pytest.param(fmt.num, 12345.6, "12,346", id="num-thousands"),
        pytest.param(fmt.num, 12.34, "12.3", id="num-small-3-digits"),
        pytest.param(fmt.num, 50.0, "50", id="num-whole"),
        pytest.param(fmt.num, None, "–", id="num-missing"),
        pytest.param(fmt.num, math.nan, "–", id="num-nan"),
        pytest.param(fmt.ms, 0.41234, "0.412", id="ms-sub-ms"),
        pytest.param(fmt.ms, 12.34, "12.3", id="ms-tens"),
        pytest.param(fmt.ms, 123.4, "123", id="ms-hundreds"),
        pytest.param(fmt.ms, 999.7, "1,000", id="ms-rounds-up-to-thousand-not-1e+03"),
        pytest.param(fmt.ms, 1234.5, "1,234", id="ms-thousands"),
        pytest.param(fmt.ms, math.inf, "–", id="ms-infinite"),
        pytest.param(fmt.pct, 0.0123, "1.2 %", id="pct"),
        pytest.param(fmt.pct, 0.00012, "0.012 %", id="pct-tiny"),
        pytest.param(fmt.pct, 0.0, "0.0 %", id="pct-zero"),
        pytest.param(fmt.short_pct, 0.0009, "0.09%", id="short-pct-below-1"),
        pytest.param(fmt.short_pct, 0.123, "12%", id="short-pct"),
        pytest.param(fmt.short_pct, 0.999, "100%", id="short-pct-all"),
        pytest.param(fmt.signed_pct, -3.21, "-3.2%", id="signed-pct-down"),
        pytest.param(fmt.signed_pct, 4.0, "+4.0%", id="signed-pct-up"),
        pytest.param(fmt.times, 1.044, "1.04×", id="times-close"),
        pytest.param(fmt.times, 2.5, "2.5×", id="times-few"),
        pytest.param(fmt.times, 18.2, "18×", id="times-many"),
        pytest.param(fmt.times, math.nan, "?×", id="times-nan"),
        pytest.param(fmt.axis_tick, 0.1, "0.1", id="tick-small"),
        pytest.param(fmt.axis_tick, 500.0, "500", id="tick-hundreds"),
        pytest.param(fmt.axis_tick, 2500.0, "2.5k", id="tick-thousands"),
        pytest.param(fmt.axis_tick, 40000.0, "40k", id="tick-tens-of-thousands"),
    ],
)
def test_format(func: Callable[[Any], str], value: Any, text: str) -> None:
    assert func(value) == text


def test_num_with_a_decimal() -> None:
    assert fmt.num(12345.67, 1) == "12,345.7"
