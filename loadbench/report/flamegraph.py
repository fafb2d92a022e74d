"""A flame graph as one self-contained SVG string: no script, no external reference, every name escaped.

Layout as in Brendan Gregg's flamegraph.pl: the root at the bottom, each frame a box as wide as its share
of the samples, children on top of their parent sorted by name, so the widest towers are where the time
goes. Each box carries a <title> (browsers show it on hover, without JavaScript) with the full frame, its
samples and share. Boxes narrower than MIN_WIDTH_PX are left out (their samples still widen their
parent). Colours say what a frame is (analysis.profiles.frame_category): warm for the app's code, blue
for the server's framework, green for the standard library, grey for process roots.

Names come from results files, which anyone can write: every text goes through `xml_text`, which makes
the characters XML 1.0 forbids even escaped visible (loadbench.safe.escape.xml: C0 controls, surrogates,
U+FFFE/U+FFFF) and escapes the five XML specials, so the SVG always parses and never carries markup of
its own.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from loadbench.analysis.profiles import frame_category
from loadbench.safe.escape import xml

__all__ = ["MIN_WIDTH_PX", "flame_svg", "xml_text"]

WIDTH_PX = 1200
ROW_PX = 17
MIN_WIDTH_PX = 0.6
_CHAR_PX = 6.6  # the width of one character of the 11 px monospace label, roughly
_PAD_TOP = 24
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
_SPECIALS = re.compile("[&<>\"']")


def xml_text(text: str) -> str:
    """`text` safe inside an XML element or a quoted attribute (see the module docstring)."""
    return _SPECIALS.sub(lambda m: _ESCAPES[m.group()], xml(text))


@dataclass(slots=True)
class _Node:
    name: str
    count: int = 0
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(stacks: Iterable[tuple[Sequence[str], int]]) -> _Node:
    root = _Node("all")
    for frames, count in stacks:
        root.count += count
        node = root
        for frame in frames:
            node = node.children.setdefault(frame, _Node(frame))
            node.count += count
    return root


def _colour(frame: str) -> str:
    """A stable colour per frame within its category's hue (so one function keeps its colour)."""
    category = frame_category(frame)
    if category == "process":
        return "#c8c8c8"
    jitter = zlib.crc32(frame.encode("utf-8", "replace")) % 40
    if category == "app":
        return f"rgb({215 + jitter // 2},{110 + jitter},{40 + jitter // 2})"
    if category == "framework":
        return f"rgb({120 + jitter},{160 + jitter // 2},{215 + jitter // 4})"
    return f"rgb({130 + jitter},{200 + jitter // 2},{130 + jitter})"


def _label(frame: str, width: float) -> str:
    chars = int((width - 6) / _CHAR_PX)
    if chars < 3:
        return ""
    return frame if len(frame) <= chars else frame[: chars - 1] + "…"


def flame_svg(
    stacks: Iterable[tuple[Sequence[str], int]], *, total: int | None = None, title: str = ""
) -> str:
    """The SVG of `stacks` ((frames root first, samples) pairs); `total` (default: their sum) is the
    100 % width, so samples left out of the stacks show as empty space on the right."""
    root = _tree(stacks)
    total = max(total or 0, root.count)
    if total <= 0:
        return ""
    scale = WIDTH_PX / total
    boxes: list[tuple[int, float, float, str, int]] = []  # (depth, x, width, frame, samples)

    def walk(node: _Node, depth: int, x: float) -> None:
        for name in sorted(node.children):
            child = node.children[name]
            width = child.count * scale
            if width >= MIN_WIDTH_PX:
                boxes.append((depth, x, width, name, child.count))
                walk(child, depth + 1, x)
            x += width

    walk(root, 0, 0.0)
    depth = 1 + max((b[0] for b in boxes), default=0)
    height = _PAD_TOP + depth * ROW_PX + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flame" viewBox="0 0 {WIDTH_PX} {height}" '
        f'width="{WIDTH_PX}" height="{height}" font-family="ui-monospace, Menlo, Consolas, monospace" '
        'font-size="11" role="img">',
        f"<title>{xml_text(title or 'flame graph')}</title>",
        f'<text x="4" y="15" font-size="12" fill="#5b6475">{xml_text(title)}</text>',
    ]
    for level, x, width, frame, count in boxes:
        y = height - 4 - (level + 1) * ROW_PX
        tip = f"{frame}: {count:,} samples, {100 * count / total:.1f} %"
        label = _label(frame, width)
        parts.append(
            f'<g><title>{xml_text(tip)}</title><rect x="{x:.2f}" y="{y}" width="{max(width - 0.4, 0.2):.2f}" '
            f'height="{ROW_PX - 1}" rx="2" fill="{_colour(frame)}"/>'
            + (f'<text x="{x + 3:.2f}" y="{y + 12}">{xml_text(label)}</text>' if label else "")
            + "</g>"
        )
    parts.append("</svg>")
    return "".join(parts)
