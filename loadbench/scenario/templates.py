"""Request templates: values that change per request in paths, header values and bodies.

Grammar (a template text is a path, a header value or a body)::

    text      = *( literal | "{{" | "}}" | field )
    field     = "{seq}"                          ; 0, 1, 2, … per request sent (unique across processes)
              | "{random:" INT ":" INT "}"      ; a uniform integer in [low, high], both included
              | "{csv:" FILE ":" COLUMN "}"     ; the column's value in row seq mod rows (in order, cycling)
              | "{csv-random:" FILE ":" COLUMN "}"  ; the column's value in a random row

A text in which nothing looks like a field (`{seq`, `{random`, `{csv`, `{csv-random`) is sent exactly as
written, so a JSON body such as `{"user": "a"}` needs nothing. Any other text is read strictly: `{{` and
`}}` stand for one brace (`{{seq}}` sends `{seq}`) and any other brace is an error, so a JSON body with a
field that forgot to double its braces fails when the file is read, never on the wire. FILE is a CSV
file with a header row, relative to the targets or scenario file; COLUMN names a header. Within one
request every `{csv-random:F:…}` of the same file reads the same row (one user per request, k6 style).

Values are fixed by the seed and the request's place in the send order (TemplateState): with equal
seeds the k-th request sent carries the same values. In a path, CSV values are percent-encoded (spaces,
non-ASCII); in a header value, a CSV value with a line break or NUL is refused when the file is read.
Everything here is compiled once; rendering (engine/native/templated.py) only joins bytes.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from loadbench.errors import UsageError

__all__ = ["Context", "CsvField", "Field", "RandomField", "SeqField", "Template", "TemplateState",
           "compile_template", "has_template"]  # fmt: skip

Context = Literal["path", "header", "body"]
_FIELD_START = re.compile(r"\{(seq|random|csv|csv-random)\b")
_FORMS = "{seq}, {random:LOW:HIGH}, {csv:FILE:COLUMN} or {csv-random:FILE:COLUMN}"
_PATH_SAFE = "/:@!$&'()*+,;=-._~?%"


@dataclass(frozen=True, slots=True)
class SeqField:
    """`{seq}`: the request's sequence number."""


@dataclass(frozen=True, slots=True)
class RandomField:
    """`{random:low:high}`: a seeded uniform integer, both ends included."""

    low: int
    high: int


@dataclass(frozen=True, slots=True)
class CsvField:
    """`{csv:…}` / `{csv-random:…}`: one column of a CSV file, its values encoded for their context."""

    file: str  # as resolved (absolute); rows of one file are chosen together in a request
    column: str
    values: tuple[bytes, ...]
    random: bool


Field = SeqField | RandomField | CsvField


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template text: literal bytes and fields, in order."""

    parts: tuple[bytes | Field, ...]


def has_template(text: str) -> bool:
    """True when `text` contains something that starts a field (it is then parsed strictly)."""
    return _FIELD_START.search(text) is not None


def compile_template(text: str, *, context: Context, base_dir: str | Path) -> Template | None:
    """The compiled template of `text`, or None when it has no field (send it as written).

    Raises UsageError naming the offending part, the forms and the `{{` escape; messages carry no
    location (the caller prefixes file:line or the scenario key)."""
    if not has_template(text):
        return None
    parts: list[bytes | Field] = []
    literal: list[str] = []
    csv_cache: dict[tuple[str, str], CsvField] = {}
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "{" and text.startswith("{{", i):
            literal.append("{")
            i += 2
        elif c == "}" and text.startswith("}}", i):
            literal.append("}")
            i += 2
        elif c == "}":
            raise UsageError(f"single '}}' at character {i + 1} of {text!r}; in a text with templates write "
                             "}} for a literal brace")  # fmt: skip
        elif c == "{":
            end = text.find("}", i)
            if end < 0:
                raise UsageError(f"'{{' at character {i + 1} of {text!r} is not closed; write {{{{ for a "
                                 "literal brace")  # fmt: skip
            if literal:
                parts.append(_encode("".join(literal), context))
                literal = []
            parts.append(_field(text[i + 1 : end], context, Path(base_dir), csv_cache))
            i = end + 1
        else:
            literal.append(c)
            i += 1
    if literal:
        parts.append(_encode("".join(literal), context))
    return Template(parts=tuple(parts))


def _encode(text: str, context: Context) -> bytes:
    return text.encode("utf-8" if context == "body" else "latin-1", errors="strict")


def _field(inner: str, context: Context, base_dir: Path, cache: dict[tuple[str, str], CsvField]) -> Field:
    name, _, rest = inner.partition(":")
    if name == "seq" and not rest and ":" not in inner:
        return SeqField()
    if name == "random":
        low_text, sep, high_text = rest.partition(":")
        try:
            low, high = int(low_text), int(high_text)
        except ValueError:
            low, high = 1, 0
        if not sep or low > high:
            raise UsageError(f"{{{inner}}}: write {{random:LOW:HIGH}} with integers LOW <= HIGH, "
                             "e.g. {random:1:10000}")  # fmt: skip
        return RandomField(low, high)
    if name in ("csv", "csv-random"):
        file, sep, column = rest.rpartition(":")
        if not sep or not file or not column:
            raise UsageError(f"{{{inner}}}: write {{{name}:FILE:COLUMN}}, e.g. {{{name}:users.csv:id}}")
        key = (file, column)
        if key not in cache:
            values = _csv_column(base_dir / file, file, column, context)
            cache[key] = CsvField(str((base_dir / file).resolve()), column, values, name == "csv-random")
        field = cache[key]
        return field if field.random == (name == "csv-random") else CsvField(
            field.file, field.column, field.values, name == "csv-random")  # fmt: skip
    raise UsageError(f"{{{inner}}} is not a template; the templates are {_FORMS}; write {{{{ and }}}} for "
                     "literal braces")  # fmt: skip


def _csv_column(path: Path, shown: str, column: str, context: Context) -> tuple[bytes, ...]:
    """The column's values (rows after the header), encoded for `context`."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise UsageError(f"{shown}: cannot read the CSV file ({exc.strerror}); paths are relative to "
                         "the targets or scenario file") from None  # fmt: skip
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{shown}: not a UTF-8 CSV file ({exc})") from None
    if len(rows) < 2:
        raise UsageError(f"{shown}: needs a header row and at least one row of values")
    header = [name.strip() for name in rows[0]]
    if column not in header:
        raise UsageError(f"{shown}: no column {column!r}; its columns are {', '.join(header)}")
    at = header.index(column)
    values: list[bytes] = []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if at >= len(row):
            raise UsageError(f"{shown}:{number}: the row has {len(row)} values, no {column!r}")
        value = row[at]
        if context == "path":
            values.append(quote(value, safe=_PATH_SAFE).encode("ascii"))
        elif context == "header":
            if any(c in value for c in "\r\n\0"):
                raise UsageError(f"{shown}:{number}: {column} {value!r} has a line break; a header value "
                                 "cannot carry one")  # fmt: skip
            values.append(value.encode("latin-1", errors="replace"))
        else:
            values.append(value.encode())
    if not values:
        raise UsageError(f"{shown}: needs a header row and at least one row of values")
    return tuple(values)


class TemplateState:
    """What fixes every rendered value: the seeded random stream and the sequence numbers.

    `seq_start` and `seq_step` interleave the numbers of several engine processes (process i of n counts
    i, i + n, i + 2n, …), so `{seq}` and `{csv:…}` stay unique and in order across the whole run."""

    __slots__ = ("_random", "seq", "step")

    def __init__(self, *, seed: int, seq_start: int = 0, seq_step: int = 1) -> None:
        self._random = random.Random(seed).random
        self.seq = seq_start
        self.step = seq_step

    def render(self, template: Template, seq: int, rows: dict[str, int]) -> bytes:
        """The bytes of `template` for the request numbered `seq`; `rows` holds this request's random CSV
        rows by file (shared by all templates of one request)."""
        out: list[bytes] = []
        for part in template.parts:
            if part.__class__ is bytes:
                out.append(part)
            elif part.__class__ is SeqField:
                out.append(b"%d" % seq)
            elif part.__class__ is RandomField:
                low, high = part.low, part.high
                out.append(b"%d" % (low + int(self._random() * (high - low + 1))))
            else:
                values = part.values  # type: ignore[union-attr]
                if part.random:  # type: ignore[union-attr]
                    row = rows.get(part.file)  # type: ignore[union-attr]
                    if row is None:
                        row = rows[part.file] = int(self._random() * 1_000_000_007)  # type: ignore[union-attr]
                    out.append(values[row % len(values)])
                else:
                    out.append(values[seq % len(values)])
        return b"".join(out)

    def next_seq(self) -> int:
        seq = self.seq
        self.seq += self.step
        return seq
