"""Load shapes know themselves: loop, label, JSON form, split across processes, validation, plotted value."""

from __future__ import annotations

import json
from typing import Any

import pytest

import loadbench.shapes as shapes_module
from loadbench.errors import UsageError
from loadbench.shapes import SHAPES, Closed, LoadShape, Open, Stage, Stages, shape_from_json

RAMP = Stages(kind="rate", stages=(Stage(duration_s=10, target=100), Stage(duration_s=30, target=500),
                                   Stage(duration_s=10, target=0)),
              arrival="poisson", max_connections=64)  # fmt: skip
CONNS = Stages(kind="connections", stages=(Stage(duration_s=1, target=3), Stage(duration_s=2, target=7)))


@pytest.mark.parametrize(
    ("shape", "json_form"),
    [
        pytest.param(Closed(connections=64), {"kind": "closed", "connections": 64}, id="closed"),
        pytest.param(Open(rate_per_s=250.5, arrival="poisson", max_connections=50),
                     {"kind": "open", "rate_per_s": 250.5, "arrival": "poisson", "max_connections": 50},
                     id="open"),
        pytest.param(RAMP, {"kind": "stages", "stages_kind": "rate", "arrival": "poisson",
                            "max_connections": 64, "stages": [[10, 100], [30, 500], [10, 0]]},
                     id="rate-stages"),
        pytest.param(CONNS, {"kind": "stages", "stages_kind": "connections", "arrival": "uniform",
                             "max_connections": 1024, "stages": [[1, 3], [2, 7]]}, id="connection-stages"),
    ],
)  # fmt: skip
def test_json_form_and_round_trip(shape: LoadShape, json_form: dict[str, Any]) -> None:
    assert shape.to_json() == json_form
    assert shape_from_json(json.loads(json.dumps(shape.to_json()))) == shape


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        pytest.param({"kind": "burst"}, ValueError,
                     "unknown load kind 'burst'; expected closed, open or stages", id="unknown-kind"),
        pytest.param({"kind": "closed"}, KeyError, "connections", id="closed-without-connections"),
        pytest.param({"kind": "open", "rate_per_s": "fast"}, ValueError, "fast", id="open-rate-text"),
        pytest.param({"kind": "stages", "stages": []}, KeyError, "stages_kind", id="stages-without-kind"),
    ],
)  # fmt: skip
def test_malformed_json(data: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        shape_from_json(data)


@pytest.mark.parametrize(
    ("shape", "parts", "shares"),
    [
        pytest.param(Closed(connections=5), 2, [Closed(connections=3), Closed(connections=2)], id="closed"),
        pytest.param(Open(rate_per_s=1000.0, max_connections=101), 2,
                     [Open(rate_per_s=500.0, max_connections=51)] * 2, id="open"),
        pytest.param(RAMP, 4, [Stages(kind="rate", stages=(Stage(duration_s=10, target=25),
                                                           Stage(duration_s=30, target=125),
                                                           Stage(duration_s=10, target=0)),
                                      arrival="poisson", max_connections=16)] * 4, id="rate-stages"),
        pytest.param(CONNS, 2, [Stages(kind="connections", stages=(Stage(duration_s=1, target=2),
                                                                   Stage(duration_s=2, target=4))),
                                Stages(kind="connections", stages=(Stage(duration_s=1, target=1),
                                                                   Stage(duration_s=2, target=3)))],
                     id="connection-stages-whole-shares"),
        pytest.param(Closed(connections=4), 1, [Closed(connections=4)], id="one-part"),
    ],
)  # fmt: skip
def test_split(shape: LoadShape, parts: int, shares: list[LoadShape]) -> None:
    assert shape.split(parts) == shares


@pytest.mark.parametrize(
    ("shape", "wanted", "usable"),
    [
        pytest.param(Closed(connections=1), 4, 1, id="closed-one-connection"),
        pytest.param(Closed(connections=8), 4, 4, id="closed-enough"),
        pytest.param(Open(rate_per_s=1.0), 4, 4, id="open"),
        pytest.param(CONNS, 8, 7, id="connection-stages-peak"),
        pytest.param(RAMP, 3, 3, id="rate-stages"),
    ],
)
def test_max_processes(shape: LoadShape, wanted: int, usable: int) -> None:
    assert shape.max_processes(wanted) == usable


@pytest.mark.parametrize(
    ("shape", "loop", "label", "plot_value", "connection_limit", "own_duration_s", "mean_rate", "describe"),
    [
        pytest.param(Closed(connections=64), "closed", "64c", 64.0, 64, None, None,
                     "64 connections, closed loop", id="closed"),
        pytest.param(Open(rate_per_s=2000.0, max_connections=99), "open", "2k/s", 2000.0, 99, None, 2000.0,
                     "2000/s uniform, open loop", id="open"),
        pytest.param(RAMP, "open", "10s:100/s,30s:500/s,10s:0/s", 500.0, 64, 50.0, (500 + 9000 + 2500) / 50,
                     "stages 10s:100/s,30s:500/s,10s:0/s (poisson)", id="rate-stages"),
        pytest.param(CONNS, "closed", "1s:3c,2s:7c", 7.0, 7, 3.0, None, "stages 1s:3c,2s:7c (closed loop)",
                     id="connection-stages"),
    ],
)  # fmt: skip
def test_what_each_shape_answers(
    shape: LoadShape, loop: str, label: str, plot_value: float, connection_limit: int,
    own_duration_s: float | None, mean_rate: float | None, describe: str,
) -> None:  # fmt: skip
    assert (shape.loop, shape.label, shape.plot_value, shape.connection_limit) == (
        loop, label, plot_value, connection_limit)  # fmt: skip
    assert shape.own_duration_s == own_duration_s
    assert shape.mean_rate_per_s == (pytest.approx(mean_rate) if mean_rate is not None else None)
    assert shape.describe() == describe


@pytest.mark.parametrize(
    ("points", "text"),
    [
        pytest.param((Closed(connections=1), Closed(connections=64)), "closed loop at 1, 64 connections",
                     id="closed"),
        pytest.param((Open(rate_per_s=200, arrival="poisson"), Open(rate_per_s=1000, arrival="poisson")),
                     "open loop at 200/s, 1k/s (poisson arrivals)", id="open"),
        pytest.param((CONNS,), "stages 1s:3c,2s:7c", id="stages"),
    ],
)  # fmt: skip
def test_describe_points(points: tuple[LoadShape, ...], text: str) -> None:
    assert type(points[0]).describe_points(points) == text


@pytest.mark.parametrize(
    ("shape", "duration_s", "schedule"),
    [
        pytest.param(Closed(connections=8), 10.0, (Stage(duration_s=0, target=8),),
                     id="closed-steps-to-count"),
        pytest.param(Open(rate_per_s=50.0), 10.0,
                     (Stage(duration_s=0, target=50), Stage(duration_s=10, target=50)), id="open-constant"),
        pytest.param(CONNS, 99.0, CONNS.stages, id="stages-own"),
    ],
)  # fmt: skip
def test_schedule(shape: LoadShape, duration_s: float, schedule: tuple[Stage, ...]) -> None:
    assert shape.schedule(duration_s) == schedule


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        pytest.param(Closed(connections=0), "connections: 0 must be at least 1", id="closed-zero"),
        pytest.param(Open(rate_per_s=0.0), "rate: 0.0/s must be positive", id="open-zero-rate"),
        pytest.param(Open(rate_per_s=1.0, max_connections=0), "max connections: 0 must be at least 1",
                     id="open-max-connections"),
        pytest.param(Stages(kind="rate", stages=()),
                     "stages: give at least one stage with a positive duration, like 10s:100/s",
                     id="stages-empty"),
        pytest.param(Stages(kind="rate", stages=(Stage(duration_s=1, target=1),), max_connections=0),
                     "max connections: 0 must be at least 1", id="stages-max-connections"),
    ],
)  # fmt: skip
def test_validate(shape: LoadShape, message: str) -> None:
    with pytest.raises(UsageError) as info:
        shape.validate()
    assert str(info.value) == message


@pytest.mark.parametrize("shape", [Closed(connections=1), Open(rate_per_s=1.0), RAMP, CONNS])
def test_valid_shapes_pass(shape: LoadShape) -> None:
    shape.validate()


def test_shortened_scales_only_what_sets_its_own_duration() -> None:
    assert Closed(connections=4).shortened(1.0) == Closed(connections=4)
    assert RAMP.shortened(1.0).stages == (
        Stage(duration_s=0.2, target=100), Stage(duration_s=0.6, target=500), Stage(duration_s=0.2, target=0))


def test_every_shape_is_registered_once_by_kind() -> None:
    defined = {obj for obj in vars(shapes_module).values()
               if isinstance(obj, type) and issubclass(obj, LoadShape) and obj is not LoadShape}  # fmt: skip
    assert defined == set(SHAPES)
    kinds = [shape.json_kind for shape in SHAPES]
    assert len(kinds) == len(set(kinds))
