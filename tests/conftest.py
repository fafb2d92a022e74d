"""Shared test fixtures, small and generic: HTTP on 127.0.0.1 and checks that no process was left behind."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.client import HTTPConnection

import psutil
import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", default=False,
        help="rewrite tests/golden/expected/* from the current output instead of comparing",
    )

@dataclass(frozen=True, slots=True, kw_only=True)
class HttpAnswer:
    """One HTTP response: status, headers (lower-case names), body."""

    status: int
    headers: dict[str, str]
    body: bytes


def http_get(url: str, path: str, *, timeout_s: float = 10.0) -> HttpAnswer:
    """GET `path` from `url` ("http://127.0.0.1:PORT") on a fresh connection."""
    host_port = url.removeprefix("http://")
    host, _, port = host_port.partition(":")
    conn = HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return HttpAnswer(status=response.status, headers=headers, body=body)
    finally:
        conn.close()


def gone(pid: int) -> bool:
    """True when `pid` no longer runs (absent or a zombie awaiting its reaper)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_all_gone(pids: Iterable[int], timeout_s: float = 5.0) -> list[int]:
    """Wait up to `timeout_s` for every pid to be gone; return those still running (empty = success)."""
    pending = list(pids)
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        pending = [pid for pid in pending if not gone(pid)]
        if pending:
            time.sleep(0.02)
    return [pid for pid in pending if not gone(pid)]


@pytest.fixture(scope="session")
def http() -> Callable[..., HttpAnswer]:
    """http_get(url, path, timeout_s=10.0) -> HttpAnswer(status, headers, body), on a fresh connection."""
    return http_get


@pytest.fixture(scope="session")
def processes_gone() -> Callable[..., list[int]]:
    """wait_all_gone(pids, timeout_s=5.0) -> the pids still running after the wait (empty = all gone)."""
    return wait_all_gone
