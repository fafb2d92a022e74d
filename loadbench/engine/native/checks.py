"""Response checks (`--expect-status`, `--expect-body`, `--expect-body-re`, a scenario endpoint's
`expect_status` / `expect_body`): a connection class that checks, used only when a check is asked for.

A run without checks uses engine/aio.py's Conn, whose hot path knows nothing of checks, so checking
costs nothing when unused. With checks, CheckedConn keeps the raw bytes of the response in flight (the
first MAX_CHECKED_BYTES of it; a response that arrives whole in one read is kept by reference, no copy)
and judges it when Conn frames it complete. A rejected response is recorded with the pseudo-status
CHECK_FAILED_STATUS, which the recorder's fold drops from latency, status counts and requests, and is
counted as a `check_failed` error with its reason; the connection stays open (the response was valid
HTTP). Only responses that passed are left in the run's response cache, and only 2xx ones, so the hot
path's byte-for-byte shortcut never skips a check and never has to count a non-2xx as ok; when the
endpoints of a mix carry different checks the cache is off (equal bytes could pass one and fail another).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from loadbench.engine.native.aio import Conn
from loadbench.engine.native.recorder import CHECK_FAILED_STATUS
from loadbench.types import ErrorClass, ResponseCheck

MAX_CHECKED_BYTES = 1 << 20  # a response's bytes kept for its body check (the rest is not checked)
_SNIPPET = 40


@dataclass(frozen=True, slots=True)
class CompiledCheck:
    """A ResponseCheck ready to apply: the accepted statuses as a set, the regular expression compiled."""

    statuses: frozenset[int]
    body: bytes
    regex: re.Pattern[bytes] | None
    status_text: str

    @classmethod
    def of(cls, check: ResponseCheck) -> CompiledCheck:
        return cls(statuses=frozenset(check.status), body=check.body,
                   regex=re.compile(check.body_re.encode()) if check.body_re else None,
                   status_text=status_list_text(check.status))  # fmt: skip

    @property
    def needs_body(self) -> bool:
        return bool(self.body) or self.regex is not None

    def problem(self, status: int, raw: bytes) -> str | None:
        """Why the response (its status, its raw bytes) fails the check, or None when it passes."""
        if self.statuses and status not in self.statuses:
            return f"status {status}, expected {self.status_text}"
        if self.needs_body:
            body = response_body(raw)
            if self.body and self.body not in body:
                return f"body does not contain {_show(self.body)} (starts {_show(body)})"
            if self.regex is not None and self.regex.search(body) is None:
                pattern = self.regex.pattern.decode(errors="replace")
                return f"body does not match /{pattern}/ (starts {_show(body)})"
        return None


def status_list_text(codes: tuple[int, ...]) -> str:
    """200,204 and whole classes folded back: (200, ..., 299, 301) → "2xx,301"."""
    wanted = set(codes)
    parts: list[str] = []
    for hundred in range(1, 6):
        block = set(range(hundred * 100, hundred * 100 + 100))
        if block <= wanted:
            parts.append(f"{hundred}xx")
            wanted -= block
    parts.extend(str(c) for c in sorted(wanted))
    return ",".join(parts) or "any"


def _show(text: bytes) -> str:
    return repr(text[:_SNIPPET].decode("utf-8", errors="replace")) + ("…" if len(text) > _SNIPPET else "")


def response_body(raw: bytes) -> bytes:
    """The body of the final response in `raw` (after any 1xx interim heads), de-chunked when chunked;
    best effort on a truncated response (what arrived is what is checked)."""
    pos = 0
    while True:
        end = raw.find(b"\r\n\r\n", pos)
        if end < 0:
            return b""
        if raw[pos + 9 : pos + 10] != b"1":
            break
        pos = end + 4
    head = raw[pos:end].lower()
    body = raw[end + 4 :]
    i = head.find(b"\r\ntransfer-encoding:")
    j = head.find(b"\r\n", i + 2)
    if i >= 0 and b"chunked" in head[i : j if j > 0 else len(head)]:
        return dechunk(body)
    return body


def dechunk(body: bytes) -> bytes:
    """The data of a chunked body (stops at the last chunk, or where the bytes end or stop making sense)."""
    out: list[bytes] = []
    pos = 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            break
        try:
            size = int(body[pos:eol].split(b";", 1)[0].strip() or b"x", 16)
        except ValueError:
            break
        if size == 0:
            break
        out.append(body[eol + 2 : eol + 2 + size])
        pos = eol + 2 + size + 2
    return b"".join(out)


class CheckedConn(Conn):
    """Conn that judges each complete response by its request's check; see the module docstring."""

    __slots__ = ("resp",)

    def __init__(self, run: object, sched: int = 0) -> None:
        super().__init__(run, sched)  # type: ignore[arg-type]
        self.resp = b""  # raw bytes of the response in flight, up to MAX_CHECKED_BYTES

    def data_received(self, data: bytes) -> None:
        resp = self.resp
        if not resp:
            self.resp = data
        elif len(resp) < MAX_CHECKED_BYTES:
            self.resp = resp + data[: MAX_CHECKED_BYTES - len(resp)]
        super().data_received(data)
        if self.clean:  # between responses: the shortcut completed a known (passing) one, or _complete ran
            self.resp = b""

    def _complete(self, t: int, status: int, close: bool) -> None:
        run = self.run
        check = run.checks[self.index]
        raw, self.resp = self.resp, b""
        if check is not None:
            problem = check.problem(status, raw)
            if problem is not None or not 200 <= status < 300:
                run.forget(raw)  # the shortcut may only ever skip a passing 2xx response
            if problem is not None:
                run.rec.error(ErrorClass.CHECK_FAILED, problem)
                self.fb = 0  # no TTFB pair: the response leaves every figure
                status = CHECK_FAILED_STATUS
            elif not 200 <= status < 300 and run.rec.measuring:
                run.rec.expected_non_2xx += 1
        super()._complete(t, status, close)
