"""URL parsing and the loopback check, which never resolves a name."""

from __future__ import annotations

import socket

import pytest

from loadbench.engine.targets import check_target, is_loopback_host, parse_url
from loadbench.errors import TargetRefusedError, UsageError
from loadbench.types import Target


@pytest.mark.parametrize(
    ("url", "target", "path"),
    [
        ("http://127.0.0.1:8000/plaintext", Target(host="127.0.0.1", port=8000), "/plaintext"),
        ("http://localhost:8000", Target(host="localhost", port=8000), "/"),
        ("http://[::1]:9000/a?b=1&c=2", Target(host="::1", port=9000), "/a?b=1&c=2"),
        ("HTTP://127.0.0.1/", Target(host="127.0.0.1", port=80), "/"),
        ("https://localhost/x", Target(scheme="https", host="localhost", port=443), "/x"),
    ],
)
def test_parse_url(url: str, target: Target, path: str) -> None:
    assert parse_url(url) == (target, path)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("127.0.0.1:8000", "has no scheme"),
        ("ftp://127.0.0.1/", "scheme 'ftp' is not supported"),
        ("http:///path", "has no host"),
        ("http://127.0.0.1:99999/", "port is not a number"),
        ("http://127.0.0.1:0/", "port 0"),
        ("http://[::1/", "is not a valid URL"),
        ("http://[not-an-address]/", "not-an-address"),
    ],
)
def test_bad_urls_are_usage_errors(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_url(url)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True), ("LOCALHOST.", True), ("api.localhost", True), ("127.0.0.1", True),
        ("127.255.0.9", True), ("::1", True), ("::ffff:127.0.0.1", True), ("0:0:0:0:0:0:0:1", True),
        ("128.0.0.1", False), ("10.0.0.1", False), ("192.168.1.1", False), ("0.0.0.0", False),
        ("::", False), ("example.com", False), ("localhost.example.com", False), ("127.0.0.1.nip.io", False),
    ],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_remote_targets_are_refused_without_any_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the loopback check must not touch the network")

    monkeypatch.setattr(socket, "getaddrinfo", forbidden)
    monkeypatch.setattr(socket, "gethostbyname", forbidden)
    with pytest.raises(TargetRefusedError, match="--allow-remote"):
        check_target(Target(host="example.com", port=80), allow_remote=False)
    check_target(Target(host="example.com", port=80), allow_remote=True)
    check_target(Target(host="localhost", port=80), allow_remote=False)


@pytest.mark.parametrize("host", ["api.localhost", "API.LOCALHOST.", "a.b.localhost"])
def test_a_dot_localhost_target_is_refused_before_any_lookup(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    # Before: it passed the check by its name, then the engine resolved it through the system's resolver
    # (possibly DNS) and connected to whatever came back, unchecked.
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a *.localhost target must be refused before any lookup")

    monkeypatch.setattr(socket, "getaddrinfo", forbidden)
    target = Target(scheme="http", host=host, port=8000)
    refused = r"\*\.localhost name .* refused before any lookup; .*-H 'Host: "
    with pytest.raises(TargetRefusedError, match=refused):
        check_target(target, allow_remote=False)
    check_target(target, allow_remote=True)  # the user's explicit choice
    check_target(Target(scheme="http", host="localhost", port=8000), allow_remote=False)
