"""HTTP/1.1 framing: request encoding, response heads, chunked bodies, the weighted mix."""

from __future__ import annotations

from collections import Counter

import pytest

from loadbench.engine.base import RequestSpec, Target
from loadbench.engine.http1 import (
    BODY_CHUNKED,
    BODY_UNTIL_CLOSE,
    ProtocolError,
    chunked_end,
    encode_request,
    mix_sequence,
    parse_head,
)
from loadbench.errors import UsageError

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
    assert chunked_end(body, 0)[1] == end == len(body)


def test_chunked_resumes_where_it_stopped_at_every_split() -> None:
    body = b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
    for cut in range(len(body)):
        pos, end = chunked_end(body[:cut], 0)
        assert end == -1 and 0 <= pos <= cut
        assert chunked_end(body, pos)[1] == len(body)


@pytest.mark.parametrize("body", [b"zz\r\nhello\r\n", b"5\r\nhelloXX0\r\n\r\n", b"-5\r\nhello\r\n"])
def test_chunked_garbage_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        chunked_end(body, 0)


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
