"""HTTP/1.1 framing: request encoding, response heads, chunked bodies, the weighted mix."""

from __future__ import annotations

from collections import Counter

import pytest

from loadbench.engine.native.http1 import (
    BODY_CHUNKED,
    BODY_UNTIL_CLOSE,
    MAX_HEAD_BYTES,
    ChunkedBody,
    FastFramer,
    ProtocolError,
    check_status_start,
    encode_request,
    mix_sequence,
    parse_head,
)
from loadbench.errors import UsageError
from loadbench.types import RequestSpec, Target

TARGET = Target(host="127.0.0.1", port=8000)


def test_encode_get_adds_host_and_user_agent() -> None:
    wire = encode_request(RequestSpec(path="/plaintext"), TARGET, keepalive=True)
    assert wire == b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: loadbench/0.1\r\n\r\n"


def test_encode_post_with_body_headers_and_no_keepalive() -> None:
    headers = (("Content-Type", "application/json"), ("host", "example"))
    spec = RequestSpec(method="post", path="/items", headers=headers, body=b'{"a":1}')
    wire = encode_request(spec, TARGET, keepalive=False)
    head, body = wire.split(b"\r\n\r\n")
    assert body == b'{"a":1}'
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /items HTTP/1.1"
    assert b"host: example" in lines and b"Host: 127.0.0.1:8000" not in lines
    assert b"Content-Length: 7" in lines and b"Connection: close" in lines


@pytest.mark.parametrize(
    "spec",
    [
        RequestSpec(method="G ET"),
        RequestSpec(path="no-slash"),
        RequestSpec(path="/a b"),
        RequestSpec(headers=(("X-Bad", "a\r\nInjected: 1"),)),
        RequestSpec(headers=(("Bad Name", "v"),)),
    ],
)
def test_encode_rejects_malformed_requests(spec: RequestSpec) -> None:
    with pytest.raises(UsageError):
        encode_request(spec, TARGET, keepalive=True)


def _head(text: bytes) -> tuple[int, int, bool]:
    end = text.index(b"\r\n\r\n")
    return parse_head(text, end)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n", (200, 13, False)),
        (b"HTTP/1.1 200 OK\r\ncontent-length:  5 \r\nConnection: keep-alive\r\n\r\n", (200, 5, False)),
        (b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", (503, 0, True)),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", (200, BODY_CHUNKED, False)),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 9\r\n\r\n",
         (200, BODY_CHUNKED, False)),
        (b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", (200, BODY_UNTIL_CLOSE, True)),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", (200, 2, True)),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: Keep-Alive\r\n\r\n", (200, 2, False)),
        (b"HTTP/1.1 204 No Content\r\n\r\n", (204, 0, False)),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", (304, 0, False)),
        (b"HTTP/1.1 100 Continue\r\n\r\n", (100, 0, False)),
        (b"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", (200, 1, False)),
    ],
)  # fmt: skip
def test_parse_head(response: bytes, expected: tuple[int, int, bool]) -> None:
    assert _head(response) == expected


def test_head_requests_have_no_body() -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n"
    assert parse_head(data, data.index(b"\r\n\r\n"), head_request=True) == (200, 0, False)


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 099 Low\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    ],
)
def test_bad_heads_are_protocol_errors(response: bytes) -> None:
    with pytest.raises(ProtocolError):
        _head(response)


@pytest.mark.parametrize(
    ("body", "end"),
    [
        (b"5\r\nhello\r\n0\r\n\r\n", 15),
        (b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 32),
        (b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n", 29),
        (b"A\r\n0123456789\r\n0\r\n\r\n", 20),
    ],
)
def test_chunked_complete_bodies(body: bytes, end: int) -> None:
    assert ChunkedBody().feed(body + b"NEXT") == end == len(body)  # what follows is not read


def test_chunked_body_split_at_every_byte_and_fed_one_byte_at_a_time() -> None:
    body = b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
    for cut in range(len(body)):
        decoder = ChunkedBody()
        assert decoder.feed(body[:cut]) == -1
        assert decoder.feed(body[cut:]) == len(body) - cut
    decoder = ChunkedBody()
    assert [decoder.feed(body[i : i + 1]) for i in range(len(body))] == [-1] * (len(body) - 1) + [1]


def test_chunked_data_is_skipped_not_kept() -> None:
    decoder = ChunkedBody()
    assert decoder.feed(b"10000000000\r\n" + b"x" * 100_000) == -1  # a 1 TiB chunk: counted down
    assert decoder.left == (1 << 40) - 100_000 and decoder.pending == b""


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"zz\r\nhello\r\n", id="not-hex"),
        pytest.param(b"5\r\nhelloXX0\r\n\r\n", id="data-without-crlf"),
        pytest.param(b"-5\r\nhello\r\n", id="negative"),
        pytest.param(b"0x5\r\nhello\r\n", id="0x-prefix"),
        pytest.param(b"1_0\r\n", id="underscore"),
        pytest.param(b"\r\n", id="empty-size"),
        pytest.param(b"5\nhello\r\n", id="bare-lf"),
        pytest.param(b"1" * 2000, id="size-line-too-long"),
        pytest.param(b"0\r\n" + b"X-T: 1\r\n" * (MAX_HEAD_BYTES // 8 + 1), id="trailers-too-long"),
    ],
)
def test_chunked_garbage_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        ChunkedBody().feed(body)


@pytest.mark.parametrize("start", [b"H", b"HTTP/1.", b"HTTP/1.1 20", b"HTTP/1.0 404", b"HTTP/1.1 200 O"])
def test_a_status_line_in_progress_is_accepted(start: bytes) -> None:
    check_status_start(start)


@pytest.mark.parametrize(
    "start", [b"SSH-2.0-OpenSSH_9.6\r\n", b"HTTP/2 200", b"HTTP/1.1\r\n", b"HTTP/1.1 2x0", b"HTTP/1.1 2000"]
)
def test_a_status_line_that_cannot_become_http_fails_early(start: bytes) -> None:
    with pytest.raises(ProtocolError):
        check_status_start(start)


def test_mix_sequence_follows_weights_and_seed() -> None:
    specs = [RequestSpec(path="/a", weight=1), RequestSpec(path="/b", weight=3)]
    order = mix_sequence(specs, seed=1)
    assert Counter(order) == {0: 250, 1: 750}
    assert order == mix_sequence(specs, seed=1) != mix_sequence(specs, seed=2)
    assert mix_sequence([RequestSpec()]) == [0]
    with pytest.raises(UsageError):
        mix_sequence([RequestSpec(weight=0)])
    with pytest.raises(UsageError):
        mix_sequence([])


OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(OK_RESPONSE, 200, id="whole"),
        pytest.param(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 404, id="404"),
        pytest.param(b"HTTP/1.1 204 No Content\r\n\r\n", 204, id="204-no-body"),
        pytest.param(OK_RESPONSE.replace(b"OK\r\n", b"OK\r\nConnection: close\r\n"), -200, id="close"),
        pytest.param(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", -200, id="http-1.0"),
        pytest.param(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", 200,
                     id="http-1.0-keep-alive"),
        pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 200,
                     id="chunked"),
        pytest.param(OK_RESPONSE[:-1], 0, id="partial-body"),
        pytest.param(OK_RESPONSE[:20], 0, id="partial-head"),
        pytest.param(OK_RESPONSE + OK_RESPONSE, 0, id="two-responses"),
        pytest.param(OK_RESPONSE + b"junk", 0, id="extra-bytes"),
        pytest.param(b"HTTP/1.1 100 Continue\r\n\r\n", 0, id="interim-only"),
        pytest.param(b"HTTP/1.1 100 Continue\r\n\r\n" + OK_RESPONSE, 0, id="interim-then-final"),
        pytest.param(b"HTTP/1.1 200 OK\r\n\r\nbody until close", 0, id="until-close"),
        pytest.param(b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0, id="http-2"),
        pytest.param(b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", 0, id="bad-status"),
        pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, id="bad-chunk"),
    ],
)  # fmt: skip
def test_fast_framer_accepts_exactly_one_whole_final_response(data: bytes, expected: int) -> None:
    framer = FastFramer()
    assert framer.frame(data) == expected
    assert framer.frame(OK_RESPONSE) == 200  # whatever came before, it is ready for the next response


@pytest.mark.parametrize(
    "data",
    [OK_RESPONSE, b"HTTP/1.1 503 X\r\nContent-Length: 0\r\n\r\n",
     b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx",
     b"HTTP/1.1 200 OK\r\nconnection: Keep-Alive, Close\r\ncontent-length: 1\r\n\r\nx"],
)  # fmt: skip
def test_fast_framer_agrees_with_the_python_framing(data: bytes) -> None:
    status = FastFramer().frame(data)
    end = data.find(b"\r\n\r\n")
    py_status, length, close = parse_head(data, end)
    assert (abs(status), status < 0) == (py_status, close) and len(data) == end + 4 + length
