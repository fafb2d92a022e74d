"""One escaping function per medium, for every string that travels from a user into an output.

Scenario names and descriptions, endpoint paths, header values, model names, trial ids, failure reasons
and server logs all come from files a user (or an attacker who edits them) controls. Each medium below
has one function; every renderer of that medium calls it on every such string, and the fuzz tests
(tests/unit/test_safe_escape.py) check the result with the medium's own parser.

    terminal(text)       a terminal (click.echo, rich): control characters, ANSI escape sequences and
                         bidirectional overrides made visible as \\x1b, \\u202e ... ; newlines kept only
                         when `multiline`
    rich_markup(text)    the same, for interpolation into a rich markup string (kept for callers that build
                         markup; rich_text is the safer way)
    rich_text(text)      the same as a rich Text, which rich never reads as markup (so "a[/]b" or
                         "?sort[desc]=1" is printed, never taken for a closing tag or a style)
    markdown(text)       GitHub-flavoured markdown inline text (check/compare --markdown, report --format md):
                         inline punctuation backslash-escaped, & < > as entities, newlines as spaces,
                         control characters visible; nothing can open a link, an image, a heading, a
                         table cell or raw HTML
    markdown_code(text)  the same inside <code>, with | as an entity so a table cell is never split
    markdown_table_code(text)  a backtick code span for a GFM table cell (fence longer than any run inside)
    xml(text)            XML 1.0 character data and attribute values (JUnit): characters XML cannot carry
                         at all (C0 controls but tab/newline/CR, U+FFFE/U+FFFF, lone surrogates) made
                         visible; ElementTree then escapes & < > and quotes
    chart_label(text)    matplotlib text (titles, legends, ticks): control characters visible and a leading
                         "_" kept visible in legends (matplotlib hides such labels); mathtext is switched off
                         for the whole figure by the chart module (rcParams["text.parse_math"] = False), so
                         "$x$" stays two dollar signs
    csv_cell(value)      a CSV cell: a string a spreadsheet would run as a formula (starting with = + - @,
                         tab or CR) gets a leading apostrophe (OWASP "CSV injection"); a CR becomes a line
                         feed (which the writer quotes); numbers untouched

HTML needs no function here: jinja2's autoescape escapes every value (report/html.py).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

__all__ = [
    "chart_label",
    "csv_cell",
    "markdown",
    "markdown_code",
    "markdown_table_code",
    "rich_markup",
    "rich_text",
    "terminal",
    "xml",
]

# C0 and C1 controls, DEL, and the Unicode bidirectional overrides and isolates ("Trojan Source") and the
# line/paragraph separators, which terminals and editors act on rather than show.
_TERMINAL_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_TERMINAL_UNSAFE_LINE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# What can open structure inside a line: emphasis, code, links and images, tables, strikethrough, headings
# and GitHub's math ($...$); ( ) only matter after an escaped [ and so need nothing. At the start of the text,
# a list marker or a numbered-list marker (the text may follow "- " in a list).
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#!$])")
_MD_LEADING = re.compile(r"^(\d+(?=[.)])|)([-+=.)])")
_MD_LINEBREAK = re.compile(r"\r\n|[\r\n\u2028\u2029]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _visible(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    if char == "\t":
        return " "
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: str, *, multiline: bool = False) -> str:
    """`text` safe to print on a terminal: no control character, escape sequence or bidi override acts.

    Each one is shown as its escape (\\x1b, \\u202e), so a hostile value is visible, not hidden; a tab
    becomes a space. With `multiline`, newlines are kept (multi-line messages); otherwise they too are
    shown as \\x0a.
    """
    pattern = _TERMINAL_UNSAFE if multiline else _TERMINAL_UNSAFE_LINE
    return pattern.sub(_visible, text)


def rich_text(text: str, style: str = "") -> Text:
    """`text` made terminal-safe (one line) as a rich Text, which rich prints as it is, never as markup.

    Build lines with `Text.assemble(("failed", "red"), " ", rich_text(reason))` rather than interpolating
    into a markup string: rich's own markup escape misreads backslashes before brackets.
    """
    from rich.text import Text

    return Text(terminal(text), style=style)


_RICH_BRACKET = re.compile(r"(\\*)\[")
_RICH_TAG_LIKE = re.compile(r"\[[a-z#/@][^[]*?]")


def rich_markup(text: str) -> str:
    """`text` made terminal-safe (one line) for interpolation into a rich markup string *followed by a tag*.

    Prefer rich_text. rich.markup.escape loses a backslash before a bracket that does not look like a
    tag (rich unescapes every "\\[" in plain text); this escapes each "[" by what follows it: a tag-like
    one gets an odd run of backslashes (literal backslashes plus an escaped bracket), any other one a
    backslash more than it had. Trailing backslashes are doubled, as rich.markup.escape does.
    """

    def one(match: re.Match[str]) -> str:
        run = match.group(1)
        if _RICH_TAG_LIKE.match(match.string, match.end() - 1):
            return run * 2 + "\\["
        return run + "\\[" if run else "["

    escaped = _RICH_BRACKET.sub(one, terminal(text))
    trailing = len(escaped) - len(escaped.rstrip("\\"))
    return escaped + "\\" * trailing


def markdown(text: str) -> str:
    """`text` as inert GitHub-flavoured markdown inline text, on one line."""
    # Outer blanks go: a line break made a space, or four leading spaces, could start a list or code block.
    text = _TERMINAL_UNSAFE_LINE.sub(_visible, _MD_LINEBREAK.sub(" ", text)).strip()
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _MD_LEADING.sub(r"\1\\\2", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown_code(text: str) -> str:
    """`text` as inline code that survives backticks and, inside a table, pipes."""
    return "<code>" + markdown(text).replace("\\|", "&#124;") + "</code>"


def markdown_table_code(text: str) -> str:
    """`text` as a backtick code span inside a GFM table cell (nothing in a code span is markup).

    The fence is one backtick longer than the longest run inside, padded with a space when the text
    starts or ends with one; a pipe becomes \\| (GFM splits cells before it parses code spans).
    """
    text = _TERMINAL_UNSAFE_LINE.sub(_visible, _MD_LINEBREAK.sub(" ", text)).replace("|", "\\|")
    if not text.strip():
        return ""  # an empty code span would show its backticks
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text[:1] in ("`", " ") or text[-1:] in ("`", " ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def xml(text: str) -> str:
    """`text` with every character XML 1.0 cannot carry shown as its escape (the serializer does the rest)."""
    return _XML_UNSAFE.sub(_visible, text)


def chart_label(text: str) -> str:
    """`text` for a matplotlib title, legend entry or tick label (mathtext is off; see the module doc)."""
    text = _TERMINAL_UNSAFE_LINE.sub(_visible, text)
    return " " + text if text.startswith("_") else text


def csv_cell(value: Any) -> Any:
    """A cell value that no spreadsheet runs as a formula; anything but a string is returned as it is."""
    if not isinstance(value, str):
        return value
    # A bare CR is not quoted by a writer whose line end is "\n", and then splits the row for every reader.
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "'" + value if value.startswith(_FORMULA_START) else value
