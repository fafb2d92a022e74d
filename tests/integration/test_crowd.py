"""Idle and slow clients against real servers (issue 19), at small counts: the idle connections held are
the ones the server sees (its own sockets, counted with psutil on the server's processes), tricklers
never complete a request, slow readers read at the rate asked, a plan that cannot fit is refused before
anything starts, and the clients' process is gone afterwards (Ctrl-C included)."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from loadbench.engine.crowd.process import CrowdRun
from loadbench.errors import ExitCode
from loadbench.servers.base import AppSpec, ServerOptions
from loadbench.servers.process import ServerProcess
from loadbench.servers.registry import get_model
from loadbench.types import Crowd, Target

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

IDLE = 200


@pytest.fixture(scope="module", params=["nginx", "uvicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    model = get_model(request.param)
    why_not = model.available()
    if why_not is not None:
        pytest.skip(why_not)
    with model.start(AppSpec(), ServerOptions(workers=1)) as started:
        yield started


def _server_sockets(server: ServerProcess) -> int:
    """Established TCP connections on the server's port, seen from the server's own processes."""
    seen = set()
    for pid in server.pids():
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        for proc in procs:
            try:
                for conn in proc.net_connections(kind="tcp"):
                    ours = conn.laddr and conn.laddr.port == server.port
                    if conn.status == psutil.CONN_ESTABLISHED and ours:
                        seen.add((conn.raddr.ip, conn.raddr.port) if conn.raddr else conn.fd)
            except psutil.Error:
                continue
    return len(seen)


def _target(server: ServerProcess) -> Target:
    return Target(host="127.0.0.1", port=server.port)


def test_idle_connections_held_are_the_ones_the_server_sees(server: ServerProcess) -> None:
    with CrowdRun(Crowd(idle=IDLE), _target(server), default_path="/plaintext", cpus=None) as run:
        seen = _server_sockets(server)
        time.sleep(0.5)
        record = run.finish()
    assert record["idle_held_start"] == IDLE and record["idle_held_end"] == IDLE, record
    assert seen == IDLE
    assert run._proc is None  # the clients' process was joined


def test_a_trickling_client_never_completes_a_request(server: ServerProcess) -> None:
    # 0.01 s a byte for 1.5 s: more bytes than the header has, yet the blank line that ends it never goes.
    crowd = Crowd(idle=20, idle_mode="trickle", trickle_interval_s=0.01)
    with CrowdRun(crowd, _target(server), default_path="/plaintext", cpus=None) as run:
        time.sleep(1.5)
        record = run.finish()
    assert record["idle_failed"].get("answered", 0) == 0, record
    assert record["idle_held_end"] == 20


def test_slow_readers_read_at_the_rate_asked(server: ServerProcess) -> None:
    rate, readers, hold_s = 4096.0, 4, 2.5
    crowd = Crowd(slow_readers=readers, read_rate_bps=rate, slow_path="/static/1m.bin")
    t0 = time.monotonic()
    with CrowdRun(crowd, _target(server), default_path="/plaintext", cpus=None) as run:
        time.sleep(hold_s)
        record = run.finish()
    elapsed = time.monotonic() - t0
    assert record["slow_held_end"] == readers
    # rate × time plus what a small receive buffer holds on the first read, never the megabyte
    assert 0 < record["slow_bytes_read"] <= readers * (rate * elapsed + 32 * 1024), record
    assert record["slow_read_rate_bps_max"] is not None and record["slow_read_rate_bps_max"] < 4 * rate


def _run(args: list[str], *, hard: int | None = None, **kwargs: object) -> subprocess.CompletedProcess[str]:
    def lower() -> None:
        if hard is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return subprocess.run([sys.executable, "-m", "loadbench", *args], capture_output=True, text=True,
                          timeout=60, preexec_fn=lower, **kwargs)  # type: ignore[call-overload, no-any-return]


def test_a_plan_that_cannot_fit_is_refused_before_anything_starts(tmp_path: Path) -> None:
    scenario = tmp_path / "big.toml"
    scenario.write_text('name = "big"\n[[servers]]\nmodel = "uvicorn"\n[[endpoints]]\npath = "/plaintext"\n'
                        "[load]\nconnections = [4]\nidle = [0, 3000]\nduration = \"1s\"\nrepeat = 1\n")
    out = tmp_path / "out"
    done = _run(["run", str(scenario), "--out", str(out)], hard=1024)
    assert done.returncode == ExitCode.USAGE, done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1 and "hard limit is 1,024" in lines[0] and "ulimit -Hn" in lines[0], done.stderr
    assert not (out / "results.jsonl").exists()  # no server, no trial, no results
    bench = _run(["bench", "http://127.0.0.1:9/plaintext", "--idle", "3000", "-d", "1s"], hard=1024)
    assert bench.returncode == ExitCode.USAGE and bench.stdout == "", bench.stderr
    assert bench.stderr.startswith("Error: ") and len(bench.stderr.strip().splitlines()) == 1


def test_ctrl_c_leaves_no_client_process(server: ServerProcess) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadbench", "bench", f"{server.url}/plaintext", "-c", "2", "-d", "20s",
         "--idle", str(IDLE)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        children: list[psutil.Process] = []
        while time.monotonic() < deadline and _server_sockets(server) < IDLE:
            children = psutil.Process(proc.pid).children(recursive=True) or children
            time.sleep(0.2)
        children = psutil.Process(proc.pid).children(recursive=True) or children  # the crowd holds: alive
        assert children, "the idle clients' process never started"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, alive
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _server_sockets(server) > 0:
            time.sleep(0.1)
        assert _server_sockets(server) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
