"""Report formats by the names users type (loadbench.plugins.REPORT_FORMATS), imported only when asked for.

Every format is one object satisfying `Renderer`, defined in the format's own module; a new format is
one new module and one line in loadbench.plugins. Listing names (click choices, help) imports nothing;
get_renderer() imports the one module a name points to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from loadbench.errors import UsageError
from loadbench.plugins import REPORT_FORMATS, load_plugin

if TYPE_CHECKING:
    from loadbench.analysis.summary import Summary


class Renderer(Protocol):
    """One report format: its name, the file suffixes that ask for it, and the rendering itself.

    name: what users type (`--format md`). suffix: the file suffix written by default (".md").
    suffixes: every output-file suffix that asks for this format, lower case, `suffix` first (".html",
    ".htm"). render(summary): the whole report as text; it computes nothing the Summary does not hold.
    """

    @property
    def name(self) -> str: ...

    @property
    def suffix(self) -> str: ...

    @property
    def suffixes(self) -> tuple[str, ...]: ...

    def render(self, summary: Summary) -> str: ...


def format_names() -> list[str]:
    """Every known format name, in the registry's order (no import)."""
    return list(REPORT_FORMATS)


def get_renderer(name: str) -> Renderer:
    """The renderer called `name`; UsageError listing the known formats otherwise."""
    spec = REPORT_FORMATS.get(name)
    if spec is None:
        raise UsageError(f"report format {name!r} is unknown; choose one of {', '.join(REPORT_FORMATS)}")
    renderer: Renderer = load_plugin(spec)  # type: ignore[assignment]
    return renderer


def all_renderers() -> list[Renderer]:
    """Every renderer, in the registry's order."""
    return [get_renderer(name) for name in REPORT_FORMATS]
