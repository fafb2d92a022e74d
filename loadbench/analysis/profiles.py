"""Read a server's sampled profile: fold the framework's frames, rank functions, and say what stands out.

Frames are py-spy's "function (path)"; a frame's package is the first part of its path ("gunicorn" in
gunicorn/workers/sync.py, "socket" in socket.py, "runpy" in <frozen runpy>). Each frame is one of:

- app: the code being served (anything that is neither of the two below), which the report lets stand out;
- framework: the server and its machinery (FRAMEWORK_PACKAGES);
- stdlib: Python's standard library (sys.stdlib_module_names);
- process: the "[main process]" / "[child process]" roots of a multi-process server.

Folding: within a stack, every run of consecutive framework or stdlib frames of one package keeps only its
innermost frame, the one that called out of the package or burnt the CPU itself. Twenty frames of gunicorn
plumbing become `close_graceful (gunicorn/util.py)`, and app frames are never folded. Own time counts the
samples whose (folded) leaf is the function; total time those whose stack holds it anywhere (once a
stack). Percentages are of every sample taken, the dropped ones included. Pure functions; no pandas.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from loadbench.analysis.format import num
from loadbench.results.profiles import ELIDED_FRAME, ProfileRecord, split_stack

__all__ = [
    "FRAMEWORK_PACKAGES",
    "TOP_FUNCTIONS",
    "FunctionShare",
    "ProfileView",
    "fold_frames",
    "frame_category",
    "profile_finding",
    "view_profile",
]

TOP_FUNCTIONS = 15
FRAMEWORK_PACKAGES = frozenset({
    "gunicorn", "waitress", "uvicorn", "uvloop", "httptools", "h11", "h2", "hypercorn", "gevent", "greenlet",
    "eventlet", "click", "starlette", "anyio", "sniffio", "werkzeug", "meinheld", "bjoern", "daphne",
    "twisted", "tornado", "aiohttp", "hupper", "watchfiles", "setproctitle",
})  # fmt: skip
_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*)\)$")
#: What a hot function of the server's own plumbing spends its time on, by words in its name.
_GLOSSES = (
    (("close", "shutdown"), "closing connections"),
    (("accept",), "accepting connections"),
    (("select", "poll", "epoll", "wait"), "waiting for events"),
    (("recv", "read", "parse"), "reading and parsing requests"),
    (("send", "write", "flush"), "writing responses"),
    (("log", "emit", "format"), "logging"),
    (("lock", "acquire", "notify", "put", "get"), "handing requests between threads"),
)


def frame_parts(frame: str) -> tuple[str, str, str]:
    """(function, path, package) of a frame; a frame without a "(path)" has path and package ""."""
    match = _FRAME.match(frame)
    if match is None:
        return frame, "", ""
    path = match["path"]
    if path.startswith("<frozen ") and path.endswith(">"):
        path = path[len("<frozen "):-1]
    first = re.split(r"[/\\]", path, maxsplit=1)[0]
    package = first.removesuffix(".py").split(".")[0]
    return match["function"], match["path"], package


def frame_category(frame: str) -> str:
    """"process", "framework", "stdlib" or "app" (see the module docstring)."""
    if frame.startswith("[") and frame.endswith("]"):
        return "process"
    _, _, package = frame_parts(frame)
    if package in FRAMEWORK_PACKAGES:
        return "framework"
    if package in sys.stdlib_module_names or package in ("runpy", "importlib", "_bootstrap"):
        return "stdlib"
    return "app"


def fold_frames(frames: Sequence[str]) -> list[str]:
    """Fold each run of framework/stdlib frames of one package into its innermost frame."""
    folded: list[str] = []
    run_key: str | None = None
    for frame in frames:
        category = frame_category(frame)
        key = None if category in ("app", "process") else f"{category}:{frame_parts(frame)[2]}"
        if key is not None and key == run_key:
            folded[-1] = frame
        else:
            folded.append(frame)
        run_key = key
    return folded


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionShare:
    """One function in a profile: its own and total samples and their share of all samples (0-1)."""

    frame: str
    function: str
    path: str
    category: str
    own: int
    total: int
    own_share: float
    total_share: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileView:
    """One profile record, read for people: folded stacks (for the flame graph) and ranked functions.

    `app_share`: the share of samples with an app frame in the stack; `top_own`/`top_total`: the
    TOP_FUNCTIONS functions by own and by total time (process roots left out).
    """

    record: ProfileRecord
    stacks: tuple[tuple[tuple[str, ...], int], ...]
    top_own: tuple[FunctionShare, ...]
    top_total: tuple[FunctionShare, ...]
    app_share: float

    @property
    def model(self) -> str:
        return self.record.model

    @property
    def profiled(self) -> bool:
        return self.record.profiled

    @property
    def samples(self) -> int:
        return self.record.samples

    def caption(self) -> str:
        """One line: how the profile was taken and what it cost."""
        r = self.record
        rate = r.sampler.get("rate_hz", "?")
        parts = [f"{num(r.samples)} samples at {rate} Hz over {r.duration_s:.1f} s",
                 f"{r.processes} process{'es' if r.processes != 1 else ''}"]
        if r.rps is not None:
            parts.append(f"{num(r.rps)} req/s while profiled (not a measurement)")
        if r.sampler_cpu_pct is not None:
            parts.append(f"py-spy used {r.sampler_cpu_pct:.1f} % of a client core")
        if r.dropped_samples:
            parts.append(f"{num(r.dropped_samples)} samples in rare stacks left out of the record")
        return "; ".join(parts)


def _rank(
    counts: dict[str, int], other: dict[str, int], samples: int, own_first: bool
) -> list[FunctionShare]:
    keys = sorted(counts, key=lambda f: (-counts[f], -other.get(f, 0), f))[:TOP_FUNCTIONS]
    shares = []
    for frame in keys:
        own = counts[frame] if own_first else other.get(frame, 0)
        total = other.get(frame, 0) if own_first else counts[frame]
        function, path, _ = frame_parts(frame)
        shares.append(FunctionShare(frame=frame, function=function, path=path, category=frame_category(frame),
                                    own=own, total=total, own_share=own / samples if samples else 0.0,
                                    total_share=total / samples if samples else 0.0))  # fmt: skip
    return shares


def view_profile(record: ProfileRecord) -> ProfileView:
    """Fold and rank one profile record (a record that is not profiled gives an empty view)."""
    stacks: dict[tuple[str, ...], int] = {}
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    with_app = 0
    for stack, count in record.stack_counts():
        frames = tuple(fold_frames(split_stack(stack)))
        stacks[frames] = stacks.get(frames, 0) + count
        named = [f for f in frames if frame_category(f) != "process" and f != ELIDED_FRAME]
        if named:
            own[named[-1]] = own.get(named[-1], 0) + count
        for frame in set(named):
            total[frame] = total.get(frame, 0) + count
        if any(frame_category(f) == "app" for f in named):
            with_app += count
    samples = record.samples
    ordered = tuple(sorted(stacks.items(), key=lambda item: (-item[1], item[0])))
    return ProfileView(
        record=record, stacks=ordered, top_own=tuple(_rank(own, total, samples, own_first=True)),
        top_total=tuple(_rank(total, own, samples, own_first=False)),
        app_share=with_app / samples if samples else 0.0,
    )


_EVENT_LOOP_FRAMES = frozenset({"Runner.run", "run_until_complete", "BaseEventLoop.run_until_complete",
                                 "run_forever", "BaseEventLoop.run_forever", "asyncio_run", "run"})


def _gloss(function: str) -> str:
    if function in _EVENT_LOOP_FRAMES:
        return ("the event loop's own work: with uvloop that is C code (socket I/O, callbacks), which py-spy "
                "without --native counts here")
    name = function.rsplit(".", 1)[-1].lower()
    for words, gloss in _GLOSSES:
        if any(word in name for word in words):
            return gloss
    return "its own code"


def _pct(share: float) -> str:
    return f"{100 * share:.0f} %"


def profile_finding(views: Iterable[ProfileView], *, min_share: float = 0.2) -> str | None:
    """A sentence on what the profiles explain, or None when they say nothing the numbers did not.

    For each profiled model, the hottest function outside the app (own time) when it takes at least
    `min_share` of the samples, with what such a function does; and the share of samples in the app's
    code, when the models differ in it by 15 points or more.
    """
    profiled = [v for v in views if v.profiled and v.samples]
    parts: list[str] = []
    for view in profiled:
        hottest = next((f for f in view.top_own if f.category != "app"), None)
        if hottest is not None and hottest.own_share >= min_share:
            parts.append(
                f"{_pct(hottest.own_share)} of {view.model}'s samples are in {hottest.function} "
                f"({hottest.path}: {_gloss(hottest.function)})"
            )
    shares = sorted(profiled, key=lambda v: v.app_share)
    if len(shares) >= 2 and shares[-1].app_share - shares[0].app_share >= 0.15:
        parts.append(
            f"{_pct(shares[-1].app_share)} of {shares[-1].model}'s samples are in the app's code against "
            f"{_pct(shares[0].app_share)} of {shares[0].model}'s"
        )
    if not parts:
        return None
    load = profiled[0].record.load_label
    return f"The profiles at {load} show why: " + "; ".join(parts) + "."
