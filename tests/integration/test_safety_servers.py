"""Safety (issue 7, item 5) of running servers: every model, started through the registry as `run` and
`serve` start it, listens on 127.0.0.1 only, and keeps its log in a private 0700 temp dir (when no
log_dir is given) that is removed when the server stops."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from loadbench.servers.base import AppSpec, ServerOptions
from loadbench.servers.registry import get_model, model_names

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]



def _app(model: str) -> AppSpec:
    if model != "command":
        return AppSpec()
    # A stdlib server as "your own command"; {port} and {host} are filled in by loadbench.
    return AppSpec(kind="command", target=f"{sys.executable} -m http.server {{port}} --bind {{host}}",
                   ready_path="/")


def _listening(pids: list[int]) -> list[tuple[int, str, int]]:
    """(pid, ip, port) of every listening TCP socket (IPv4 or IPv6) the processes hold."""
    found = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            conns = process.net_connections(kind="tcp") if hasattr(process, "net_connections") \
                else process.connections(kind="tcp")
        except psutil.NoSuchProcess:
            continue
        found += [(pid, c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN]
    return found


@pytest.mark.parametrize("name", model_names())
def test_server_listens_on_loopback_only_and_logs_privately(
    name: str, processes_gone: Callable[..., list[int]]
) -> None:
    model = get_model(name)
    why_not = model.available()
    if why_not is not None:
        pytest.skip(why_not)
    with model.start(_app(name), ServerOptions()) as server:
        pids = server.pids()
        assert pids, "the server reports its processes"
        listening = _listening(pids)
        assert listening, f"{name}: no LISTEN socket found among pids {pids}"
        assert {ip for _, ip, _ in listening} == {"127.0.0.1"}, listening
        assert server.port in {port for _, _, port in listening}

        log_dir = Path(server.log_path).parent
        mode = stat.S_IMODE(log_dir.stat().st_mode)
        assert mode == 0o700, f"{log_dir} has mode {mode:o}"
        assert log_dir.stat().st_uid == os.getuid()
        assert server.log_path.exists()
    assert processes_gone(pids) == []
    assert not log_dir.exists(), "the private log dir is removed when the server stops"


def test_an_explicit_log_dir_is_kept(tmp_path: Path) -> None:
    """With log_dir given, the log stays there after stop (the user asked for it)."""
    model = get_model("uvicorn")
    if model.available() is not None:
        pytest.skip(str(model.available()))
    with model.start(AppSpec(), ServerOptions(log_dir=tmp_path / "logs")) as server:
        log_path = Path(server.log_path)
    assert log_path.parent == tmp_path / "logs"
    assert log_path.exists()
