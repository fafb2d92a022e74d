"""Expand a Scenario into the ordered trials of a run, grouped into server blocks; pure, no I/O.

A block is one fresh server start running its trials back to back. Without variants, repetitions are
interleaved (A B C A B C, never A A B B C C) so a slow drift of the machine spreads over every server
instead of biasing one: for each repetition, for each server, one block runs all its workloads × load
points. With variants (a paired comparison), for each server × workload × load point the variants run
`rounds` rounds in ABBA order (baseline, candidate, candidate, baseline, ...), one block per trial; the
runner keeps each variant's server running from one of its blocks to the next (see runner/pool.py),
so a round costs two measurements and no server start.

An adaptive scenario ([load] adaptive = true) is planned one round at a time (adaptive_round): each round
measures every load point still undecided once on every server, the servers in a rotating order
(server_order), one block per trial; the runner keeps every server up for the whole run and decides
after each round which load points the next round still needs (runner/adaptive.py). build_plan gives
round 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from loadbench.scenario.types import AppSpec, Paired, Scenario, ServerEntry, Workload
from loadbench.types import Crowd, Load

__all__ = ["SERVER_START_OVERHEAD_S", "Block", "Plan", "Trial", "adaptive_round", "build_plan",
           "describe_plan", "estimate_seconds", "load_points", "profile_trials", "server_order",
           "server_starts", "variant_order"]

#: Seconds a server start, readiness probe and stop cost on top of the trials (estimate only).
SERVER_START_OVERHEAD_S = 1.5


@dataclass(frozen=True, slots=True, kw_only=True)
class Trial:
    """One measurement: one server, workload and load point for `duration_s` after `warmup_s`.

    `index` is the position in Plan.trials (0-based) and `block` the index of its Block. `repetition`
    and `round` count from 1 (they are equal: a paired round runs each variant once). `trial_id` is
    "server|workload|load|repetition", or "server|variant|workload|load|round" with variants.
    """

    index: int
    trial_id: str
    block: int
    server: ServerEntry
    variant: str | None
    workload: Workload
    load: Load
    repetition: int
    round: int
    duration_s: float
    warmup_s: float
    timeout_s: float
    crowd: Crowd = field(default_factory=Crowd)  # idle/slow clients held beside the load (none by default)


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """One fresh start of `server` running `app` (the variant's, if any) for `trials`, in order."""

    index: int
    server: ServerEntry
    variant: str | None
    app: AppSpec
    trials: tuple[Trial, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The whole run in order: `trials` flat, `blocks` the same trials grouped by server start."""

    scenario: Scenario
    trials: tuple[Trial, ...]
    blocks: tuple[Block, ...]


def variant_order(names: tuple[str, ...], paired: Paired) -> list[tuple[int, str]]:
    """(round, variant) pairs in run order: ABBA reverses every other round, ABAB never does."""
    order: list[tuple[int, str]] = []
    for round_number in range(1, paired.rounds + 1):
        reverse = paired.order == "ABBA" and round_number % 2 == 0
        order += [(round_number, name) for name in (reversed(names) if reverse else names)]
    return order


def server_order(servers: Sequence[ServerEntry], round_number: int) -> list[ServerEntry]:
    """The servers in the order an adaptive round measures them: rotated by one every second round and
    reversed every other round (2 servers: A B, B A, B A, A B, ...; 3: all six orders in six rounds), so
    neither drift within a round nor a server's place after another favours any one of them."""
    shift = ((round_number - 1) // 2) % len(servers)
    order = [*servers[shift:], *servers[:shift]]
    return order[::-1] if round_number % 2 == 0 else order


def load_points(scenario: Scenario) -> list[tuple[Workload, Load]]:
    """Every (workload, load point) of `scenario`, in the order a round measures them."""
    return [(workload, load) for workload in scenario.workloads for load in scenario.load.points]


def adaptive_round(scenario: Scenario, round_number: int, points: Sequence[tuple[Workload, Load]],
                   first_index: int, *, servers: Sequence[ServerEntry] | None = None) -> tuple[Block, ...]:
    """One round of an adaptive run: for each of `points`, one trial on every server (server_order;
    `servers` defaults to the scenario's), each its own block; trial and block indexes count on from
    `first_index`. The trials of one point are back to back, so a claim's pairs are seconds apart."""
    blocks: list[Block] = []
    for workload, load in points:
        for server in server_order(servers if servers is not None else scenario.servers, round_number):
            index = first_index + len(blocks)
            trial = _trial(scenario, index, index, server, None, workload, load, round_number, Crowd())
            blocks.append(Block(index=index, server=server, variant=None, app=scenario.app, trials=(trial,)))
    return tuple(blocks)


def build_plan(scenario: Scenario) -> Plan:
    """Every trial of `scenario` in run order, with its server blocks (an adaptive run: round 1)."""
    if scenario.load.adaptive is not None:
        first = adaptive_round(scenario, 1, load_points(scenario), 0)
        return Plan(scenario=scenario, trials=tuple(t for b in first for t in b.trials), blocks=first)
    groups: list[tuple[ServerEntry, str | None, AppSpec, list[tuple[Workload, Load, Crowd, int]]]] = []
    crowds = scenario.load.crowds
    if scenario.variants and scenario.paired is not None:
        names = tuple(variant.name for variant in scenario.variants)
        for server in scenario.servers:
            for workload in scenario.workloads:
                for load in scenario.load.points:
                    for crowd in crowds:
                        for round_number, name in variant_order(names, scenario.paired):
                            app = scenario.variant(name).app
                            groups.append((server, name, app, [(workload, load, crowd, round_number)]))
    else:
        # One block (a fresh server) per crowd: what idle clients leave behind in a server (memory an
        # allocator keeps, pre-fork children it spawned) must not count for the next crowd size.
        for repetition in range(1, scenario.load.repeat + 1):
            for server in scenario.servers:
                for crowd in crowds:
                    items = [(workload, load, crowd, repetition) for workload in scenario.workloads
                             for load in scenario.load.points]  # fmt: skip
                    groups.append((server, None, scenario.app, items))
    trials: list[Trial] = []
    blocks: list[Block] = []
    for block_index, (server, variant, app, items) in enumerate(groups):
        block_trials = []
        for workload, load, crowd, repetition in items:
            trial = _trial(scenario, len(trials), block_index, server, variant, workload, load, repetition,
                           crowd)  # fmt: skip
            trials.append(trial)
            block_trials.append(trial)
        blocks.append(Block(index=block_index, server=server, variant=variant, app=app,
                            trials=tuple(block_trials)))
    return Plan(scenario=scenario, trials=tuple(trials), blocks=tuple(blocks))


def _trial(scenario: Scenario, index: int, block: int, server: ServerEntry, variant: str | None,
           workload: Workload, load: Load, repetition: int, crowd: Crowd) -> Trial:
    parts = [server.name] + ([variant] if variant else []) + [workload.name, load.label + crowd.label,
                                                               str(repetition)]  # fmt: skip
    spec = scenario.load
    duration = spec.duration_s if load.own_duration_s is None else load.own_duration_s
    return Trial(index=index, trial_id="|".join(parts), block=block, server=server, variant=variant,
                 workload=workload, load=load, repetition=repetition, round=repetition, duration_s=duration,
                 warmup_s=spec.warmup_s, timeout_s=spec.timeout_s, crowd=crowd)


def profile_trials(plan: Plan, points: str) -> dict[int, tuple[Trial, ...]]:
    """The trials to profile once more after the block that ran them: block index -> trials, in order.

    `points` is "heaviest" (per server, variant and workload, the load point with the highest connections
    or rate, ties to the later one) or "all" (every load point), "off" gives nothing. Each is profiled
    once, after the last block that measured it, so the profiled trial follows every measured one on that
    server and no measurement runs while the profiler is attached.
    """
    if points == "off":
        return {}
    last: dict[tuple[str, str | None, str, str], Trial] = {}
    for trial in plan.trials:
        last[(trial.server.name, trial.variant, trial.workload.name, trial.load.label)] = trial
    chosen = list(last.values())
    if points == "heaviest":
        top: dict[tuple[str, str | None, str], Trial] = {}
        for trial in chosen:
            key = (trial.server.name, trial.variant, trial.workload.name)
            if key not in top or trial.load.plot_value >= top[key].load.plot_value:
                top[key] = trial
        chosen = list(top.values())
    by_block: dict[int, list[Trial]] = {}
    for trial in sorted(chosen, key=lambda t: t.index):
        by_block.setdefault(trial.block, []).append(trial)
    return {block: tuple(trials) for block, trials in by_block.items()}


def estimate_seconds(plan: Plan, *, start_overhead_s: float = SERVER_START_OVERHEAD_S) -> float:
    """Seconds the plan should take: every window and warm-up (profiled trials too), plus
    `start_overhead_s` per server start; an adaptive run's budget, which it does not overrun."""
    if plan.scenario.load.adaptive is not None:
        return plan.scenario.load.adaptive.budget_s
    profiled = [t for ts in profile_trials(plan, plan.scenario.profile).values() for t in ts]
    measured = sum(trial.duration_s + trial.warmup_s for trial in (*plan.trials, *profiled))
    return measured + start_overhead_s * server_starts(plan)


def server_starts(plan: Plan) -> int:
    """How many servers the run starts: one per block, or one per server and variant in a paired run."""
    if plan.scenario.variants or plan.scenario.load.adaptive is not None:
        return len({(block.server.name, block.variant) for block in plan.blocks})
    return len(plan.blocks)


def _seconds(value: float) -> str:
    if value < 90:
        return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds:02d} s"


def describe_plan(plan: Plan) -> list[str]:
    """Lines for `loadbench run --dry-run`: the scenario's settings, then every block and trial in order."""
    scenario = plan.scenario
    starts = server_starts(plan)
    adaptive = scenario.load.adaptive is not None
    lines = [
        f"Scenario {scenario.name}{' (quick)' if scenario.quick else ''}: {len(plan.trials)} trials"
        f"{' a round' if adaptive else ''} in {starts} server start{'s' if starts != 1 else ''}, "
        f"{'at most' if adaptive else 'about'} {_seconds(estimate_seconds(plan))}",
    ]
    if scenario.description:
        lines.append(f"  {scenario.description.strip().splitlines()[0]}")
    if scenario.overrides:
        lines.append(f"Overrides (--set): {'; '.join(scenario.overrides)}")
    lines.append(f"App: {scenario.app.describe()}")
    for variant in scenario.variants:
        lines.append(f"Variant {variant.name}: {variant.app.describe()}")
    if scenario.paired is not None and scenario.variants:
        lines.append(f"Paired: {scenario.paired.rounds} rounds in {scenario.paired.order} order")
    lines.append(f"Load: {scenario.load.describe()}")
    if scenario.load.adaptive is not None:
        lines.append(f"Adaptive: {scenario.load.adaptive.describe()}; round 1 below, each later round "
                     "repeats the load points still undecided, servers in a rotated order")
    lines.append(f"CPUs: {scenario.cpus.describe()}")
    if scenario.engine != "native":
        settings = ", ".join(f"{key} = {value!r}" for key, value in scenario.engine_settings)
        lines.append(f"Engine: {scenario.engine}" + (f" ({settings})" if settings else ""))
    if any(workload.kind == "locustfile" for workload in scenario.workloads):
        lines.append("workloads: from the locustfile (one per Locust request name, plus 'journey')")
    if scenario.thresholds:
        lines.append(f"Thresholds: {'; '.join(scenario.thresholds)}")
    profiled = profile_trials(plan, scenario.profile)
    if profiled:
        count = sum(len(ts) for ts in profiled.values())
        lines.append(f"Profile: {scenario.profile} load point(s), py-spy at 100 Hz, one extra unmeasured "
                     f"trial each ({count} in all; models without Python workers are only noted)")
    width = max((len(trial.trial_id) for trial in plan.trials), default=0)
    for block in plan.blocks:
        arm = f" [{block.variant}]" if block.variant else ""
        lines.append(f"Start {block.index + 1}: {block.server.describe()}{arm}")
        for trial in block.trials:
            lines.append(f"  #{trial.index + 1:<4} {trial.trial_id:<{width}}  {trial.duration_s:g}s "
                         f"after {trial.warmup_s:g}s warm-up")
        for trial in profiled.get(block.index, ()):
            lines.append(f"  {'prof.':<5} {trial.trial_id:<{width}}  {trial.duration_s:g}s under py-spy")
    return lines
