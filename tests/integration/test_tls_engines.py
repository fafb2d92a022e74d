"""TLS and HTTP/2 on the client side: native TLS counts equal the server's, httpx records the negotiated
protocol, and a certificate that does not verify is one clear error unless --insecure."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers_for_tests import test_server

from loadbench.cli import main
from loadbench.engine import run_backend
from loadbench.errors import EngineError
from loadbench.servers.certs import TlsFiles, make_certificate
from loadbench.types import Closed, DriveOptions, Open, RequestSpec, Target

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

GET = [RequestSpec(path="/")]
needs_h2 = pytest.mark.skipif(importlib.util.find_spec("h2") is None, reason="h2 not installed ([http2])")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def _tls(files: TlsFiles) -> tuple[str, str, str]:
    return str(files.ca), str(files.cert), str(files.key)


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(argv)
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


@pytest.mark.parametrize("backend", ["native", "httpx"])
def test_tls_requests_recorded_are_requests_the_server_saw(backend: str, certs: TlsFiles) -> None:
    with test_server("ok", tls=_tls(certs)) as srv:
        options = DriveOptions(duration_s=1.0, cacert=str(certs.ca))
        target = Target(scheme="https", port=srv.port)
        result = run_backend(backend, target, GET, Closed(connections=4), options)
        rec = result.only()
        assert rec.error_count == 0 and rec.requests > 50
        assert srv.count() == rec.requests  # no hidden retries, nothing lost, over TLS too
    assert rec.status == {200: rec.requests}
    assert result.extras["tls"] is True
    if backend == "native":  # every connection's TCP connect and TLS handshake, each in its own histogram
        assert result.extras["connections_measured"] >= 4
        assert result.extras["connect_ms"]["p50"] > 0
        assert rec.tls is not None and rec.connect is not None
        assert rec.tls.count == rec.connect.count == result.extras["connections_measured"]
        record = rec.to_record()
        assert record["tls_ms"]["p50"] > 0 and record["tls_histogram"]
    else:
        assert result.extras["http_version"] == "HTTP/1.1"


def test_native_tls_handshake_is_timed_apart_from_the_tcp_connect(certs: TlsFiles) -> None:
    # The server holds each handshake 300 ms; the kernel completes the TCP connect without it. So the
    # 300 ms land in the TLS histogram and not in connect, each recorded once for the one connection.
    with test_server("ok", tls=_tls(certs), handshake_delay_ms=300) as srv:
        options = DriveOptions(duration_s=0.3, warmup_s=0.0, cacert=str(certs.ca))
        rec = run_backend("native", Target(scheme="https", port=srv.port), GET, Closed(connections=1),
                          options).only()  # fmt: skip
    assert rec.connect is not None and rec.tls is not None
    assert rec.connect.count == rec.tls.count == 1
    assert rec.tls.max_ns >= 300e6 > rec.connect.max_ns
    with test_server("ok") as srv:  # plain HTTP: no TLS histogram at all, and no tls_ms key in the record
        rec = run_backend("native", Target(port=srv.port), GET, Closed(connections=1),
                          DriveOptions(duration_s=0.2, warmup_s=0.0)).only()  # fmt: skip
    assert rec.tls is None and "tls_ms" not in rec.to_record()


def test_native_tls_open_loop_counts_match(certs: TlsFiles) -> None:
    with test_server("ok", tls=_tls(certs)) as srv:
        options = DriveOptions(duration_s=1.0, cacert=str(certs.ca))
        rec = run_backend("native", Target(scheme="https", port=srv.port), GET, Open(rate_per_s=300.0),
                          options).only()  # fmt: skip
        assert srv.count() == rec.requests
    assert rec.requests == pytest.approx(300, abs=5) and rec.error_count == 0


@pytest.mark.parametrize("backend", ["native", "httpx"])
def test_an_unverifiable_certificate_is_one_clear_error(backend: str, certs: TlsFiles) -> None:
    with test_server("ok", tls=_tls(certs)) as srv:
        with pytest.raises(EngineError) as failed:
            run_backend(backend, Target(scheme="https", port=srv.port), GET, Closed(connections=1),
                        DriveOptions(duration_s=0.5))  # fmt: skip
        message = str(failed.value)
        assert "\n" not in message and "does not verify" in message
        assert "--cacert" in message and "--insecure" in message
        assert srv.count() == 0  # no load was sent
        insecure = run_backend(backend, Target(scheme="https", port=srv.port), GET, Closed(connections=1),
                               DriveOptions(duration_s=0.5, insecure=True)).only()  # fmt: skip
        assert insecure.requests > 0 and insecure.error_count == 0


def test_bench_unverifiable_certificate_exits_1_with_one_line(
    certs: TlsFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    with test_server("ok", tls=_tls(certs)) as srv:
        code, out, err = run_main(["bench", f"{srv.url}/", "-c", "1", "-d", "0.5s"], capsys)
    assert code == 1 and out == ""
    assert err.startswith("Error: TLS: the certificate of") and err.count("\n") == 1


def test_http2_flags_need_the_httpx_engine(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["bench", "https://127.0.0.1:9/", "--http2"], capsys)
    assert code == 2 and "--engine httpx" in err
    code, _, err = run_main(["bench", "https://127.0.0.1:9/", "--engine", "httpx", "--streams", "4"], capsys)
    assert code == 2 and "needs HTTP/2" in err


@pytest.fixture(scope="module")
def hypercorn_tls(certs: TlsFiles) -> Iterator[int]:
    """The bundled ASGI app under hypercorn with TLS (HTTP/2 by ALPN), through loadbench's own model."""
    from loadbench.servers.base import AppSpec, ServerOptions
    from loadbench.servers.registry import get_model

    model = get_model("hypercorn")
    if model.available() is not None:
        pytest.skip(str(model.available()))
    with model.start(AppSpec(), ServerOptions(tls=True)) as server:
        yield server


@needs_h2
@pytest.mark.parametrize("streams", [1, 8])
def test_tls_http2_request_is_recorded_as_http2(
    hypercorn_tls: object, streams: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = hypercorn_tls
    out_file = tmp_path / "r.json"
    code, out, _ = run_main(
        ["bench", f"{server.url}/plaintext", "--engine", "httpx", "--http2", "--streams", str(streams),  # type: ignore[attr-defined]
         "-c", "2", "-d", "1s", "--cacert", str(server.tls.ca), "--json", str(out_file)], capsys,  # type: ignore[attr-defined]
    )  # fmt: skip
    assert code == 0, out
    record = json.loads(out_file.read_text())
    assert record["backend"] == "httpx" and record["requests"] > 20
    assert record["backend_extras"]["http_version"] == "HTTP/2"
    assert record["backend_extras"]["tls_alpn"] == "h2"
    assert record["backend_extras"]["streams"] == streams
    assert record["status"] == {"200": record["requests"]}
    assert "protocol   HTTP/2 negotiated" in out and "requests per client CPU-second" in out
