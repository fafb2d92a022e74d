"""Request templates and the targets file: the grammar, exact messages, seeded repeatability (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadbench.engine.native.templated import compile_request, first_rendering, templated_wire
from loadbench.engine.targetfile import parse_targets
from loadbench.errors import TargetRefusedError, UsageError
from loadbench.scenario.templates import TemplateState, compile_template
from loadbench.types import RequestSpec, Target


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "users.csv").write_text("id,name\n7,ann smith\n8,bob\n9,cy\n")
    (tmp_path / "empty.csv").write_text("id\n")
    (tmp_path / "bad.csv").write_text("id,h\n1,\"a\nb\"\n")
    (tmp_path / "order.json").write_text('{{"user": {csv:users.csv:id}}}')
    return tmp_path


def _render(text: str, base: Path, *, seqs: range = range(3), seed: int = 0, context: str = "path",
            ) -> list[str]:  # fmt: skip
    template = compile_template(text, context=context, base_dir=base)  # type: ignore[arg-type]
    assert template is not None
    state = TemplateState(seed=seed)
    return [state.render(template, seq, {}).decode() for seq in seqs]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("/u/{seq}", ["/u/0", "/u/1", "/u/2"], id="seq"),
        pytest.param("/u/{csv:users.csv:id}", ["/u/7", "/u/8", "/u/9"], id="csv-in-order"),
        pytest.param("/n/{csv:users.csv:name}", ["/n/ann%20smith", "/n/bob", "/n/cy"],
                     id="csv-quoted-in-path"),
        pytest.param("/{{x}}/{seq}", ["/{x}/0", "/{x}/1", "/{x}/2"], id="escaped-braces"),
        pytest.param("/r/{random:5:5}", ["/r/5", "/r/5", "/r/5"], id="random-one-value"),
    ],
)
def test_templates_render(data_dir: Path, text: str, expected: list[str]) -> None:
    assert _render(text, data_dir) == expected


def test_an_escaped_field_is_literal(data_dir: Path) -> None:
    assert _render("/{{seq}}/{{random:1:2}}", data_dir, seqs=range(1)) == ["/{seq}/{random:1:2}"]


def test_csv_cycles_and_random_stays_in_range(data_dir: Path) -> None:
    assert _render("{csv:users.csv:id}", data_dir, seqs=range(3, 7)) == ["7", "8", "9", "7"]
    values = [int(v) for v in _render("{random:1:10}", data_dir, seqs=range(2000))]
    assert min(values) == 1 and max(values) == 10 and len(set(values)) == 10


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("/plain", id="no-braces"),
        pytest.param('{"user": "a"}', id="json-without-templates-is-literal"),
    ],
)
def test_text_without_a_template_is_sent_as_written(data_dir: Path, text: str) -> None:
    assert compile_template(text, context="body", base_dir=data_dir) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param('{"id": {seq}}', '{"id": {seq} is not a template; the templates are {seq}, '
                     "{random:LOW:HIGH}, {csv:FILE:COLUMN} or {csv-random:FILE:COLUMN}; write {{ and }} for "
                     "literal braces", id="json-forgot-to-double"),
        pytest.param("/{seq}}", "single '}' at character 7 of '/{seq}}'; in a text with templates write }} "
                     "for a literal brace", id="lone-close"),
        pytest.param("/{seq", "'{' at character 2 of '/{seq' is not closed; write {{ for a literal brace",
                     id="unclosed"),
        pytest.param("/{random:9:1}", "{random:9:1}: write {random:LOW:HIGH} with integers LOW <= HIGH, "
                     "e.g. {random:1:10000}", id="random-reversed"),
        pytest.param("/{random:a:9}", "{random:a:9}: write {random:LOW:HIGH} with integers LOW <= HIGH, "
                     "e.g. {random:1:10000}", id="random-not-int"),
        pytest.param("/{csv:users.csv}", "{csv:users.csv}: write {csv:FILE:COLUMN}, e.g. {csv:users.csv:id}",
                     id="csv-no-column"),
        pytest.param("/{csv:users.csv:age}", "users.csv: no column 'age'; its columns are id, name",
                     id="csv-unknown-column"),
        pytest.param("/{csv:nope.csv:id}", "nope.csv: cannot read the CSV file (No such file or directory); "
                     "paths are relative to the targets or scenario file", id="csv-missing"),
        pytest.param("/{csv:empty.csv:id}", "empty.csv: needs a header row and at least one row of values",
                     id="csv-empty"),
        pytest.param("/{seq:3}", "{seq:3} is not a template; the templates are {seq}, {random:LOW:HIGH}, "
                     "{csv:FILE:COLUMN} or {csv-random:FILE:COLUMN}; write {{ and }} for literal braces",
                     id="seq-with-argument"),
    ],
)
def test_template_errors_are_exact(data_dir: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        compile_template(text, context="path", base_dir=data_dir)
    assert str(info.value) == message


def test_a_csv_value_with_a_line_break_cannot_go_in_a_header(data_dir: Path) -> None:
    with pytest.raises(UsageError, match=r"^bad.csv:2: h 'a\\nb' has a line break; a header value cannot"):
        compile_template("{csv:bad.csv:h}", context="header", base_dir=data_dir)


def test_csv_random_reads_one_row_per_request(data_dir: Path) -> None:
    spec = RequestSpec(path="/u/{csv-random:users.csv:id}", template_dir=str(data_dir),
                       headers=(("X-Name", "{csv-random:users.csv:name}"),))  # fmt: skip
    wire = templated_wire([spec], [0], Target(port=8000), keepalive=True, seed=4, shard=(0, 1), by_send=True)
    assert wire is not None
    pairs = {(b"/u/7", b"ann smith"), (b"/u/8", b"bob"), (b"/u/9", b"cy")}
    for _ in range(50):
        raw = wire[0]
        path = raw.split(b" ")[1]
        name = raw.split(b"X-Name: ")[1].split(b"\r\n")[0]
        assert (path, name) in pairs


def test_the_rendered_request_is_whole_http(data_dir: Path) -> None:
    body = (data_dir / "order.json").read_bytes()
    spec = RequestSpec(method="POST", path="/o/{seq}", body=body, template_dir=str(data_dir))
    wire = templated_wire([spec], [0], Target(port=8000), keepalive=False, seed=0, shard=(0, 1), by_send=True)
    assert wire is not None
    assert wire[0] == (b"POST /o/0 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: loadbench/0.1\r\n"
                       b"Connection: close\r\nContent-Length: 11\r\n\r\n{\"user\": 7}")  # fmt: skip
    assert first_rendering(spec, seed=0).body == b'{"user": 7}'


def test_no_template_means_no_compiled_request(data_dir: Path) -> None:
    plain = RequestSpec(path="/x", template_dir=str(data_dir))
    assert compile_request(plain, Target(), keepalive=True) is None
    assert templated_wire([RequestSpec(path="/x")], [0], Target(), keepalive=True, seed=0, shard=(0, 1),
                          by_send=True) is None  # fmt: skip


def _sequence(seed: int, data_dir: Path, shard: tuple[int, int] = (0, 1)) -> list[bytes]:
    specs = [RequestSpec(path="/a/{random:1:1000000}", template_dir=str(data_dir)),
             RequestSpec(path="/b/{seq}", template_dir=str(data_dir))]  # fmt: skip
    from loadbench.engine.native.http1 import mix_sequence

    order = mix_sequence(specs, seed=seed)
    wire = templated_wire(specs, order, Target(), keepalive=True, seed=seed, shard=shard, by_send=True)
    assert wire is not None
    return [wire[i % len(wire)].split(b" ")[1] for i in range(300)]


def test_equal_seeds_give_equal_requests_and_other_seeds_do_not(data_dir: Path) -> None:
    assert _sequence(1, data_dir) == _sequence(1, data_dir)
    assert _sequence(1, data_dir) != _sequence(2, data_dir)


def test_seq_interleaves_across_engine_processes(data_dir: Path) -> None:
    seqs = [int(p.split(b"/")[2]) for p in _sequence(1, data_dir, shard=(1, 3)) if p.startswith(b"/b/")]
    assert seqs and all(s % 3 == 1 for s in seqs)


# -- the targets file -------------------------------------------------------------------------------
def test_targets_file_blocks(data_dir: Path) -> None:
    text = """# users
GET http://127.0.0.1:8000/users/{seq}
Accept: application/json

POST http://127.0.0.1:8000/orders
Content-Type: application/json
@order.json

HEAD http://127.0.0.1:8000/
"""
    target, specs = parse_targets(text, name="t.txt", base_dir=data_dir, allow_remote=False)
    assert target == Target(host="127.0.0.1", port=8000)
    assert [(s.method, s.path) for s in specs] == [
        ("GET", "/users/{seq}"), ("POST", "/orders"), ("HEAD", "/")]  # fmt: skip
    assert specs[0].headers == (("Accept", "application/json"),)
    assert specs[1].body == (data_dir / "order.json").read_bytes()
    assert [s.template_dir is not None for s in specs] == [True, True, False]


TARGET_ERRORS = [
    ("empty", "",
     "t.txt: no targets; write one per block, like 'GET http://127.0.0.1:8000/'"),
    ("no-method", "http://127.0.0.1:8000/",
     "t.txt:1: 'http://127.0.0.1:8000/' is not 'METHOD URL'; write it like 'GET http://127.0.0.1:8000/path'"),
    ("no-scheme", "GET 127.0.0.1:8000/",
     "t.txt:1: URL '127.0.0.1:8000/' has no scheme; write it like http://127.0.0.1:8000/path"),
    ("bad-header", "GET http://127.0.0.1:8000/\nnot a header",
     "t.txt:2: 'not a header' is not a header ('Name: value') or a body ('@file')"),
    ("body-not-last", "POST http://127.0.0.1:8000/\n@order.json\nX-A: 1",
     "t.txt:2: the @body line must be the block's last line"),
    ("body-missing", "POST http://127.0.0.1:8000/\n@missing.json",
     "t.txt:2: body missing.json: cannot read it (No such file or directory); paths are relative to the "
     "targets file"),
    ("two-servers", "GET http://127.0.0.1:8000/\n\nGET http://127.0.0.1:9000/",
     "t.txt:3: http://127.0.0.1:9000 is not http://127.0.0.1:8000 (line 1); all targets must share one "
     "scheme, host and port (one run drives one server): run one bench per server"),
    ("bad-template-in-url", "GET http://127.0.0.1:8000/{seq",
     "t.txt:1: '{' at character 2 of '/{seq' is not closed; write {{ for a literal brace"),
    ("bad-template-header", "GET http://127.0.0.1:8000/\nX-Id: {random:2:1}",
     "t.txt:2: {random:2:1}: write {random:LOW:HIGH} with integers LOW <= HIGH, e.g. {random:1:10000}"),
]


@pytest.mark.parametrize(("text", "message"), [pytest.param(t, m, id=i) for i, t, m in TARGET_ERRORS])
def test_targets_file_errors_are_exact(data_dir: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_targets(text, name="t.txt", base_dir=data_dir, allow_remote=False)
    assert str(info.value) == message


def test_every_target_is_loopback_checked_before_the_next_line_is_read(data_dir: Path) -> None:
    # the second block would fail to parse; the remote host in the first is refused first
    with pytest.raises(TargetRefusedError, match=r"http://example\.com is not a loopback address"):
        parse_targets("GET http://example.com/\n\nnonsense", name="t.txt", base_dir=data_dir,
                      allow_remote=False)  # fmt: skip
    # and a later remote target is refused even after a good first one, before its headers are read
    with pytest.raises(TargetRefusedError, match=r"http://10\.0\.0\.1:8000 is not a loopback address"):
        parse_targets("GET http://127.0.0.1:8000/\n\nGET http://10.0.0.1:8000/\n@missing", name="t.txt",
                      base_dir=data_dir, allow_remote=False)  # fmt: skip


# -- scenarios -------------------------------------------------------------------------------------
SCENARIO = """
[[servers]]
model = "uvicorn"

[[endpoints]]
path = "/db?id={random:1:1000}"

[[endpoints]]
name = "user"
path = "/u/{csv:users.csv:id}"
headers = { X-Id = "{seq}" }

[[endpoints]]
name = "static"
path = "/plaintext"

[load]
connections = [4]
"""


def test_scenario_endpoints_are_templates_relative_to_the_scenario(data_dir: Path) -> None:
    from loadbench.scenario import parse_scenario

    scenario = parse_scenario(SCENARIO, path="s.toml", base_dir=data_dir)
    dirs = {e.name: e.template_dir for e in scenario.endpoints}
    assert dirs == {"/db?id={random:1:1000}": str(data_dir), "user": str(data_dir), "static": None}
    assert [w.requests[0].template_dir for w in scenario.workloads] == [str(data_dir), str(data_dir), None]


def test_a_bad_template_in_a_scenario_names_file_line_and_key(data_dir: Path) -> None:
    from loadbench.errors import ScenarioError
    from loadbench.scenario import parse_scenario

    with pytest.raises(ScenarioError) as info:
        parse_scenario(SCENARIO.replace("users.csv:id", "users.csv:age"), path="s.toml", base_dir=data_dir)
    assert str(info.value).endswith(
        "s.toml:10: [[endpoints]] #2 path: users.csv: no column 'age'; its columns are id, name")
