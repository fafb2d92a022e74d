"""Requests with templates (`{seq}`, `{random:…}`, `{csv:…}`): rendered per send, only when asked for.

A run whose requests have no template never loads this module: Run keeps its list of pre-encoded bytes
and the hot path indexes it. With a template, Run's `wire` is a TemplatedWire instead, a sequence whose
item access renders the next request (compiled once here from the grammar in scenario/templates.py; a
render joins bytes: ≈1–2 µs, measured in benchmarks/breadth.py). Requests of a mix that have no template
keep their pre-encoded bytes here too.

Repeatability: the k-th request a process sends gets sequence number k (interleaved across processes,
TemplateState) and the k-th draws of the seeded random stream. When every request of the mix is framed
and checked alike (no HEAD beside a GET, one response check for all), the k-th request is also the k-th
entry of the seeded mix order, so with equal seeds the whole sequence of requests sent repeats exactly,
whichever connection carries each one. Otherwise each connection walks the mix order from its own offset
(as without templates), because a connection must know which request it framed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, overload

from loadbench.engine.native.http1 import USER_AGENT, encode_request
from loadbench.errors import UsageError
from loadbench.scenario.templates import Template, TemplateState, compile_template
from loadbench.types import RequestSpec, Target


@dataclass(frozen=True, slots=True)
class RequestTemplate:
    """One request compiled for rendering: its head up to (not including) the blank line, its body, and
    whether a Content-Length is added per render (templated body, none given)."""

    head: Template
    body: Template | bytes
    add_length: bool


def _sample(text: str, template: Template | None) -> str:
    if template is None:
        return text
    state = TemplateState(seed=0)
    return state.render(template, 0, {}).decode("latin-1")


def compile_request(spec: RequestSpec, target: Target, *, keepalive: bool) -> RequestTemplate | None:
    """The request's template, or None when nothing in it is templated (encode it once instead)."""
    if spec.template_dir is None:
        return None
    base = spec.template_dir
    path_t = compile_template(spec.path, context="path", base_dir=base)
    header_ts = [compile_template(value, context="header", base_dir=base) for _, value in spec.headers]
    body_text: str | None
    try:
        body_text = spec.body.decode()
    except UnicodeDecodeError:
        body_text = None  # a binary body is sent as it is
    body_t = compile_template(body_text, context="body", base_dir=base) if body_text else None
    if path_t is None and body_t is None and not any(header_ts):
        return None
    # One sample render through encode_request: the same checks of method, path and headers as a plain
    # request (a CSV value cannot add a space or a line break: paths are quoted, headers were checked).
    sample = replace(spec, path=_sample(spec.path, path_t), body=b"", headers=tuple(
        (name, _sample(value, t)) for (name, value), t in zip(spec.headers, header_ts, strict=True)))
    encode_request(sample, target, keepalive=keepalive)
    names = {name.lower() for name, _ in spec.headers}
    if body_t is not None and "content-length" in names:
        raise UsageError("a templated body sets its own Content-Length per request; drop the "
                         "Content-Length header")  # fmt: skip
    parts: list[bytes | object] = [f"{spec.method.upper()} ".encode()]
    parts.extend(path_t.parts if path_t is not None else [spec.path.encode("latin-1")])
    parts.append(b" HTTP/1.1\r\n")
    if "host" not in names:
        parts.append(f"Host: {target.authority}\r\n".encode("latin-1"))
    if "user-agent" not in names:
        parts.append(f"User-Agent: {USER_AGENT}\r\n".encode())
    for (name, value), t in zip(spec.headers, header_ts, strict=True):
        parts.append(f"{name}: ".encode("latin-1"))
        parts.extend(t.parts if t is not None else [value.encode("latin-1")])
        parts.append(b"\r\n")
    fixed_body = spec.body if body_t is None else b""
    if fixed_body and "content-length" not in names and "transfer-encoding" not in names:
        parts.append(f"Content-Length: {len(fixed_body)}\r\n".encode())
    if not keepalive and "connection" not in names:
        parts.append(b"Connection: close\r\n")
    head = Template(parts=tuple(_merge(parts)))  # type: ignore[arg-type]
    add_length = body_t is not None and "transfer-encoding" not in names
    body: Template | bytes = body_t if body_t is not None else fixed_body
    return RequestTemplate(head=head, body=body, add_length=add_length)


def first_rendering(spec: RequestSpec, *, seed: int) -> RequestSpec:
    """`spec` with its templates filled in as a run's request number 0 would have them (preflight)."""
    assert spec.template_dir is not None
    state = TemplateState(seed=seed)
    rows: dict[str, int] = {}

    def fill(text: str, context: Literal["path", "header", "body"]) -> str:
        template = compile_template(text, context=context, base_dir=spec.template_dir or ".")
        if template is None:
            return text
        return state.render(template, 0, rows).decode("utf-8" if context == "body" else "latin-1")

    try:
        body = fill(spec.body.decode(), "body").encode()
    except UnicodeDecodeError:
        body = spec.body
    return replace(spec, path=fill(spec.path, "path"), body=body, template_dir=None,
                   headers=tuple((name, fill(value, "header")) for name, value in spec.headers))


def _merge(parts: list[bytes | object]) -> list[bytes | object]:
    """Adjacent literal bytes joined, so a render joins as few pieces as possible."""
    out: list[bytes | object] = []
    for part in parts:
        if isinstance(part, bytes) and out and isinstance(out[-1], bytes):
            out[-1] = out[-1] + part
        elif not (isinstance(part, bytes) and not part):
            out.append(part)
    return out


class TemplatedWire(Sequence[bytes]):
    """Run.wire for a run with templates: `wire[slot]` renders the next request (see the docstring)."""

    __slots__ = ("_by_send", "_count", "_items", "_rows", "_state")

    def __init__(self, items: list[bytes | RequestTemplate], state: TemplateState, *, by_send: bool) -> None:
        self._items = items  # per slot of the mix order
        self._state = state
        self._by_send = by_send
        self._count = 0
        self._rows: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, slot: int) -> bytes: ...
    @overload
    def __getitem__(self, slot: slice) -> Sequence[bytes]: ...
    def __getitem__(self, slot: int | slice) -> bytes | Sequence[bytes]:
        if isinstance(slot, slice):
            raise TypeError("TemplatedWire renders one request at a time")
        if self._by_send:
            slot = self._count % len(self._items)
            self._count += 1
        item = self._items[slot]
        state = self._state
        seq = state.next_seq()
        if item.__class__ is bytes:
            return item
        rows = self._rows
        rows.clear()
        head = state.render(item.head, seq, rows)  # type: ignore[union-attr]
        body = item.body  # type: ignore[union-attr]
        if body.__class__ is not bytes:
            body = state.render(body, seq, rows)  # type: ignore[arg-type]
        if item.add_length:  # type: ignore[union-attr]
            return b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body)
        return head + b"\r\n" + body


def templated_wire(requests: Sequence[RequestSpec], order: list[int], target: Target, *, keepalive: bool,
                   seed: int, shard: tuple[int, int], by_send: bool) -> TemplatedWire | None:  # fmt: skip
    """The rendering wire for `requests` in mix `order`, or None when no request has a template."""
    compiled = [compile_request(r, target, keepalive=keepalive) for r in requests]
    if not any(compiled):
        return None
    items: list[bytes | RequestTemplate] = [
        c if c is not None else encode_request(r, target, keepalive=keepalive)
        for r, c in zip(requests, compiled, strict=True)
    ]
    state = TemplateState(seed=seed, seq_start=shard[0], seq_step=shard[1])
    return TemplatedWire([items[i] for i in order], state, by_send=by_send)
