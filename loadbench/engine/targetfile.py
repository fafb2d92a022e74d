"""`bench --targets FILE`: vegeta's http target format read into one Target and its RequestSpecs.

Format (vegeta's "http" format; blocks separated by blank lines, `#` starts a comment line)::

    GET http://127.0.0.1:8000/users/{seq}
    Accept: application/json

    POST http://127.0.0.1:8000/orders
    Content-Type: application/json
    @bodies/order.json

A block is a request line (METHOD URL), header lines (Name: value) and at most one body line (@FILE,
relative to the targets file). Paths, header values and bodies are templates (scenario/templates.py:
`{seq}`, `{random:1:10000}`, `{csv:users.csv:id}`, `{csv-random:users.csv:id}`, `{{` / `}}`); CSV files
resolve from the targets file's directory too. Every URL's host passes the loopback check as its line is
read, before any lookup or socket, and all targets must share one scheme, host and port: one run drives
one server through one connection pool (run one bench per server otherwise). The targets are sent in a
seeded shuffled order with equal shares (--seed), like a --mix of equal weights.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from loadbench.engine.targets import check_target, parse_url
from loadbench.errors import UsageError
from loadbench.scenario.templates import compile_template
from loadbench.types import RequestSpec, Target

__all__ = ["parse_targets", "read_targets"]

MAX_TARGETS_BYTES = 16 * 1024 * 1024


def read_targets(path: str, *, allow_remote: bool) -> tuple[Target, list[RequestSpec]]:
    """The targets in the file at `path` (see the module docstring); UsageError names file:line."""
    try:
        raw = Path(path).read_bytes()[: MAX_TARGETS_BYTES + 1]
    except OSError as exc:
        raise UsageError(f"--targets {path}: cannot read the file ({exc.strerror})") from None
    if len(raw) > MAX_TARGETS_BYTES:
        raise UsageError(f"--targets {path}: larger than {MAX_TARGETS_BYTES // (1024 * 1024)} MiB")
    try:
        text = raw.decode()
    except UnicodeDecodeError as exc:
        raise UsageError(f"--targets {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_targets(text, name=path, base_dir=Path(path).resolve().parent, allow_remote=allow_remote)


def parse_targets(text: str, *, name: str, base_dir: Path, allow_remote: bool,
                  ) -> tuple[Target, list[RequestSpec]]:  # fmt: skip
    """Parse targets text; `name` prefixes messages (name:line: ...), `base_dir` resolves @bodies and CSVs."""
    blocks: list[list[tuple[int, str]]] = [[]]
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        if not stripped:
            if blocks[-1]:
                blocks.append([])
            continue
        blocks[-1].append((number, stripped))
    blocks = [block for block in blocks if block]
    if not blocks:
        raise UsageError(f"{name}: no targets; write one per block, like 'GET http://127.0.0.1:8000/'")
    first: Target | None = None
    first_line = 0
    specs: list[RequestSpec] = []
    for block in blocks:
        target, spec = _block(block, name, base_dir, allow_remote)
        if first is None:
            first, first_line = target, block[0][0]
        elif target != first:
            raise UsageError(
                f"{name}:{block[0][0]}: {target.base_url} is not {first.base_url} (line {first_line}); all "
                "targets must share one scheme, host and port (one run drives one server): run one bench "
                "per server"
            )
        specs.append(spec)
    assert first is not None
    return first, specs


def _block(block: list[tuple[int, str]], name: str, base_dir: Path, allow_remote: bool,
           ) -> tuple[Target, RequestSpec]:  # fmt: skip
    number, request_line = block[0]
    where = f"{name}:{number}"
    method, _, url = request_line.partition(" ")
    url = url.strip()
    if not url or not method.isascii() or not method.isalpha() or not method.isupper():
        raise UsageError(f"{where}: {request_line!r} is not 'METHOD URL'; write it like "
                         "'GET http://127.0.0.1:8000/path'")  # fmt: skip
    try:
        target, path = parse_url(url)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    check_target(target, allow_remote=allow_remote)  # before anything else is read, any lookup or socket
    templated = _template(path, "path", where, base_dir)
    headers: list[tuple[str, str]] = []
    body = b""
    for i, (number, line) in enumerate(block[1:], start=1):
        where = f"{name}:{number}"
        if line.startswith("@"):
            if i != len(block) - 1:
                raise UsageError(f"{where}: the @body line must be the block's last line")
            body_path = base_dir / line[1:].strip()
            try:
                body = body_path.read_bytes()
            except OSError as exc:
                raise UsageError(f"{where}: body {line[1:].strip()}: cannot read it ({exc.strerror}); paths "
                                 "are relative to the targets file") from None  # fmt: skip
            with contextlib.suppress(UnicodeDecodeError):  # a binary body is sent as it is
                templated |= _template(body.decode(), "body", f"{where}: {line[1:].strip()}", base_dir)
            continue
        header, sep, value = line.partition(":")
        if not sep or not header.strip() or " " in header.strip():
            raise UsageError(f"{where}: {line!r} is not a header ('Name: value') or a body ('@file')")
        headers.append((header.strip(), value.strip()))
        templated |= _template(value.strip(), "header", where, base_dir)
    spec = RequestSpec(method=method, path=path, headers=tuple(headers), body=body,
                       template_dir=str(base_dir) if templated else None)
    return target, spec


def _template(text: str, context: str, where: str, base_dir: Path) -> bool:
    """Whether `text` is a template; compiled once here to report a bad one at its line (the engine
    compiles it again in each process)."""
    try:
        return compile_template(text, context=context, base_dir=base_dir) is not None  # type: ignore[arg-type]
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
