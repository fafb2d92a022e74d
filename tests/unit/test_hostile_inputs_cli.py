"""Hostile command-line values and corrupted results files (issue 7, item 3), run in-process through
`loadbench.cli.main`: each ends with exit 2 (usage) or 1, a one-line "Error:" message naming the value,
and no traceback. Nothing here sends load: bench values are refused before the engine runs (the engine's
`drive` is replaced by a tripwire), and the remote target is refused before any name lookup or socket."""

from __future__ import annotations

import base64
import json
import socket
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from synthetic import write_synthetic_results

import loadbench.engine
from loadbench.cli import main
from loadbench.errors import ExitCode

Cap = pytest.CaptureFixture[str]
LOCAL = "http://127.0.0.1:9/"
REAL_GETADDRINFO = socket.getaddrinfo  # the discard port: nothing listens there, and nothing is sent anyway


def run(argv: list[str], capsys: Cap) -> tuple[int, str, str]:
    """`loadbench ARGV` as the console script runs it: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), out, err


def assert_one_line_error(code: int, err: str, *, codes: tuple[int, ...], names: tuple[str, ...]) -> None:
    assert "Traceback" not in err
    assert code in codes, (code, err)
    assert err.startswith("Error: "), err
    assert len(err.strip().splitlines()) == 1, err
    for name in names:
        assert name in err, (name, err)


class Tripwire:
    """Records calls of the functions it replaces and refuses to perform them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def wrap(self, name: str) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args))
            raise OSError(f"test tripwire: {name} must not be called here")
        return refuse


@pytest.fixture
def tripwire(monkeypatch: pytest.MonkeyPatch) -> Tripwire:
    """Name lookups and outgoing connections (Python level) are recorded and refused."""
    wire = Tripwire()
    monkeypatch.setattr(socket, "getaddrinfo", wire.wrap("getaddrinfo"))
    monkeypatch.setattr(socket, "gethostbyname", wire.wrap("gethostbyname"))
    monkeypatch.setattr(socket, "create_connection", wire.wrap("create_connection"))
    monkeypatch.setattr(socket.socket, "connect", wire.wrap("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", wire.wrap("socket.connect_ex"))
    return wire


@pytest.fixture
def no_drive(monkeypatch: pytest.MonkeyPatch, tripwire: Tripwire) -> Tripwire:
    """The tripwire, plus the engine's drive(): a value that should be refused never reaches it."""
    monkeypatch.setattr(loadbench.engine, "drive", tripwire.wrap("drive"))
    return tripwire


# ---- bench ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "names"),
    [
        pytest.param([LOCAL, "--rate", "-5/s"], ("--rate", "-5/s"), id="negative-rate"),
        pytest.param([LOCAL, "-r", "0/s"], ("--rate", "0/s"), id="zero-rate"),
        pytest.param([LOCAL, "-r", "5/fortnight"], ("--rate", "5/fortnight"), id="rate-unit"),
        pytest.param([LOCAL, "-d", "0"], ("--duration", "0"), id="zero-duration"),
        pytest.param([LOCAL, "-d", "-1s"], ("--duration", "-1s"), id="negative-duration"),
        pytest.param([LOCAL, "-d", "ten"], ("--duration", "ten"), id="duration-text"),
        pytest.param([LOCAL, "-c", "0"], ("--connections", "0"), id="zero-connections"),
        pytest.param([LOCAL, "-c", "1.5"], ("--connections", "1.5"), id="fractional-connections"),
        pytest.param([LOCAL, "-c", "9" * 400], ("--connections",), id="connections-beyond-float"),
        pytest.param([LOCAL, "-c", "4", "-r", "5/s"], ("-c", "-r"), id="two-load-shapes"),
        pytest.param([LOCAL, "--timeout", "0"], ("--timeout", "0"), id="zero-timeout"),
        pytest.param([LOCAL, "--warmup", "-1s"], ("--warmup", "-1s"), id="negative-warmup"),
        pytest.param([LOCAL, "-n", "0"], ("--requests", "0"), id="zero-requests"),
        pytest.param([LOCAL, "--processes", "0"], ("--processes", "0"), id="zero-processes"),
        pytest.param([LOCAL, "-r", "5/s", "--max-connections", "0"], ("--max-connections",),
                     id="max-conns-0"),
        pytest.param([LOCAL, "--stages", "10s:100/s,10s:16c"], ("--stages",), id="mixed-stages"),
        pytest.param([LOCAL, "--stages", "0s:0/s"], ("--stages", "0s:0/s"), id="zero-stages"),
        pytest.param([LOCAL, "--stages", "soon"], ("--stages", "soon"), id="stage-text"),
        pytest.param([LOCAL, "--mix", "/a=-1"], ("--mix", "/a=-1"), id="negative-mix-weight"),
        pytest.param([LOCAL, "--mix", "a=1"], ("--mix", "a=1"), id="mix-path-without-slash"),
        pytest.param([LOCAL, "--mix", "/a=nan"], ("--mix", "/a=nan"), id="nan-mix-weight"),
        pytest.param([LOCAL, "--mix", "/a=inf"], ("--mix", "/a=inf"), id="inf-mix-weight"),
        pytest.param([LOCAL, "-H", "nocolon"], ("-H", "nocolon"), id="header-without-colon"),
        pytest.param([LOCAL, "--body", "@/nonexistent/body"], ("--body",), id="body-file-missing"),
        pytest.param([LOCAL, "--cpus", "0-99999999999"], ("--cpus",), id="cpus-huge-range"),
        pytest.param([LOCAL, "--seed", "x"], ("--seed", "'x'"), id="seed-not-int"),
        pytest.param([LOCAL, "--arrival", "bursty"], ("--arrival", "bursty"), id="arrival-choice"),
        pytest.param(["http:///nohost"], ("http:///nohost", "no host"), id="url-no-host"),
        pytest.param(["ftp://x/"], ("ftp://x/", "'ftp'"), id="url-ftp"),
        pytest.param(["127.0.0.1:8000"], ("127.0.0.1:8000", "no scheme"), id="url-no-scheme"),
        pytest.param(["http://127.0.0.1:99999/"], ("99999", "port"), id="url-port-too-big"),
        pytest.param(["http://127.0.0.1:0/"], ("port 0",), id="url-port-0"),
        pytest.param(["http://127.0.0.1:http/"], ("port",), id="url-port-text"),
        pytest.param(["http://[::1/"], ("http://[::1/",), id="url-unclosed-ipv6-bracket"),
        pytest.param(["http://[not-an-address]/"], ("not-an-address",), id="url-bad-ipv6-literal"),
        pytest.param([], ("URL",), id="no-url"),
    ],
)
def test_bench_refuses_bad_values(args: list[str], names: tuple[str, ...], no_drive: Tripwire,
                                  capsys: Cap) -> None:
    code, _, err = run(["bench", *args], capsys)
    assert_one_line_error(code, err, codes=(ExitCode.USAGE,), names=names)
    assert no_drive.calls == []


@pytest.mark.parametrize(
    ("args", "names"),
    [
        pytest.param([LOCAL, "-m", "G\tET"], ("method", "G\\tET"), id="method-with-tab"),
        pytest.param([LOCAL, "-m", "GET / HTTP/1.1\r\nX:"], ("method",), id="method-with-crlf"),
        pytest.param([LOCAL, "-H", "X-A: a\r\nX-Injected: y"], ("X-A",), id="header-value-with-crlf"),
        pytest.param([LOCAL, "-H", "Bad Name: y"], ("Bad Name",), id="header-name-with-space"),
    ],
)
def test_bench_values_the_engine_refuses_before_any_socket(args: list[str], names: tuple[str, ...],
                                                          tripwire: Tripwire, capsys: Cap,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked inside drive(), before any connection (-d 0.2s bounds a miss). The loopback literal may
    be looked up first (a harmless getaddrinfo of 127.0.0.1), so only connections are counted."""
    lookups: list[str] = []

    def loopback_only(host: str, *args: Any, **kwargs: Any) -> Any:
        assert host == "127.0.0.1", host
        lookups.append(host)
        return REAL_GETADDRINFO(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    code, _, err = run(["bench", *args, "-c", "1", "-d", "0.2s"], capsys)
    assert_one_line_error(code, err, codes=(ExitCode.USAGE,), names=names)
    assert tripwire.calls == []


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/",
        "https://example.com:8443/x",
        "http://10.0.0.1/",
        "http://0.0.0.0:80/",
        "http://[::ffff:8.8.8.8]/",
        "http://[2001:db8::1]:80/",
        "http://localhost.example.com/",
        "http://127.0.0.1.nip.io/",
        "http://LOCALHOST@example.com/",
    ],
)
def test_bench_refuses_remote_targets_before_any_lookup_or_socket(url: str, no_drive: Tripwire,
                                                                  capsys: Cap) -> None:
    code, _, err = run(["bench", url, "-c", "1", "-d", "1s"], capsys)
    assert_one_line_error(code, err, codes=(ExitCode.USAGE,), names=("--allow-remote", "loopback"))
    assert no_drive.calls == []


def test_bench_refuses_a_million_connections_before_any_socket(tripwire: Tripwire, tmp_path: Path,
                                                                capsys: Cap) -> None:
    """The real engine: a million connections exceed the descriptor limit (and the ephemeral ports of
    one target, ~28k): refused with the limit named, before a name lookup or a connection."""
    code, _, err = run(["bench", LOCAL, "-c", "1000000", "-d", "1s"], capsys)
    assert_one_line_error(code, err, codes=(ExitCode.USAGE, ExitCode.ERROR), names=("1000000",))
    assert "limit" in err
    assert tripwire.calls == []


# ---- serve ---------------------------------------------------------------------------------------------


@pytest.fixture
def no_serve(monkeypatch: pytest.MonkeyPatch) -> Tripwire:
    """serve's start-and-wait step replaced by a tripwire, so an accepted value never starts a server."""
    import loadbench.cli.serve as serve_module

    wire = Tripwire()
    monkeypatch.setattr(serve_module, "_serve", wire.wrap("_serve"))
    return wire


@pytest.mark.parametrize(
    ("args", "names"),
    [
        pytest.param(["uvicorn", "--port", "70000"], ("70000",), id="port-70000"),
        pytest.param(["uvicorn", "--port", "-1"], ("-1",), id="port-negative"),
        pytest.param(["uvicorn", "--port", "http"], ("--port", "'http'"), id="port-text"),
        pytest.param(["uvicorn", "--workers", "0"], ("workers", "0"), id="workers-0"),
        pytest.param(["waitress", "--threads", "0"], ("threads", "0"), id="threads-0"),
        pytest.param(["uvicorn", "--cpus", "99"], ("cpus", "99"), id="cpus-99"),
        pytest.param(["uvicorn", "--cpus", "1-0"], ("--cpus", "1-0"), id="cpus-backwards"),
        pytest.param(["uvicorn", "--cpus", "x"], ("--cpus", "'x'"), id="cpus-text"),
        pytest.param(["uvicorn", "--ready-timeout", "0"], ("ready",), id="ready-timeout-0"),
        pytest.param(["uvicron"], ("'uvicron'", "uvicorn"), id="model-typo"),
        pytest.param(["uvicorn", "--app", "nocolon"], ("nocolon",), id="app-without-colon"),
        pytest.param(["uvicorn", "--app", "a:b", "--command", "x {port}"], ("--app", "--command"),
                     id="app-and-command"),
        pytest.param(["uvicorn", "--interface", "cgi"], ("--interface", "cgi"), id="interface-choice"),
    ],
)
def test_serve_refuses_bad_values_before_starting(args: list[str], names: tuple[str, ...], no_serve: Tripwire,
                                                  capsys: Cap) -> None:
    code, _, err = run(["serve", *args], capsys)
    assert_one_line_error(code, err, codes=(ExitCode.USAGE,), names=names)
    assert no_serve.calls == []


# ---- report, check and compare on damaged results files -------------------------------------------------


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small paired run (so `compare` has pairs) that every damaged file below starts from."""
    return write_synthetic_results(
        tmp_path_factory.mktemp("good") / "results.jsonl", seed=11, models=("uvicorn",),
        workloads=("/plaintext",), loads=(16,), repetitions=6, variants=("baseline", "candidate"),
        latency_samples=200,
    )


def _trial_edit(**changes: Any) -> Callable[[list[str]], str]:
    """Replace keys of the first trial line (line 2); values given as raw JSON text."""
    def edit(lines: list[str]) -> str:
        trial = json.loads(lines[1])
        marker = {key: f"@@{key}@@" for key in changes}
        trial.update(marker)
        text = json.dumps(trial)
        for key, raw in changes.items():
            text = text.replace(json.dumps(marker[key]), raw)
        return lines[0] + text + "\n" + "".join(lines[2:])
    return edit


def _header_edit(**changes: Any) -> Callable[[list[str]], str]:
    def edit(lines: list[str]) -> str:
        header = json.loads(lines[0])
        header.update(changes)
        return json.dumps(header) + "\n" + "".join(lines[1:])
    return edit


def _histogram(n_pairs: int, body: bytes) -> str:
    """An LBH1 histogram whose header promises `n_pairs` slots and whose body is `body`."""
    header = struct.pack("<4sQqqqQQQ", b"LBH1", 10, 1000, 2000, 15000, 0, 0, n_pairs)
    return json.dumps(base64.b64encode(zlib.compress(header + body)).decode())


DAMAGED: dict[str, tuple[Callable[[list[str]], str | bytes], tuple[str, ...]]] = {
    # name: (make the file from the good file's lines, words the error must contain)
    "empty": (lambda lines: "", ("empty",)),
    "blank-lines": (lambda lines: "\n \n\t\n", ("empty",)),
    "not-json": (lambda lines: "hello, world\nthis is not JSON\n", ("not a loadbench results file",)),
    "binary-garbage": (lambda lines: bytes(range(256)) * 4, ("not UTF-8",)),
    "utf16": (lambda lines: "".join(lines).encode("utf-16"), ("not UTF-8",)),
    "json-list": (lambda lines: "[1, 2, 3]\n", ("not a loadbench results file",)),
    "json-null": (lambda lines: "null\n", ("not a loadbench results file",)),
    "nested-too-deep": (lambda lines: "[" * 100_000 + "\n", ("nested too deeply",)),
    "line-nested-too-deep": (lambda lines: lines[0] + '{"a":' * 100_000 + "\n" + "".join(lines[1:]),
                             (":2:", "nested too deeply")),
    "wrong-version": (_header_edit(version=99), ("version 99", "upgrade loadbench")),
    "version-as-text": (_header_edit(version="1"), ("version '1'",)),
    "other-format": (_header_edit(format="k6-summary"), ("'k6-summary'",)),
    "header-without-scenario-name": (_header_edit(scenario={}), ("'scenario'", "name")),
    "damaged-middle-line": (lambda lines: lines[0] + lines[1][:40] + "\n" + "".join(lines[2:]),
                            (":2:", "not valid JSON")),
    "rps-as-text": (_trial_edit(rps='"fast"'), (":2:", "'rps'", "'fast'")),
    "rps-beyond-float": (_trial_edit(rps="1e400"), (":2:", "'rps'")),
    "requests-of-5000-digits": (_trial_edit(requests="9" * 5000), (":2:", "4300 digits")),
    "requests-missing": (lambda lines: lines[0] + json.dumps({k: v for k, v in json.loads(lines[1]).items()
                                                             if k != "requests"}) + "\n" + "".join(lines[2:]),
                         (":2:", "'requests'")),
    "timeline-text": (_trial_edit(timeline='[["a"]]'), (":2:", "'timeline'")),
    "load-not-an-object": (_trial_edit(load="7"), (":2:", "'load'")),
    "trial-is-a-list": (lambda lines: lines[0] + "[1]\n" + "".join(lines[2:]), (":2:",)),
}
# Damage that passes the reader's checks and surfaces only where a command decodes the histograms.
DAMAGED_HISTOGRAMS: dict[str, tuple[Callable[[list[str]], str | bytes], tuple[str, ...]]] = {
    "histogram-not-base64": (_trial_edit(histogram='"!!!"'), ("histogram",)),
    "histogram-not-zlib": (_trial_edit(histogram='"aGVsbG8="'), ("histogram",)),
    "histogram-short-body": (_trial_edit(histogram=_histogram(1000, b"\x01\x00\x00\x00")), ("histogram",)),
    "histogram-slot-out-of-range": (
        _trial_edit(histogram=_histogram(1, struct.pack("<I", 2**32 - 1) + struct.pack("<Q", 10))),
        ("histogram",),
    ),
}
COMMANDS = {
    "report": ["report", "--format", "md", "-o", "-"],
    "check": ["check", "--threshold", "p99 < 10s"],
    "compare": ["compare"],
}


def _write(tmp_path: Path, good: Path, make: Callable[[list[str]], str | bytes]) -> Path:
    data = make(good.read_text().splitlines(keepends=True))
    path = tmp_path / "damaged.jsonl"
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("damage", sorted(DAMAGED))
def test_damaged_results_give_one_line_errors(command: str, damage: str, good: Path, tmp_path: Path,
                                              capsys: Cap) -> None:
    make, words = DAMAGED[damage]
    path = _write(tmp_path, good, make)
    code, _, err = run([*COMMANDS[command], str(path)], capsys)
    assert_one_line_error(code, err, codes=(ExitCode.ERROR, ExitCode.USAGE), names=(str(path), *words))


@pytest.mark.parametrize("command", ["report"])
@pytest.mark.parametrize("damage", sorted(DAMAGED_HISTOGRAMS))
def test_damaged_histograms_give_one_line_errors(command: str, damage: str, good: Path, tmp_path: Path,
                                                 capsys: Cap) -> None:
    make, words = DAMAGED_HISTOGRAMS[damage]
    path = _write(tmp_path, good, make)
    code, _, err = run([*COMMANDS[command], str(path)], capsys)
    assert_one_line_error(code, err, codes=(ExitCode.ERROR, ExitCode.USAGE), names=words)
    assert "baseline" in err or "uvicorn" in err  # it says which trial


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("where", "words"),
    [
        pytest.param("missing", ("missing.jsonl", "No such file"), id="missing"),
        pytest.param("directory", ("directory",), id="directory"),
        pytest.param("unreadable-parent", ("missing-dir",), id="in-a-missing-directory"),
    ],
)
def test_results_path_that_is_not_a_file(command: str, where: str, words: tuple[str, ...], tmp_path: Path,
                                         capsys: Cap) -> None:
    path = {"missing": tmp_path / "missing.jsonl", "directory": tmp_path,
            "unreadable-parent": tmp_path / "missing-dir" / "r.jsonl"}[where]
    code, _, err = run([*COMMANDS[command], str(path)], capsys)
    assert_one_line_error(code, err, codes=(ExitCode.ERROR, ExitCode.USAGE), names=words)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_truncated_last_line_works_with_a_warning(command: str, good: Path, tmp_path: Path,
                                                  capsys: Cap) -> None:
    """A run killed while writing its last trial: the rest is used, and the user is told."""
    lines = good.read_text().splitlines(keepends=True)
    path = tmp_path / "killed.jsonl"
    path.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    code, out, err = run([*COMMANDS[command], str(path)], capsys)
    assert "Traceback" not in err
    assert code in (ExitCode.OK, ExitCode.GATE_FAILED, ExitCode.INCONCLUSIVE, ExitCode.INVALID_MEASUREMENT)
    assert f"line {len(lines)} is incomplete" in err
    assert err.lower().startswith("warning: ")
    assert out.strip()


def test_header_only_results_are_reported_and_refused_by_check(good: Path, tmp_path: Path,
                                                               capsys: Cap) -> None:
    path = tmp_path / "header-only.jsonl"
    path.write_text(good.read_text().splitlines(keepends=True)[0])
    code, _, err = run([*COMMANDS["check"], str(path)], capsys)
    assert_one_line_error(code, err, codes=(ExitCode.ERROR, ExitCode.USAGE), names=("no trials",))
    code, _, err = run([*COMMANDS["compare"], str(path)], capsys)
    assert "Traceback" not in err
    assert code in (ExitCode.USAGE, ExitCode.ERROR, ExitCode.INVALID_MEASUREMENT), err


def test_run_with_a_missing_scenario_names_it(tmp_path: Path, capsys: Cap) -> None:
    code, _, err = run(["run", str(tmp_path / "nope.toml"), "--dry-run"], capsys)
    assert "Traceback" not in err
    assert code == ExitCode.USAGE
    assert err.startswith("Error: ") and "nope.toml" in err.splitlines()[0]
