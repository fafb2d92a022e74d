"""Put a workload's comparison into words: who wins, by how much, and a reason drawn from the data.

Nothing here is hard-coded per model name: the winner and loser come from the medians, the reason from
their server families (threaded, pre-fork, event-loop, ...), the workload's kind (io, cpu, static, plain,
guessed from its paths) and how each model's throughput scaled with concurrency. Pure functions; no pandas.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loadbench.analysis.claims import claim_factor, claim_sentence
from loadbench.analysis.format import ms, num, times
from loadbench.results.family import Family, parse_family

if TYPE_CHECKING:
    from loadbench.analysis.summary import Point
    from loadbench.results.claims import ClaimRecord

_KIND_BY_PREFIX = (
    ("/io", "io"),
    ("/db", "io"),
    ("/sleep", "io"),
    ("/cpu", "cpu"),
    ("/static", "static"),
    ("/plaintext", "plain"),
    ("/json", "plain"),
    ("/health", "plain"),
)


def _path_kind(path: str) -> str:
    path = path.split("?", 1)[0]
    for prefix, kind in _KIND_BY_PREFIX:
        if path == prefix or path.startswith(prefix + "/") or path.startswith(prefix + "?"):
            return kind
    if path.rsplit("/", 1)[-1].count(".") == 1:
        return "static"
    return "other"


def workload_kind(workload: str, requests_spec: Iterable[Any] = ()) -> str:
    """Return io | cpu | static | plain | mixed | other for a workload, from its request paths."""
    paths = [str(s.get("path") if isinstance(s, Mapping) else getattr(s, "path", "")) for s in requests_spec]
    kinds = {_path_kind(p) for p in paths if p} or {_path_kind(workload)}
    return kinds.pop() if len(kinds) == 1 else "mixed"


_FAMILY_CLASS: dict[Family, str] = {
    Family.THREADED: "threaded",
    Family.PRE_FORK: "pre-fork",
    Family.PRE_FORK_THREADS: "threaded",  # the threads overlap the waits, as in a threaded server
    Family.EVENT_LOOP: "event-loop",
    Family.PROCESS_PER_REQUEST: "process-per-request",
    Family.EVENT_LOOP_EXTERNAL: "native",
    Family.EXTERNAL: "native",
    Family.EXTERNAL_MPM_EVENT: "native",
    Family.EXTERNAL_MPM_WORKER: "native",
    Family.EXTERNAL_MPM_PREFORK: "native",
    Family.TOPOLOGY: "native",
    Family.PROTOCOL_HOP: "protocol-hop",
    Family.EMBEDDED: "embedded",
    Family.RUST_CORE: "rust-core",
}


def family_class(family: str) -> str:
    """Normalize a server family to: native, event-loop, threaded, pre-fork, process-per-request,
    protocol-hop, embedded, rust-core or other.

    A known Family is looked up; a family this version does not know (a results file from another
    version, or written by hand) is guessed from its words, and is "other" when none fits.
    """
    known = parse_family(family)
    if known is not None:
        return _FAMILY_CLASS[known]
    return _guess_family_class(family)


def _guess_family_class(family: str) -> str:
    text = family.lower()
    if "external" in text or "topology" in text:
        return "native"
    for needle, name in (
        ("event", "event-loop"),
        ("thread", "threaded"),
        ("process-per-request", "process-per-request"),
        ("fork", "pre-fork"),
        ("protocol-hop", "protocol-hop"),
        ("embedded", "embedded"),
        ("rust", "rust-core"),
    ):
        if needle in text:
            return name
    return "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadVerdict:
    """Who won one workload and by how much (the gate's pass/fail outcome is loadbench.gate.compare.Verdict).

    metric: "rps" (closed loop: peak median throughput, higher wins) or "p99_ms" (open loop: median p99 at
    the heaviest offered rate, lower wins). ratio: winner over runner-up (as "× better"), ratio_worst:
    winner over the worst model. significant: the intervals do not overlap; None with one repetition.
    """

    workload: str
    metric: str
    winner: str
    runner_up: str
    worst: str
    winner_value: float
    runner_up_value: float
    worst_value: float
    ratio: float
    ratio_worst: float
    significant: bool | None
    reason: str
    sentence: str


def _reason(kind: str, winner: Point, worst: Point, cpu_ratio: float) -> str:
    w, lo = family_class(winner.family), family_class(worst.family)
    if kind == "io":
        if lo == "process-per-request":
            return "starting a process per request costs more than the wait itself"
        if w == "event-loop" and lo == "pre-fork":
            return (
                "pre-fork workers block on each I/O wait, one request per process, "
                "while the event loop overlaps the waits"
            )
        if w == "event-loop" and lo == "threaded":
            return "the thread pool caps how many waits overlap, while the event loop overlaps them all"
        if w == "threaded" and lo == "pre-fork":
            return (
                "threads overlap the waits (a waiting thread releases the GIL) "
                "while each pre-fork worker blocks on one request"
            )
        return f"{winner.model} overlaps more of the waits at once"
    if kind == "cpu":
        if cpu_ratio > 1.3:
            return (
                f"the work holds the GIL, and {winner.model} kept {cpu_ratio:.1f}× as much server CPU busy "
                f"(more processes, more cores)"
            )
        return (
            "the work holds the GIL, so concurrency inside one process adds nothing "
            "and the leaner per-request path decides"
        )
    if kind == "static":
        if w == "native":
            return "a native server sends the files without running any Python"
        return f"serving files is per-request overhead plus copying, and {winner.model} spends less on both"
    if kind == "plain":
        if lo == "process-per-request":
            return "starting a Python interpreter and importing the app for every request costs far more " \
                "than the request's own work"
        if w == "rust-core":
            return "with almost no work per request the HTTP handling decides, and it runs in Rust here"
        if w == "event-loop" and lo in ("threaded", "pre-fork"):
            return (
                "with almost no work per request the per-request overhead decides, and the event loop "
                "switches no threads or processes per request"
            )
        return "with almost no work per request, the server's per-request overhead decides"
    return f"{winner.model} handled this mix with less overhead per request"


def _peak(points: Sequence[Point]) -> Point:
    return max(points, key=lambda p: (p.rps.median, -p.load_value))


def _scaling(points: Sequence[Point]) -> tuple[float, str, str] | None:
    ordered = sorted(points, key=lambda p: p.load_value)
    if len(ordered) < 2 or not ordered[0].rps.median > 0:
        return None
    return ordered[-1].rps.median / ordered[0].rps.median, ordered[0].load_label, ordered[-1].load_label


def choose_verdict(
    workload: str, kind: str, load_kind: str, points: Sequence[Point], claims: Sequence[ClaimRecord] = ()
) -> WorkloadVerdict | None:
    """Return the verdict for one workload's points, or None when fewer than two models have data.

    `claims` are an adaptive run's claims of this workload: the winner's win is then stated only as its
    claim at its peak load point decided it, with that claim's paired 95 % interval (else the sentence
    says the peak is not a win at 95 %)."""
    by_model: dict[str, list[Point]] = {}
    for point in points:
        if point.repetitions and math.isfinite(point.rps.median):
            by_model.setdefault(point.model, []).append(point)
    if len(by_model) < 2:
        return None
    if load_kind == "closed":
        best = {m: _peak(ps) for m, ps in by_model.items()}
        ranked = sorted(best.values(), key=lambda p: -p.rps.median)
        metric, unit = "rps", "req/s"
        values = [p.rps for p in ranked]
        ratio = _safe_div(values[0].median, values[1].median)
        ratio_worst = _safe_div(values[0].median, values[-1].median)
        significant = None if min(v.n for v in values[:2]) < 2 else values[0].low > values[1].high
    else:
        heaviest = max(p.load_value for ps in by_model.values() for p in ps)
        at_top = [p for ps in by_model.values() for p in ps if p.load_value == heaviest]
        at_top = [p for p in at_top if math.isfinite(p.p99_ms.median)]
        if len(at_top) < 2:
            return None
        ranked = sorted(at_top, key=lambda p: p.p99_ms.median)
        metric, unit = "p99_ms", "ms"
        values = [p.p99_ms for p in ranked]
        ratio = _safe_div(values[1].median, values[0].median)
        ratio_worst = _safe_div(values[-1].median, values[0].median)
        significant = None if min(v.n for v in values[:2]) < 2 else values[0].high < values[1].low
    winner, runner, worst = ranked[0], ranked[1], ranked[-1]
    cpu_ratio = _safe_div(winner.server_cpu_pct.median, worst.server_cpu_pct.median)
    reason = _reason(kind, winner, worst, cpu_ratio)
    # An adaptive run's claim at the winner's peak: its paired 95 % interval says whether the win holds.
    claim = next((c for c in claims if c.load_label == winner.load_label), None) if metric == "rps" else None
    backed = claim is not None and claim.state == "a wins" and claim.a == winner.model
    if claim is not None and backed:
        head = (
            f"On {workload}, {winner.model} ({winner.family}) wins with a peak of "
            f"{_figure(values[0].median, unit)} at {winner.load_label}, where it serves "
            f"{claim_factor(claim)} the requests of {claim.b}"
        )
        significant = True
    elif metric == "rps":
        head = (
            f"On {workload}, {winner.model} ({winner.family}) wins with a peak of "
            f"{_figure(values[0].median, unit)} at {winner.load_label}, "
            f"{times(ratio)} the peak of {runner.model}"
        )
    else:
        head = (
            f"On {workload} at {winner.load_label} (open loop), {winner.model} ({winner.family}) keeps "
            f"p99 at {_figure(values[0].median, unit)}, {times(ratio)} lower than {runner.model}"
        )
    if worst is not runner and backed:  # medians only: the claim's interval is of winner vs runner-up
        head += (f", and its peak is {times(ratio_worst)} that of {worst.model} ({worst.family}) (medians; "
                 "not tested at 95 %)")
    elif worst is not runner:
        head += f" and {times(ratio_worst)} that of {worst.model} ({worst.family})" if metric == "rps" else (
            f" and {times(ratio_worst)} lower than {worst.model} ({worst.family})"
        )
    if claim is not None and not backed:
        said = claim_sentence(claim).rstrip(".")
        head = (f"On {workload}, {winner.model} ({winner.family}) has the highest peak, "
                f"{_figure(values[0].median, unit)} at {winner.load_label}, but no win at 95 % there: "
                f"{said[:1].lower()}{said[1:]}")
    sentence = f"{head}, because {reason}" if claim is None or backed else head
    scale_w, scale_l = _scaling(by_model[winner.model]), _scaling(by_model[worst.model])
    if metric == "rps" and scale_w and scale_l:
        sentence += (
            f"; its throughput grew {times(scale_w[0])} from {scale_w[1]} to {scale_w[2]}, "
            f"{worst.model}'s {times(scale_l[0])}"
        )
    caveats = []
    if claim is not None:
        pass  # the claim's paired interval replaced the medians' intervals
    elif significant is False:
        caveats.append(f"the gap to {runner.model} is within the noise: the intervals overlap")
    elif significant is None:
        caveats.append("one repetition, so the gap is untested against noise")
    busy = sum(p.busy for p in (winner, runner))
    if busy:
        trials = "1 of the trials" if busy == 1 else f"{busy} of the trials"
        caveats.append(f"{trials} compared ran on a busy machine, so the figures are suspect")
    if caveats:
        sentence += f" ({'; '.join(caveats)})"
    return WorkloadVerdict(
        workload=workload, metric=metric, winner=winner.model, runner_up=runner.model, worst=worst.model,
        winner_value=values[0].median, runner_up_value=values[1].median, worst_value=values[-1].median,
        ratio=ratio, ratio_worst=ratio_worst, significant=significant, reason=reason, sentence=sentence + ".",
    )


def _figure(value: float, unit: str) -> str:
    """A verdict's headline figure with its unit: 12.3 ms, 1,234 req/s."""
    return f"{ms(value) if unit == 'ms' else num(value)} {unit}"


def _safe_div(a: float, b: float) -> float:
    return a / b if b and math.isfinite(a) and math.isfinite(b) else math.nan


#: The families whose presence turns on the family notes (the history of serving Python); a report of the
#: older families alone keeps its old shape.
_HISTORY_CLASSES = frozenset({"process-per-request", "protocol-hop", "embedded", "rust-core"})


def _first(points: Sequence[Point], cls: str) -> list[Point]:
    """Every point of the first model (in report order) whose family is of class `cls`."""
    models = [p.model for p in points if family_class(p.family) == cls]
    return [p for p in points if models and p.model == models[0]]


def _best(points: Sequence[Point], kind_of: Mapping[str, str], kind: str) -> Point | None:
    """The point with the highest median rps among `points` on workloads of `kind`."""
    chosen = [p for p in points if kind_of.get(p.workload) == kind and math.isfinite(p.rps.median)]
    return max(chosen, key=lambda p: p.rps.median, default=None)


def _low_load_p50(points: Sequence[Point], kind_of: Mapping[str, str], kind: str) -> Point | None:
    """The point at the lightest load of the first workload of `kind` among `points`."""
    chosen = [p for p in points if kind_of.get(p.workload) == kind and math.isfinite(p.p50_ms.median)]
    return min(chosen, key=lambda p: p.load_value, default=None)


def serving_notes(
    points: Sequence[Point], kind_of: Mapping[str, str], startup_ms: Mapping[str, float] | None = None
) -> tuple[str, ...]:
    """A sentence or two per server family in the results, each with the measured figure that shows it.

    `points`: every point of every workload; `kind_of`: workload name → io | cpu | static | plain | ...;
    `startup_ms`: the run's measured `python -c pass` ("bare") and app-import ("with_app_import") times.
    Empty unless a family of the history models (process per request, protocol hop, embedded, Rust
    core) is present, so reports of the older families keep their shape.
    """
    present = {family_class(p.family) for p in points}
    if not present & _HISTORY_CLASSES:
        return ()
    all_best_plain = _best(points, kind_of, "plain")
    notes: list[str] = []

    def peak(cls: str, kind: str) -> tuple[Point | None, Point | None]:
        mine = _first(points, cls)
        return _best(mine, kind_of, kind), _low_load_p50(mine, kind_of, kind)

    best, low = peak("process-per-request", "plain")
    if best is not None and low is not None:
        text = (f"Process per request ({best.model}): every request starts a fresh interpreter and imports "
                f"the app; p50 on {low.workload} at {low.load_label} was {ms(low.p50_ms.median)} ms")
        if startup_ms and startup_ms.get("bare") is not None:
            text += (f", while `python -c pass` took {ms(startup_ms['bare'])} ms and importing the bundled "
                     f"app {ms(startup_ms.get('with_app_import', math.nan))} ms on this machine in this run")
        if all_best_plain is not None and best.rps.median > 0:
            text += (f"; its peak of {num(best.rps.median)} req/s is "
                     f"{times(all_best_plain.rps.median / best.rps.median)} below {all_best_plain.model}'s")
        notes.append(text + ".")
    best, low = peak("protocol-hop", "plain")
    if best is not None and low is not None:
        notes.append(
            f"Protocol hop ({best.model}): nginx parses HTTP and passes each request over a local socket "
            f"(uwsgi, FastCGI or SCGI) to long-lived Python workers: no interpreter start, one extra hop and "
            f"two processes per request; p50 at {low.load_label} {ms(low.p50_ms.median)} ms, "
            f"peak {num(best.rps.median)} req/s on {best.workload}."
        )
    best, low = peak("embedded", "plain")
    if best is not None and low is not None:
        notes.append(
            f"Embedded ({best.model}): the interpreter lives inside the web server's own processes, so the "
            f"request reaches the app by a function call with no hop; peak {num(best.rps.median)} req/s "
            f"on {best.workload}, with Apache's HTTP handling in front of the GIL."
        )
    for cls, words in (
        ("pre-fork", "one request per worker process at a time, so a wait blocks the whole process"),
        ("threaded", "threads overlap waits up to the pool's size, sharing one GIL for the Python work"),
        ("event-loop", "one loop overlaps every wait; only the Python work per request is serialized"),
    ):
        best_io, _ = peak(cls, "io")
        best_plain, _ = peak(cls, "plain")
        shown = best_io or best_plain
        if shown is not None:
            notes.append(f"{cls.capitalize()} ({shown.model}): {words}; peak {num(shown.rps.median)} req/s "
                         f"on {shown.workload} at {shown.load_label}.")
    best, low = peak("rust-core", "plain")
    if best is not None:
        notes.append(
            f"Rust core ({best.model}): HTTP parsing, sockets and scheduling run in Rust, Python only for "
            f"the app itself; peak {num(best.rps.median)} req/s on {best.workload}."
        )
    return tuple(notes)
