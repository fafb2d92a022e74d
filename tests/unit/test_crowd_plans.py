"""Idle and slow clients (issue 19) without a server: the limits check, the scenario keys, the plan's
sweep, the labels and the report's rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadbench.analysis.crowd import crowd_rows, family_notes
from loadbench.engine.crowd.clients import _response_complete, request_bytes, source_addresses
from loadbench.engine.crowd.limits import ephemeral_ports, plan_fit
from loadbench.errors import ScenarioError, UsageError
from loadbench.plan import build_plan
from loadbench.results.build import TrialIdentity, measured_trial
from loadbench.scenario import load_scenario
from loadbench.types import Closed, Crowd
from loadbench.units import parse_byte_rate


@pytest.mark.parametrize(("text", "expected"), [
    ("1KB/s", 1024.0), ("512B/s", 512.0), ("2MB/s", 2 * 1024 * 1024), ("1.5 KiB/s", 1536.0), (100, 100.0),
])  # fmt: skip
def test_parse_byte_rate(text: str | int, expected: float) -> None:
    assert parse_byte_rate(text) == expected


@pytest.mark.parametrize("text", ["1KB", "fast", "0B/s", "-1KB/s"])
def test_parse_byte_rate_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="byte rate"):
        parse_byte_rate(text)


@pytest.mark.parametrize(("crowd", "label"), [
    (Crowd(), ""), (Crowd(idle=1000), " +1000 idle"), (Crowd(idle=5, idle_mode="trickle"), " +5 trickle"),
    (Crowd(slow_readers=64), " +64 slow"), (Crowd(idle=2, slow_readers=3), " +2 idle +3 slow"),
])  # fmt: skip
def test_crowd_label(crowd: Crowd, label: str) -> None:
    assert crowd.label == label


@pytest.mark.parametrize(("idle", "active", "hard", "ports", "sources"), [
    (1000, 16, 20000, 28232, 1),
    (10000, 16, 20000, 28232, 1),
    (19000, 16, 20000, 10000, 3),  # 8,000 usable ports per source address
])  # fmt: skip
def test_plan_fit_spreads_over_source_addresses(idle: int, active: int, hard: int, ports: int, sources: int
                                                ) -> None:  # fmt: skip
    fit = plan_fit(Crowd(idle=idle), active, hard_limit=hard, ports=ports)
    assert fit.sources == sources and fit.server_fds == idle + active + 64


def test_plan_fit_refuses_too_many_descriptors_in_one_line() -> None:
    with pytest.raises(UsageError) as info:
        plan_fit(Crowd(idle=30000), 16, hard_limit=20000, ports=28232, where="trial x")
    message = str(info.value)
    assert "\n" not in message and message.startswith("trial x: 30,000 idle/slow + 16 active")
    assert "hard limit is 20,000" in message and "ulimit -Hn 30080" in message


def test_plan_fit_refuses_spreading_off_loopback() -> None:
    with pytest.raises(UsageError, match=r"not on 127\.0\.0\.0/8"):
        plan_fit(Crowd(idle=15000), 16, host="::1", hard_limit=None, ports=10000)


def test_ephemeral_ports_reads_the_range(tmp_path: Path) -> None:
    path = tmp_path / "range"
    path.write_text("32768\t60999\n")
    assert ephemeral_ports(path) == 28232
    assert ephemeral_ports(tmp_path / "missing") == 28232


def test_source_addresses() -> None:
    assert source_addresses(1, "127.0.0.1") == [None]
    assert source_addresses(3, "127.0.0.1") == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]


def test_response_framing_and_trickle_request() -> None:
    assert not _response_complete(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc")
    assert _response_complete(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde")
    assert _response_complete(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    request = request_bytes("/plaintext", "127.0.0.1:8000", agent="t")
    assert request.endswith(b"\r\n\r\n") and request.count(b"\r\n\r\n") == 1


SCENARIO = """
name = "c"
[[servers]]
model = "uvicorn"
[[endpoints]]
path = "/plaintext"
[load]
connections = [4]
idle = [0, 1000]
slow_readers = [0, 8]
read_rate = "2KB/s"
duration = "1s"
repeat = 1
"""


def test_scenario_sweeps_idle_and_slow_readers_one_server_start_each(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    assert [c.label for c in scenario.load.crowds] == ["", " +8 slow", " +1000 idle", " +1000 idle +8 slow"]
    assert all(c.read_rate_bps == 2048 for c in scenario.load.crowds)
    plan = build_plan(scenario)
    assert len(plan.blocks) == 4
    assert [t.trial_id for t in plan.trials][2] == "uvicorn|/plaintext|4c +1000 idle|1"


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("idle", '"lots"', "idle"), ("idle_mode", '"sleepy"', "idle_mode"), ("read_rate", '"fast"', "read_rate"),
    ("slow_path", '"static/1m.bin"', "slow_path"),
])  # fmt: skip
def test_scenario_crowd_keys_are_validated(tmp_path: Path, key: str, value: str, problem: str) -> None:
    path = tmp_path / "c.toml"
    text = SCENARIO.replace("idle = [0, 1000]\n", "").replace('read_rate = "2KB/s"\n', "")
    path.write_text(text.replace("repeat = 1", f"repeat = 1\n{key} = {value}"))
    with pytest.raises(ScenarioError, match=problem):
        load_scenario(path)


def _trial(model: str, family: str, idle: int, rss: float, held: int, rps: float) -> object:
    identity = TrialIdentity(trial_id=f"{model}|{idle}", index=idle, model=model, family=family,
                             workload="/plaintext", load=Closed(connections=16), started="2026-01-01",
                             load_suffix=Crowd(idle=idle).label)  # fmt: skip
    record = {"duration_s": 5.0, "requests": int(rps * 5), "rps": rps, "latency_ms": {"p99": 1.0},
              "server": {"rss_mb_mean": rss, "fds_mean": held + 10.0}}  # fmt: skip
    crowd = {"idle": idle, "idle_mode": "keepalive", "slow_readers": 0, "idle_held_end": held,
             "idle_waiting_end": 0, "idle_failed": {"closed": idle - held}, "server_rss_mb_before": 10.0}
    return measured_trial(identity, record, crowd=crowd if idle else None)


def test_crowd_rows_compute_memory_per_held_connection() -> None:
    trials = [_trial("nginx", "event-loop (external)", 0, 10.0, 0, 20000.0),
              _trial("nginx", "event-loop (external)", 1000, 11.0, 1000, 19000.0)]  # fmt: skip
    rows = crowd_rows(trials)  # type: ignore[arg-type]
    assert [r.load_label for r in rows] == ["16c", "16c +1000 idle"]
    assert rows[1].held == 1000 and rows[1].kib_per_held == pytest.approx(1.024)
    assert rows[1].lost == (("closed", 0),) and rows[0].kib_per_held is None
    assert family_notes(rows)[0].startswith("nginx keeps a waiting connection")


def test_the_shipped_c10k_scenario_sweeps_idle_connections() -> None:
    from loadbench.scenario import find_scenario

    scenario = load_scenario(find_scenario("c10k"))
    assert [c.idle for c in scenario.load.crowds] == [0, 1000, 5000]
    assert {s.model for s in scenario.servers} >= {"nginx", "apache", "apache-worker", "apache-prefork",
                                                   "uvicorn", "gunicorn", "gunicorn-gthread", "waitress",
                                                   "nginx-gunicorn"}  # fmt: skip
