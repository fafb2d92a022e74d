"""Profiles without a server: py-spy's raw output, bounding, the results round trip, folding and ranking,
the flame graph's SVG (parses as XML, escapes hostile names), the plan's profiled trials, and the finding."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from loadbench.analysis.profiles import fold_frames, frame_category, profile_finding, view_profile
from loadbench.plan import build_plan, profile_trials
from loadbench.profile.pyspy import parse_raw, pyspy_argv, refusal
from loadbench.report.flamegraph import flame_svg, xml_text
from loadbench.results import profiles as prof
from loadbench.results.build import TrialIdentity
from loadbench.results.file import ResultsWriter, read_results
from loadbench.results.profiles import ProfileRecord, Sampler, bound_stacks, profile_record
from loadbench.results.records import make_header
from loadbench.scenario import parse_scenario
from loadbench.shapes import Closed

ROOT = "_run_module_as_main (<frozen runpy>);_run_code (<frozen runpy>)"
WORKER = (f"{ROOT};<module> (gunicorn/__main__.py);Arbiter.run (gunicorn/arbiter.py);"
          "SyncWorker.run (gunicorn/workers/sync.py)")
APP = (f"{WORKER};SyncWorker.handle_request (gunicorn/workers/sync.py);application (loadbench/app/wsgi.py);"
       "cpu_work (loadbench/app/endpoints.py)")
CLOSE = f"{WORKER};SyncWorker.handle (gunicorn/workers/sync.py);close_graceful (gunicorn/util.py)"
SMALL = '[[servers]]\nmodel = "waitress"\n[[endpoints]]\npath = "/"\n[load]\nconnections = [1]\n'
RAW = (
    f'process 10:"python -m gunicorn";process 11:"python -m gunicorn";{APP} 30\n'
    f'process 10:"python -m gunicorn";process 12:"python -m gunicorn";{APP} 10\n'
    f'process 10:"python -m gunicorn";process 11:"python -m gunicorn";{CLOSE} 50\n'
    f'process 10:"python -m gunicorn";{ROOT};Arbiter.wait_for_signals (gunicorn/arbiter.py) 10\n'
    "not a stack line\n"
)


def _identity(model: str = "gunicorn", load: int = 64) -> TrialIdentity:
    return TrialIdentity(trial_id=f"{model}|plain|{load}c|1", index=3, model=model, server_model=model,
                         family="pre-fork", workload="/plaintext", load=Closed(connections=load),
                         started="2026-11-24T10:00:00+00:00")


def _record(model: str = "gunicorn", raw: str = RAW) -> ProfileRecord:
    sampler = Sampler(version="0.4.3", cpus=(1,))
    return profile_record(_identity(model), sampler=sampler, stacks=parse_raw(raw), duration_s=1.5,
                          sampler_cpu_s=0.12, requests=900, rps=600.0, processes=3)


def test_raw_output_merges_workers_and_drops_command_lines() -> None:
    counts = parse_raw(RAW)
    assert counts[f"[main process];[child process];{APP}"] == 40  # workers 11 and 12 add up
    assert sum(counts.values()) == 100
    assert not any("python -m" in stack for stack in counts)


def test_pyspy_command_line_and_refusals() -> None:
    argv = pyspy_argv("/x/py-spy", 42, Path("/tmp/p.txt"), 100)
    assert argv[:4] == ["/x/py-spy", "record", "--format", "raw"]
    assert {"--subprocesses", "--nolineno", "--nonblocking"} <= set(argv)
    assert "--idle" not in argv and "--native" not in argv
    assert "--nonblocking" not in pyspy_argv("/x/py-spy", 42, Path("/tmp/p.txt"), 100, nonblocking=False)
    assert refusal("Error: Operation not permitted (os error 1)")
    assert not refusal("py-spy> Sampling process 100 times a second")


def test_bounding_keeps_the_totals_and_cuts_long_stacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prof, "MAX_STACKS", 2)
    deep = ";".join(f"f{i} (m.py)" for i in range(500))
    kept, dropped = bound_stacks({"a (m.py)": 5, "b (m.py)": 3, "c (m.py)": 2, deep: 4, "zero (m.py)": 0})
    assert [count for _, count in kept] == [5, 4] and dropped == 5
    frames = kept[1][0].split(";")
    assert len(frames) == prof.MAX_FRAMES and prof.ELIDED_FRAME in frames and frames[-1] == "f499 (m.py)"


def test_profile_lines_round_trip_and_stay_out_of_the_trials(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    record = _record()
    skipped = profile_record(_identity("nginx"), reason="nginx is written in C")
    with ResultsWriter(path, make_header(scenario_name="p")) as writer:
        writer.append_profile(record)
        writer.append_profile(skipped)
    results = read_results(path)
    assert results.trials == () and results.warnings == ()
    assert results.profiles == (record, skipped)
    assert results.profiles[0].to_json() == json.loads(path.read_text().splitlines()[1])
    assert record.samples == 100 and record.sampler_cpu_pct == 8.0 and record.trial_id.endswith("|profile")
    assert not skipped.profiled and skipped.reason == "nginx is written in C" and skipped.stacks == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"stacks": [["a;b", -1]]}, "key 'stacks' item 0", id="negative-count"),
        pytest.param({"stacks": [["a;b"]]}, "key 'stacks' item 0", id="no-count"),
        pytest.param({"profiled": "yes"}, "key 'profiled' must be bool", id="profiled-not-bool"),
    ],
)
def test_damaged_profile_lines_name_the_line_and_key(tmp_path: Path, change: dict[str, object],
                                                     message: str) -> None:
    path = tmp_path / "results.jsonl"
    with ResultsWriter(path, make_header(scenario_name="p")) as writer:
        writer.append_profile(_record())
    header, line = path.read_text().splitlines()
    path.write_text(header + "\n" + json.dumps({**json.loads(line), **change}) + "\n")
    with pytest.raises(Exception, match=message) as info:
        read_results(path)
    assert f"{path}:2" in str(info.value)


def test_folding_keeps_app_frames_and_the_innermost_of_each_framework_run() -> None:
    folded = fold_frames(APP.split(";"))
    assert folded == ["_run_code (<frozen runpy>)", "SyncWorker.handle_request (gunicorn/workers/sync.py)",
                      "application (loadbench/app/wsgi.py)", "cpu_work (loadbench/app/endpoints.py)"]
    frames = ("[main process]", "x (gunicorn/a.py)", "y (socket.py)", "z (myapp/v.py)")
    assert [frame_category(f) for f in frames] == ["process", "framework", "stdlib", "app"]


def test_top_functions_and_the_finding() -> None:
    view = view_profile(_record())
    own = {f.function: (round(f.own_share, 2), round(f.total_share, 2)) for f in view.top_own}
    assert view.top_own[0].function == "close_graceful" and own["close_graceful"] == (0.5, 0.5)
    assert own["cpu_work"] == (0.4, 0.4) and view.app_share == pytest.approx(0.4)
    totals = {f.function: f.total_share for f in view.top_total}
    assert totals["SyncWorker.handle_request"] == pytest.approx(0.4)
    busy_app = profile_record(_identity("uvicorn"), stacks={
        f"{ROOT};cpu_work (loadbench/app/endpoints.py)": 9, f"{ROOT};Runner.run (asyncio/runners.py)": 1})
    nginx = view_profile(profile_record(_identity("nginx")))
    finding = profile_finding([view, view_profile(busy_app), nginx])
    assert finding == (
        "The profiles at 64c show why: 50 % of gunicorn's samples are in close_graceful (gunicorn/util.py: "
        "closing connections); 90 % of uvicorn's samples are in the app's code against 40 % of gunicorn's."
    )
    assert profile_finding([view_profile(busy_app)]) is None  # nothing outside the app stands out


HOSTILE = '</text><script>alert("x")</script>&amp;\x00\x1b[31m\ud800 \'q\''


def test_flame_graph_is_xml_and_escapes_hostile_names() -> None:
    stacks = [(("[main process]", f"{HOSTILE} (evil.py)", "leaf (app.py)"), 7), (("[main process]",), 3)]
    svg = flame_svg(stacks, total=10, title=HOSTILE)
    root = ET.fromstring(svg)  # parses: no raw '<', no control characters, no lone surrogates
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert {el.tag.rsplit("}", 1)[-1] for el in root.iter()} == {"svg", "title", "text", "g", "rect"}
    titles = [el.text or "" for el in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any('</text><script>alert("x")</script>&amp;' in t for t in titles)  # shown as text, not markup
    assert "\x1b" not in svg and "\x00" not in svg
    assert xml_text("<a & 'b'>") == "&lt;a &amp; &#39;b&#39;&gt;"
    widths = [float(r.get("width", 0)) for r in root.iter("{http://www.w3.org/2000/svg}rect")]
    assert max(widths) == pytest.approx(1200 - 0.4)  # the root process spans every sample


def test_plan_profiles_the_heaviest_point_once_after_its_last_block() -> None:
    text = """
profile = true
[[servers]]
model = "waitress"
[[servers]]
model = "gunicorn"
[[endpoints]]
path = "/plaintext"
[[endpoints]]
path = "/io?ms=5"
[load]
connections = [1, 64, 8]
duration = "1s"
repeat = 2
"""
    scenario = parse_scenario(text, cpus=(0, 1))
    assert scenario.profile == "heaviest"
    plan = build_plan(scenario)
    chosen = profile_trials(plan, scenario.profile)
    picked = [(t.server.name, t.workload.name, t.load.label, t.repetition)
              for ts in chosen.values() for t in ts]
    assert sorted(picked) == sorted([(s, w, "64c", 2) for s in ("waitress", "gunicorn")
                                     for w in ("/plaintext", "/io?ms=5")])
    assert all(t.block == block for block, ts in chosen.items() for t in ts)
    assert len([t for ts in profile_trials(plan, "all").values() for t in ts]) == 12
    assert profile_trials(plan, "off") == {}


@pytest.mark.parametrize(("value", "expected"), [("true", "heaviest"), ("false", "off"), ('"all"', "all")])
def test_scenario_profile_key(value: str, expected: str) -> None:
    text = f"profile = {value}\n{SMALL}"
    assert parse_scenario(text, cpus=(0, 1)).profile == expected


def test_scenario_profile_key_rejects_other_values() -> None:
    text = f'profile = "sometimes"\n{SMALL}'
    with pytest.raises(Exception, match="not a profile setting"):
        parse_scenario(text, cpus=(0, 1))


def test_without_pyspy_the_run_goes_on_unprofiled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from loadbench.profile import session as module

    monkeypatch.setattr(module, "find_pyspy", lambda: None)
    profiler = module.ProfileSession(run_dir=tmp_path, cpus=(1,))
    assert profiler.off_reason == "py-spy is not installed; install it with: pip install 'loadbench[profile]'"
    record, warning = profiler.profile(_identity(), 1, unprofiled_reason=None, drive=pytest.fail)
    assert not record.profiled and record.reason == profiler.off_reason and warning is None


def test_a_refused_ptrace_turns_profiling_off_with_one_line(tmp_path: Path) -> None:
    from loadbench.profile import DriveFacts, ProfileSession

    fake, said = tmp_path / "py-spy", tmp_path / "said"
    refused = "echo 'Error: Operation not permitted (os error 1)' >&2"
    fake.write_text(f'#!/bin/sh\n[ "$1" = record ] || {{ echo "py-spy 0.0.0"; exit 0; }}\n{refused}\n'
                    f"touch {said}\nexit 1\n")
    fake.chmod(0o755)

    def drive() -> DriveFacts:  # the load runs until py-spy has given up, as a real trial would
        deadline = time.monotonic() + 10
        while not said.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return DriveFacts(requests=5, rps=5.0, processes=1)

    profiler = ProfileSession(run_dir=tmp_path, cpus=None, exe=str(fake))
    record, warning = profiler.profile(_identity(), 1, unprofiled_reason=None, drive=drive)
    assert not record.profiled and "Operation not permitted" in record.reason
    assert warning is not None and warning.startswith("profiling is off for this run: the kernel refused")
    assert "\n" not in warning
    again, second = profiler.profile(_identity("waitress"), 1, unprofiled_reason=None, drive=pytest.fail)
    assert again.reason == record.reason and second is None  # said once; the run goes on unprofiled
