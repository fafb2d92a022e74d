"""A response check from its user-facing spellings: `bench --expect-*` and `loadbench.bench(expect_*=)`."""

from __future__ import annotations

import re

from loadbench.errors import UsageError
from loadbench.types import ResponseCheck
from loadbench.units import parse_statuses

CLI_NAMES = ("--expect-status", "--expect-body", "--expect-body-re")


def response_check(
    status: str | None, body: str | None, body_re: str | None, *, names: tuple[str, str, str] = CLI_NAMES
) -> ResponseCheck | None:
    """The check of a status list ("200,204", "2xx"), a text every body must contain and a regular
    expression every body must match; None when none is asked. `names` spell the three in errors."""
    if status is None and body is None and body_re is None:
        return None
    if body == "":
        raise UsageError(f"{names[1]} '': give the text every body must contain")
    if body_re is not None:
        try:
            re.compile(body_re.encode())
        except re.error as exc:
            raise UsageError(f"{names[2]} {body_re!r}: not a regular expression ({exc})") from None
    return ResponseCheck(status=parse_statuses(status, what=names[0]) if status is not None else (),
                         body=(body or "").encode(), body_re=body_re or "")  # fmt: skip
