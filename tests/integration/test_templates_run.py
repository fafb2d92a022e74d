"""Templated requests against a server that logs what it receives: the values, the order, the seed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from servers_for_tests import test_server

from loadbench.cli import main
from loadbench.engine import drive
from loadbench.types import Closed, DriveOptions, Open, RequestSpec, Target

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@click.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def cli(argv: tuple[str, ...]) -> None:
    """The `loadbench` console script (exit codes included) as a click command, for CliRunner."""
    main(list(argv))


def _specs(base: Path) -> list[RequestSpec]:
    (base / "users.csv").write_text("id\n11\n12\n13\n")
    return [
        RequestSpec(path="/u/{seq}?r={random:1:1000000}", headers=(("X-Id", "{csv:users.csv:id}"),),
                    template_dir=str(base)),
        RequestSpec(method="POST", path="/o", body=b'{{"n": {seq}}}', template_dir=str(base), weight=2),
    ]  # fmt: skip


def _logged(specs: list[RequestSpec], connections: int, seed: int, n: int = 300) -> list[str]:
    with test_server("ok") as srv:
        rec = drive(Target(port=srv.port), specs, Closed(connections=connections),
                    DriveOptions(duration_s=None, max_requests=n, seed=seed))  # fmt: skip
        log = srv.log()
    assert rec.requests == n == len(log) and not any(rec.errors.values())
    return log


def test_templated_paths_headers_and_bodies_arrive_filled_in(tmp_path: Path) -> None:
    log = _logged(_specs(tmp_path), 1, seed=5)
    seqs = []
    for line in log:
        target, ident, body = line.split(" ", 2)
        if target.startswith("/u/"):
            seq = int(target[3:].split("?")[0])
            assert 1 <= int(target.split("r=")[1]) <= 1_000_000
            assert ident == ("11", "12", "13")[seq % 3]
        else:
            assert target == "/o" and ident == "-" and body.startswith('{"n": ') and body.endswith("}")
            seq = int(body[6:-1])
        seqs.append(seq)
    assert seqs == list(range(300))  # one connection: sent (and received) in order, each number once
    kinds = Counter(line.startswith("/o") for line in log)
    assert 180 <= kinds[True] <= 220  # the 1:2 mix


def test_equal_seeds_repeat_the_requests_exactly(tmp_path: Path) -> None:
    specs = _specs(tmp_path)
    assert _logged(specs, 1, seed=7) == _logged(specs, 1, seed=7)
    assert _logged(specs, 1, seed=7) != _logged(specs, 1, seed=8)
    # several connections: each request's content is fixed by its place in the send order, so the run
    # sends the same requests; only the interleaving on the wire follows the server's timing
    assert sorted(_logged(specs, 8, seed=7)) == sorted(_logged(specs, 1, seed=7))


def test_two_engine_processes_never_repeat_a_seq(tmp_path: Path) -> None:
    spec = RequestSpec(path="/u/{seq}", template_dir=str(tmp_path))
    with test_server("ok") as srv:
        rec = drive(Target(port=srv.port), [spec], Closed(connections=4),
                    DriveOptions(duration_s=None, max_requests=400, processes=2))  # fmt: skip
        log = srv.log()
    seqs = [int(line.split(" ")[0][3:]) for line in log]
    assert rec.requests == 400 and len(set(seqs)) == len(seqs) == 400


def test_templates_in_the_open_loop(tmp_path: Path) -> None:
    spec = RequestSpec(path="/u/{seq}", template_dir=str(tmp_path))
    with test_server("ok") as srv:
        rec = drive(Target(port=srv.port), [spec], Open(rate_per_s=400), DriveOptions(duration_s=0.5))
        log = srv.log()
    assert rec.requests >= 150
    assert sorted(int(line.split(" ")[0][3:]) for line in log) == list(range(len(log)))


def test_bench_targets_file_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "ids.csv").write_text("id\na\nb\n")
    (tmp_path / "body.json").write_text('{{"id": "{csv:ids.csv:id}"}}')
    with test_server("ok") as srv:
        (tmp_path / "targets.txt").write_text(
            f"GET http://127.0.0.1:{srv.port}/t/{{seq}}\nX-Id: {{csv:ids.csv:id}}\n\n"
            f"POST http://127.0.0.1:{srv.port}/post\nContent-Type: application/json\n@body.json\n"
        )
        result = CliRunner().invoke(cli, ["bench", "--targets", str(tmp_path / "targets.txt"), "-c", "1",
                                           "-n", "40", "--seed", "3", "-H", "X-Extra: 1"])  # fmt: skip
        log = srv.log()
    assert result.exit_code == 0, result.output
    assert "40 responses, 40 ok" in result.output
    assert len(log) == 40
    for seq, line in enumerate(log):
        target, ident, body = line.split(" ", 2)
        row = "ab"[seq % 2]
        assert (target, ident) == (f"/t/{seq}", row) or (target, body) == ("/post", f'{{"id": "{row}"}}')


def test_bench_targets_refuses_a_url_and_a_body_beside_it(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("GET http://127.0.0.1:1/\n")
    both = CliRunner().invoke(cli, ["bench", "http://127.0.0.1:1/", "--targets", str(tmp_path / "t.txt")])
    assert both.exit_code == 2 and "give a URL or --targets FILE (one of them)" in both.output
    body = CliRunner().invoke(cli, ["bench", "--targets", str(tmp_path / "t.txt"), "--body", "x"])
    assert body.exit_code == 2
    assert "--targets FILE sets each request's method and body: drop -m, --body and --mix" in body.output
    remote = tmp_path / "r.txt"
    remote.write_text("GET http://example.com/\n")
    refused = CliRunner().invoke(cli, ["bench", "--targets", str(remote)])
    assert refused.exit_code != 0 and "is not a loopback address" in refused.output
