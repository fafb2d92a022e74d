"""Scenario files: every shipped one loads, every mistake is reported at once with file and line."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from loadbench.errors import ScenarioError
from loadbench.plan import build_plan, estimate_seconds
from loadbench.scenario import (
    COMMAND_MODEL,
    Scenario,
    apply_quick,
    find_scenario,
    known_model_names,
    load_scenario,
    parse_scenario,
    shipped_scenarios,
)
from loadbench.scenario.types import Adaptive
from loadbench.types import Closed, Open, RequestSpec, Stage, Stages

MODELS = known_model_names()
BASE = """\
name = "t"

[[servers]]
model = "uvicorn"

[[endpoints]]
path = "/plaintext"

[load]
connections = [1, 8]
"""


def parse(text: str, **kwargs: Any) -> Scenario:
    kwargs.setdefault("cpus", (0, 1))
    kwargs.setdefault("known_models", MODELS)
    return parse_scenario(text, path="t.toml", **kwargs)


def problems_of(text: str, **kwargs: Any) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse(text, **kwargs)
    return info.value.problems


# --- shipped scenarios -------------------------------------------------------------------------------

EXPECTED_SHIPPED = {"quickstart", "server-models", "io-bound", "cpu-bound", "ci-smoke", "open-loop",
                    "paired-example", "ramp", "history", "deployment"}


def test_shipped_scenarios_are_listed() -> None:
    assert set(shipped_scenarios()) >= EXPECTED_SHIPPED


@pytest.mark.parametrize("name", sorted(EXPECTED_SHIPPED))
def test_every_shipped_scenario_loads_and_plans(name: str) -> None:
    path = find_scenario(name)
    scenario = load_scenario(path, cpus=(0, 1), known_models=MODELS)
    assert scenario.name == name
    assert scenario.description
    assert scenario.text == path.read_text()
    assert scenario.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    plan = build_plan(scenario)
    assert plan.trials
    quick = build_plan(apply_quick(scenario))
    assert estimate_seconds(quick) <= estimate_seconds(plan)


@pytest.mark.parametrize(("name", "budget_s"), [("quickstart", 60.0), ("ci-smoke", 20.0)])
def test_fast_scenarios_fit_their_budget(name: str, budget_s: float) -> None:
    assert estimate_seconds(build_plan(load_scenario(find_scenario(name), cpus=(0, 1)))) <= budget_s


def test_quickstart_contents() -> None:
    scenario = load_scenario(find_scenario("quickstart"), cpus=(0, 1))
    assert [s.model for s in scenario.servers] == ["waitress", "gunicorn", "uvicorn"]
    assert [w.name for w in scenario.workloads] == ["/plaintext", "/io?ms=20"]
    assert scenario.load.points == (Closed(connections=8), Closed(connections=64))
    assert scenario.load.adaptive == Adaptive(budget_s=50.0, max_rounds=40, tie_band=0.10)
    assert scenario.app.kind == "bundled" and scenario.app.ready_path == "/health"
    assert scenario.thresholds == ("error_rate < 1%", "p99 < 1s")
    assert len(build_plan(scenario).trials) == 12  # round 1: 2 workloads × 2 points × 3 servers


def test_history_tells_the_story_in_order_and_deployment_asks_about_nginx() -> None:
    history = load_scenario(find_scenario("history"), cpus=(0, 1))
    assert [s.model for s in history.servers] == [
        "cgi", "nginx-fastcgi", "nginx-scgi", "apache-wsgi", "gunicorn", "uwsgi", "uvicorn", "granian"]
    assert [w.name for w in history.workloads] == ["/plaintext", "/db?id=1", "/io?ms=20"]
    assert history.load.points == (Closed(connections=1), Closed(connections=8), Closed(connections=64))
    deployment = load_scenario(find_scenario("deployment"), cpus=(0, 1))
    assert [s.model for s in deployment.servers] == ["gunicorn", "nginx-gunicorn", "nginx-uwsgi", "uvicorn",
                                                      "granian"]
    closing = [w for w in deployment.workloads if "no keep-alive" in w.name]
    assert len(closing) == 3
    assert all(dict(w.requests[0].headers) == {"Connection": "close"} for w in closing)


def test_paired_example_variants_set_the_delay_env() -> None:
    scenario = load_scenario(find_scenario("paired-example"), cpus=(0, 1))
    assert [v.name for v in scenario.variants] == ["baseline", "candidate"]
    assert scenario.variant("candidate").app.env_dict == {"LOADBENCH_APP_DELAY_US": "200"}
    assert scenario.variant("baseline").app.env_dict == {"LOADBENCH_APP_DELAY_US": "0"}
    assert scenario.paired is not None and scenario.paired.rounds == 20


def _walk(value: object) -> list[object]:
    found = [value]
    if dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            found += _walk(getattr(value, field.name))
    elif isinstance(value, tuple):
        for item in value:
            found += _walk(item)
    return found


def test_scenario_tree_is_frozen_without_raw_containers() -> None:
    scenario = load_scenario(find_scenario("server-models"), cpus=(0, 1))
    assert not [v for v in _walk(scenario) if isinstance(v, dict | list | set)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.name = "other"  # type: ignore[misc]


# --- finding scenarios ---------------------------------------------------------------------------------

def test_find_scenario_by_path_and_name(tmp_path: Path) -> None:
    own = tmp_path / "mine.toml"
    own.write_text(BASE)
    assert find_scenario(own) == own
    assert find_scenario("quickstart").name == "quickstart.toml"
    assert find_scenario("quickstart.toml").name == "quickstart.toml"


def test_find_scenario_unknown_name_lists_shipped() -> None:
    with pytest.raises(ScenarioError) as info:
        find_scenario("quikstart")
    message = str(info.value)
    assert "did you mean 'quickstart'?" in message
    assert "ci-smoke" in message and "server-models" in message


def test_find_scenario_missing_path() -> None:
    with pytest.raises(ScenarioError, match="no such file"):
        find_scenario("some/dir/none.toml")


def test_load_scenario_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "absent.toml")


def test_known_model_names_has_the_core_models() -> None:
    assert {"waitress", "gunicorn", "uvicorn"} <= set(known_model_names())


# --- problems ----------------------------------------------------------------------------------------

FIVE_MISTAKES = """\
name = "five"
descripton = "typo"

[[servers]]
model = "uvicron"

[[servers]]
model = "waitress"
threads = 0

[[endpoints]]
path = "plaintext"

[load]
connections = [1, 16]
timeout = "2x"
"""


def test_five_mistakes_are_reported_together_with_lines() -> None:
    problems = problems_of(FIVE_MISTAKES)
    assert len(problems) == 5
    expected = [
        ("t.toml:2:", "did you mean 'description'?"),
        ("t.toml:5:", "'uvicron' is not a server model; did you mean 'uvicorn'?"),
        ("t.toml:9:", "[[servers]] #2 threads: 0 must be at least 1"),
        ("t.toml:12:", "'plaintext' must start with /"),
        ("t.toml:16:", "[load] timeout: '2x' is not a duration"),
    ]
    for problem, (location, text) in zip(problems, expected, strict=True):
        assert problem.startswith(location), problem
        assert text in problem, problem


def test_error_message_names_the_file_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "five.toml"
    path.write_text(FIVE_MISTAKES)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, cpus=(0, 1), known_models=MODELS)
    message = str(info.value)
    assert message.startswith(f"{path}: 5 problems:")
    assert f"{path}:12: [[endpoints]] #1 path" in message


@pytest.mark.parametrize(
    ("extra", "location", "suggestion"),
    [
        ('[cpus]\nsevrer = [0]\n', "t.toml:13: [cpus] sevrer", "did you mean 'server'?"),
        ('[thresholds]\ncheck = ["p99 < 1s"]\n', "t.toml:13: [thresholds] check", "did you mean 'checks'?"),
        ('[app]\nmodul = "a.b:app"\n', "t.toml:13: [app] modul", "did you mean 'module'?"),
        ('[[mixes]]\nname = "m"\nendpoints = [{ path = "/a", wieght = 2 }]\n', "t.toml:14: [[mixes]] #1",
         "did you mean 'weight'?"),
        ('[zzz]\n', "t.toml:12: zzz", "the keys here are: name, description"),
    ],
)
def test_unknown_keys_suggest(extra: str, location: str, suggestion: str) -> None:
    problems = problems_of(BASE + "\n" + extra)
    assert len(problems) == 1
    assert problems[0].startswith(location), problems[0]
    assert suggestion in problems[0]


def test_unknown_top_level_key() -> None:
    problems = problems_of('nmae = "x"\n' + BASE)
    assert problems == ["t.toml:1: nmae: unknown key 'nmae'; did you mean 'name'?"]


def test_unknown_key_in_load_table() -> None:
    problems = problems_of(BASE.replace("connections = [1, 8]", 'connections = [1, 8]\nduraton = "5s"'))
    assert problems == ["t.toml:11: [load] duraton: unknown key 'duraton'; did you mean 'duration'?"]


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ('name = "x"\n[load]\nconnections = [1, 2\nrepeat = 3\n', "t.toml:4:1:"),
        ('name = "x"\nload = \n', "t.toml:2:8:"),
        ('name = "x\n', "t.toml:1:"),
        ('[load]\nrepeat = 1\n[load]\n', "t.toml:3:"),
    ],
)
def test_toml_syntax_error_has_line_and_column(text: str, position: str) -> None:
    problems = problems_of(text)
    assert len(problems) == 1
    assert problems[0].startswith(position), problems[0]
    assert "TOML syntax error" in problems[0]
    assert re.match(r"t\.toml:\d+:\d+: ", problems[0])


@pytest.mark.parametrize(
    ("replace", "by", "fragment"),
    [
        ("connections = [1, 8]", 'connections = [1]\nrates = ["1/s"]', "exactly one of connections, rates"),
        ("connections = [1, 8]", "repeat = 2", "exactly one of connections, rates or stages (found none)"),
        ("connections = [1, 8]", "connections = []", "is empty"),
        ("connections = [1, 8]", 'connections = [1, "many"]', "'many' is not a count"),
        ("connections = [1, 8]", 'rates = ["fast"]', "'fast' is not a rate"),
        ("connections = [1, 8]", 'connections = [4]\narrival = "poisson"', "applies only to rates or stages"),
        ("connections = [1, 8]", 'stages = ["10s:5/s", "10s:4c"]', "all stages must use one kind"),
        ("connections = [1, 8]", 'stages = ["10s"]', "is not a stage"),
        ("connections = [1, 8]", 'stages = ["1s:5/s"]\nduration = "3s"', "remove duration"),
        ("connections = [1, 8]", 'connections = [1]\nrepeat = 0', "must be at least 1"),
        ("connections = [1, 8]", 'connections = [1]\nwarmup = "soon"', "'soon' is not a duration"),
        ('path = "/plaintext"', 'path = "/p"\nmethod = "get"', "is not an HTTP method"),
        ('path = "/plaintext"', 'path = "/p"\nheaders = { "Bad Name" = "x" }',
         "not a valid HTTP header name"),
        ('path = "/plaintext"', 'path = "/p"\nbody = 3', "must be a string"),
        ('model = "uvicorn"', 'model = "uvicorn"\nworkers = "lots"', "'lots' is not a count"),
    ],
)
def test_value_problems(replace: str, by: str, fragment: str) -> None:
    problems = problems_of(BASE.replace(replace, by))
    assert any(fragment in problem for problem in problems), problems


def test_duplicate_server_names_need_a_name() -> None:
    text = BASE.replace('model = "uvicorn"', 'model = "uvicorn"\n\n[[servers]]\nmodel = "uvicorn"')
    (problem,) = problems_of(text)
    assert "[[servers]] #2 model: 'uvicorn' is used twice" in problem
    renamed = text.replace('[[servers]]\nmodel = "uvicorn"\n\n[[end', '[[servers]]\nmodel = "uvicorn"\n'
                           'name = "uvicorn-2w"\nworkers = 2\n\n[[end')
    servers = parse(renamed).servers
    assert [(s.name, s.model, s.workers) for s in servers] == [("uvicorn", "uvicorn", None),
                                                                ("uvicorn-2w", "uvicorn", 2)]


def test_missing_sections() -> None:
    problems = problems_of('name = "empty"\n')
    assert any("no [[servers]]" in p for p in problems)
    assert any("[load]" in p and "missing" in p for p in problems)
    assert any("nothing to send" in p for p in problems)


# --- the app ------------------------------------------------------------------------------------------

def test_app_command_as_a_list_is_joined_shell_style() -> None:
    text = BASE.replace('[[servers]]\nmodel = "uvicorn"\n', "") + \
        '\n[app]\ncommand = ["my server", "--port={port}"]\n'
    assert parse(text).app.target == "'my server' '--port={port}'"


def test_app_shorthand_and_table(tmp_path: Path) -> None:
    short = parse('app = "mypkg.web:app"\n' + BASE)
    assert (short.app.kind, short.app.target, short.app.ready_path) == ("import", "mypkg.web:app", "/")
    (tmp_path / "src").mkdir()
    table = parse(BASE + '\n[app]\nmodule = "mypkg.web:create"\ninterface = "asgi"\nready_path = "/ping"\n'
                  'cwd = "src"\nenv = { DEBUG = 0, MODE = "fast" }\n', base_dir=tmp_path)
    assert table.app.interface == "asgi" and table.app.ready_path == "/ping"
    assert table.app.cwd == str(tmp_path / "src")
    assert table.app.env == (("DEBUG", "0"), ("MODE", "fast"))


def test_app_command_runs_without_server_models() -> None:
    text = BASE.replace('[[servers]]\nmodel = "uvicorn"\n', "") + \
        '\n[app]\ncommand = "myserver --bind {host}:{port} --quiet"\n'
    scenario = parse(text)
    assert scenario.app.target == "myserver --bind {host}:{port} --quiet"
    assert scenario.app.ready_path == "/"
    assert [(s.name, s.model) for s in scenario.servers] == [(COMMAND_MODEL, COMMAND_MODEL)]


@pytest.mark.parametrize(
    ("app", "fragment"),
    [
        ('[app]\ncommand = "myserver --port 8000"\n', "no {port} placeholder"),
        ('[app]\ncommand = "srv {port} {workers}"\n', "bad placeholder"),
        ('[app]\nmodule = "a:b"\ncommand = "s {port}"\n', "not both"),
        ('[app]\nmodule = "no-colon"\n', "is not an app reference"),
        ('[app]\nkind = "import"\n', "'import' needs module"),
        ('[app]\nkind = "module"\n', "'module' is not one of"),
        ('[app]\ncommand = []\n', "must be a string or a non-empty list"),
        ('[app]\ncommand = "  "\n', "is empty"),
        ("[app]\ncommand = \"srv '{port}\"\n", "cannot be split"),
        ('[app]\ninterface = "wsgi"\n', "applies only to module"),
        ('[app]\ncwd = "does/not/exist"\n', "is not a directory"),
        ('[app]\nready_path = "health"\n', "must start with /"),
        ('[app]\nenv = { "1BAD" = "x" }\n', "not an environment variable name"),
    ],
)
def test_app_problems(app: str, fragment: str) -> None:
    problems = problems_of(BASE + "\n" + app)
    assert any(fragment in problem for problem in problems), problems


# --- endpoints and mixes -------------------------------------------------------------------------------

MIXED = """\
name = "mix"

[[servers]]
model = "uvicorn"

[[endpoints]]
name = "plain"
path = "/plaintext"

[[endpoints]]
name = "json"
path = "/json"

[[endpoints]]
path = "/cpu?n=100"
standalone = false

[[endpoints]]
name = "login"
method = "POST"
path = "/login"
headers = { Content-Type = "application/json" }
body = '{"user": "a"}'

[[mixes]]
name = "api"
endpoints = [{ endpoint = "json", weight = 3 }, "login", { path = "/db?id=1", weight = 0.5 }]

[load]
connections = [4]
"""


def test_mix_is_one_workload_and_consumes_its_endpoints() -> None:
    scenario = parse(MIXED)
    assert [(w.name, w.kind) for w in scenario.workloads] == [("plain", "endpoint"), ("api", "mix")]
    api = scenario.workloads[1]
    assert api.requests == (
        RequestSpec(path="/json", weight=3.0),
        RequestSpec(method="POST", path="/login", headers=(("Content-Type", "application/json"),),
                    body=b'{"user": "a"}', weight=1.0),
        RequestSpec(path="/db?id=1", weight=0.5),
    )
    assert [e.standalone for e in scenario.endpoints] == [True, False, False, False]


def test_standalone_true_keeps_a_mixed_endpoint_alone() -> None:
    text = MIXED.replace('name = "json"\npath = "/json"', 'name = "json"\npath = "/json"\nstandalone = true')
    assert [w.name for w in parse(text).workloads] == ["plain", "json", "api"]


def test_endpoint_default_names() -> None:
    text = BASE.replace('path = "/plaintext"', 'path = "/plaintext"\n\n[[endpoints]]\nmethod = "POST"\n'
                        'path = "/plaintext"')
    assert [w.name for w in parse(text).workloads] == ["/plaintext", "POST /plaintext"]


@pytest.mark.parametrize(
    ("mix", "fragment"),
    [
        ('endpoints = ["nope"]', "'nope' is not the name of an [[endpoints]] entry"),
        ('endpoints = [{ endpoint = "json", weight = 0 }]', "entry 1 weight: 0 must be a positive number"),
        ('endpoints = [{ endpoint = "json", path = "/x" }]', "not both"),
        ("endpoints = []", "must be a non-empty list"),
        ('endpoints = [{ path = "x" }]', "entry 1 path: 'x' must start with /"),
    ],
)
def test_mix_problems(mix: str, fragment: str) -> None:
    text = MIXED.replace(
        'endpoints = [{ endpoint = "json", weight = 3 }, "login", { path = "/db?id=1", weight = 0.5 }]', mix)
    problems = problems_of(text)
    assert any(fragment in problem and problem.startswith("t.toml:27: [[mixes]] #1 endpoints")
               for problem in problems), problems


def test_mix_name_must_not_clash() -> None:
    problems = problems_of(MIXED.replace('name = "api"', 'name = "plain"'))
    assert any("'plain' is already the name" in p for p in problems)


# --- load ---------------------------------------------------------------------------------------------

def test_load_rates_and_defaults() -> None:
    scenario = parse(BASE.replace("connections = [1, 8]", 'rates = ["200/s", "1k/s"]\narrival = "poisson"\n'
                                  "max_connections = 64"))
    assert scenario.load.points == (Open(rate_per_s=200.0, arrival="poisson", max_connections=64),
                                    Open(rate_per_s=1000.0, arrival="poisson", max_connections=64))
    assert (scenario.load.duration_s, scenario.load.warmup_s, scenario.load.repeat,
            scenario.load.timeout_s) == (10.0, 1.0, 3, 2.0)


@pytest.mark.parametrize(
    ("stages", "kind", "expected"),
    [
        ('["10s:100/s", "30s:500/s"]', "rate", ((10.0, 100.0), (30.0, 500.0))),
        ('["10s:16c", "5s:64c"]', "connections", ((10.0, 16.0), (5.0, 64.0))),
        ('["500ms:1k/s", "2s:0/s"]', "rate", ((0.5, 1000.0), (2.0, 0.0))),
    ],
)
def test_load_stages(stages: str, kind: str, expected: tuple[tuple[float, float], ...]) -> None:
    scenario = parse(BASE.replace("connections = [1, 8]", f"stages = {stages}"))
    (point,) = scenario.load.points
    assert isinstance(point, Stages) and point.kind == kind
    assert tuple((s.duration_s, s.target) for s in point.stages) == expected
    assert scenario.load.duration_s == pytest.approx(sum(d for d, _ in expected))


def test_single_connection_count_without_list() -> None:
    assert parse(BASE.replace("[1, 8]", '"1k"')).load.points == (Closed(connections=1000),)


# --- cpus ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("available", "server", "client", "shared"),
    [
        ((0, 1), (0,), (1,), False),
        ((0,), (0,), (0,), True),
        ((0, 1, 2, 3), (0, 1), (2, 3), False),
        ((0, 1, 2), (0,), (1, 2), False),
        ((3, 5), (3,), (5,), False),
    ],
)
def test_default_cpu_split(available: tuple[int, ...], server: tuple[int, ...], client: tuple[int, ...],
                           shared: bool) -> None:
    scenario = parse(BASE, cpus=available)
    assert (scenario.cpus.server, scenario.cpus.client) == (server, client)
    assert scenario.cpus.explicit is False
    assert (scenario.pinning_note is not None) == shared
    if shared:
        assert "share" in (scenario.pinning_note or "")


@pytest.mark.parametrize(
    ("table", "server", "client", "shared"),
    [
        ("server = [0]\nclient = [1]", (0,), (1,), False),
        ('server = "0-1"\nclient = [1]', (0, 1), (1,), True),
        ("server = [1]", (1,), (0, 2, 3), False),
        ("client = [0, 1, 2, 3]", (0, 1, 2, 3), (0, 1, 2, 3), True),
    ],
)
def test_explicit_cpus(table: str, server: tuple[int, ...], client: tuple[int, ...], shared: bool) -> None:
    scenario = parse(BASE + f"\n[cpus]\n{table}\n", cpus=(0, 1, 2, 3))
    assert (scenario.cpus.server, scenario.cpus.client, scenario.cpus.explicit) == (server, client, True)
    assert (scenario.pinning_note is not None) == shared


def test_cpus_outside_affinity_are_a_problem() -> None:
    (problem,) = problems_of(BASE + "\n[cpus]\nserver = [0]\nclient = [7]\n", cpus=(0, 1))
    assert problem.startswith("t.toml:14: [cpus] client: CPU 7 is not available")


# --- thresholds, variants -------------------------------------------------------------------------------

def test_thresholds_kept_as_text() -> None:
    scenario = parse(BASE + '\n[thresholds]\nchecks = ["p99 < 50ms", " error_rate < 1% "]\n')
    assert scenario.thresholds == ("p99 < 50ms", "error_rate < 1%")
    problems = problems_of(BASE + '\n[thresholds]\nchecks = ["", 3]\n')
    assert len(problems) == 2


VARIANTS = BASE.replace("connections = [1, 8]", "connections = [8]") + """
[app]
env = { A = "1", B = "base" }

[[variants]]
name = "baseline"

[[variants]]
name = "candidate"
env = { B = "new" }
"""


def test_variants_override_the_app(tmp_path: Path) -> None:
    scenario = parse(VARIANTS + "\n[paired]\nrounds = 4\norder = \"ABAB\"\n")
    assert scenario.variant("baseline").app == scenario.app
    assert scenario.variant("candidate").app.env_dict == {"A": "1", "B": "new"}
    assert scenario.paired is not None and (scenario.paired.rounds, scenario.paired.order) == (4, "ABAB")
    assert parse(VARIANTS).paired is not None  # defaults apply
    (tmp_path / "checkout").mkdir()
    other = parse(VARIANTS + '\n[[variants]]\nname = "module"\napp = "pkg.m:app"\ncwd = "checkout"\n',
                  base_dir=tmp_path)
    module = other.variant("module").app
    assert (module.kind, module.target, module.cwd) == ("import", "pkg.m:app", str(tmp_path / "checkout"))


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda t: t.replace('name = "candidate"', 'name = "baseline"'), "used twice"),
        (lambda t: t.replace('[[variants]]\nname = "candidate"\nenv = { B = "new" }\n', ""),
         "at least two [[variants]]"),
        (lambda t: t + '\n[[variants]]\nname = "c"\ncommand = "srv {port}"\n', "needs [app] command"),
        (lambda t: t.replace("connections = [8]", "connections = [8]\nrepeat = 2"), "remove repeat"),
        (lambda t: t + '\n[paired]\norder = "AABB"\n', "'AABB' is not one of"),
        (lambda t: t + '\n[[variants]]\nname = "x"\nenvv = {}\n', "did you mean 'env'?"),
    ],
)
def test_variant_problems(change: Any, fragment: str) -> None:
    problems = problems_of(change(VARIANTS))
    assert any(fragment in problem for problem in problems), problems


def test_paired_without_variants_is_a_problem() -> None:
    (problem,) = problems_of(BASE + "\n[paired]\nrounds = 2\n")
    assert "applies only with [[variants]]" in problem


# --- apply_quick ---------------------------------------------------------------------------------------

def test_apply_quick_shortens_everything() -> None:
    scenario = parse(BASE.replace("connections = [1, 8]", 'connections = [1, 8]\nduration = "30s"\n'
                                  'warmup = "5s"\nrepeat = 5\ntimeout = "3s"'))
    quick = apply_quick(scenario)
    assert (quick.load.duration_s, quick.load.warmup_s, quick.load.repeat) == (1.0, 0.2, 1)
    assert quick.load.timeout_s == 3.0 and quick.load.points == scenario.load.points
    assert quick.quick and not scenario.quick
    assert quick.servers == scenario.servers and quick.workloads == scenario.workloads


def test_apply_quick_never_lengthens() -> None:
    scenario = parse(BASE.replace("connections = [1, 8]", 'connections = [1]\nduration = "0.5s"\nwarmup = 0'))
    quick = apply_quick(scenario)
    assert (quick.load.duration_s, quick.load.warmup_s) == (0.5, 0.0)


def test_apply_quick_scales_stages_and_rounds() -> None:
    staged = apply_quick(parse(BASE.replace("connections = [1, 8]", 'stages = ["3s:100/s", "1s:200/s"]')))
    (point,) = staged.load.points
    assert isinstance(point, Stages)
    assert point.stages == (Stage(duration_s=0.75, target=100.0), Stage(duration_s=0.25, target=200.0))
    assert staged.load.duration_s == pytest.approx(1.0)
    paired = apply_quick(parse(VARIANTS))
    assert paired.paired is not None and paired.paired.rounds == 2


# --- the documentation's examples ------------------------------------------------------------------------

def _doc_examples() -> list[str]:
    docs = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"
    text = docs.read_text()
    section = text.split("## A complete, annotated example", 1)[1]
    return re.findall(r"```toml\n(.*?)```", section, flags=re.S)


def test_documented_complete_examples_parse(tmp_path: Path) -> None:
    complete, paired = _doc_examples()
    here = tmp_path / "bench"
    for name in ("bench", "checkout-main", "checkout-pr"):
        (tmp_path / name).mkdir()
    scenario = parse(complete, base_dir=here)
    assert [w.name for w in scenario.workloads] == ["/api/items", "read-write"]
    assert scenario.app.cwd == str(tmp_path)
    assert len(build_plan(scenario).trials) == 3 * 2 * 3 * 3
    assert [v.app.cwd for v in parse(paired, base_dir=here).variants] == [
        str(tmp_path / "checkout-main"), str(tmp_path / "checkout-pr")]


def test_variants_of_a_command_app() -> None:
    text = BASE.replace('[[servers]]\nmodel = "uvicorn"\n', "") + """
[app]
command = "old-server --port {port}"

[[variants]]
name = "old"

[[variants]]
name = "new"
command = "new-server --port {port}"
"""
    scenario = parse(text)
    targets = [v.app.target for v in scenario.variants]
    assert targets == ["old-server --port {port}", "new-server --port {port}"]
    assert [s.model for s in scenario.servers] == [COMMAND_MODEL]


def test_app_spec_fields_match_the_server_layer() -> None:
    # The runner converts scenario AppSpecs to loadbench.servers.base.AppSpec field by field.
    servers_base = pytest.importorskip("loadbench.servers.base")
    from loadbench.scenario import AppSpec

    ours = [f.name for f in dataclasses.fields(AppSpec)]
    assert ours == [f.name for f in dataclasses.fields(servers_base.AppSpec)]
    scenario = load_scenario(find_scenario("paired-example"), cpus=(0, 1))
    converted = servers_base.AppSpec(**{name: getattr(scenario.variants[1].app, name) for name in ours})
    assert converted.env == (("LOADBENCH_APP_DELAY_US", "200"),)


# -- [locust]: the Locust backend's own table ----------------------------------------------------------


def _locust_scenario(tmp_path: Path, body: str) -> Path:
    (tmp_path / "locust").mkdir(exist_ok=True)
    (tmp_path / "locust" / "shop.py").write_text("# a locustfile\n")
    path = tmp_path / "s.toml"
    path.write_text(body)
    return path


def test_locust_table_resolves_the_file_and_makes_the_locustfile_workload(tmp_path: Path) -> None:
    from loadbench.scenario import load_scenario

    path = _locust_scenario(tmp_path, 'engine = "locust"\n[[servers]]\nmodel = "waitress"\n'
                                      '[locust]\nfile = "locust/shop.py"\nspawn_rate = 20\nworkers = 2\n'
                                      'workers_timeout = "10s"\n[load]\nconnections = [8]\n')  # fmt: skip
    scenario = load_scenario(path)
    assert dict(scenario.engine_settings) == {"file": str((tmp_path / "locust" / "shop.py").resolve()),
                                              "spawn_rate": 20.0, "workers": 2, "workers_timeout": 10.0}
    assert [(w.name, w.kind) for w in scenario.workloads] == [("locustfile", "locustfile")]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('engine = "locust"\n[locust]\nfile = "locust/nope.py"\n', r"s\.toml:3: \[locust\] file: 'locust/nope.py': no such file"),  # noqa: E501
        ('[locust]\nfile = "locust/shop.py"\n', r"s\.toml:1: \[locust\]: \[locust\] only applies with engine = \"locust\""),  # noqa: E501
        ('engine = "locust"\n[locust]\nfile = "locust/shop.py"\nspawn_rate = -1\n', "spawn_rate: -1 must be a positive"),  # noqa: E501
        ('engine = "locust"\n[locust]\nfile = "locust/shop.py"\nwrokers = 2\n', "did you mean 'workers'"),
        ('engine = "locust"\n[locust]\nfile = "locust/shop.py"\n[load]\nrates = [100]\n', "Locust has no open loop"),  # noqa: E501
    ],
    ids=["missing-file", "wrong-engine", "bad-spawn-rate", "typo", "rates"],
)
def test_locust_table_problems_have_file_and_line(tmp_path: Path, body: str, problem: str) -> None:
    from loadbench.errors import ScenarioError
    from loadbench.scenario import load_scenario

    path = _locust_scenario(tmp_path, body + ('' if "[[servers]]" in body else '[[servers]]\nmodel = "waitress"\n'))  # noqa: E501
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert re.search(problem, str(caught.value)), str(caught.value)


# --- unix_socket = true (issue 17 item 5) -----------------------------------------------------------------

def test_unix_socket_server_entry() -> None:
    scenario = parse(BASE.replace('model = "uvicorn"\n', 'model = "uvicorn"\nunix_socket = true\n'))
    (server,) = scenario.servers
    assert server.unix_socket is True and server.describe() == "uvicorn (unix_socket)"
    assert parse(BASE).servers[0].unix_socket is False


@pytest.mark.parametrize(
    ("server_extra", "top", "load_extra", "fragment"),
    [("tls = true\n", "", "",
      "t.toml:5: [[servers]] #1 unix_socket: a Unix socket serves plain HTTP; drop tls = true"),
     ("", 'engine = "httpx"\n', "", 'unix_socket = true needs engine = "native" (the httpx engine connects'),
     ("", "", "idle = 100\n", "unix_socket = true cannot run beside idle or slow clients"),
     ("", "", "", None)],
    ids=["tls", "engine", "crowd", "ok"],
)
def test_unix_socket_problems(server_extra: str, top: str, load_extra: str, fragment: str | None) -> None:
    text = top + BASE.replace('model = "uvicorn"\n', f'model = "uvicorn"\nunix_socket = true\n{server_extra}')
    text = text.replace("connections = [1, 8]\n", f"connections = [1, 8]\n{load_extra}")
    if fragment is None:
        assert parse(text).servers[0].unix_socket
        return
    problems = problems_of(text)
    assert len(problems) == 1 and fragment in problems[0], problems
    assert problems[0].startswith("t.toml:"), problems
