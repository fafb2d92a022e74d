"""The Python API: lazy re-exports from `loadbench`, and bad arguments as one-line UsageErrors before any
socket opens (the runs themselves are tested in tests/integration/test_api_docs.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import loadbench
from loadbench.errors import TargetRefusedError, UsageError

ROOT = Path(__file__).resolve().parents[2]


def test_all_is_the_public_api_and_sorted() -> None:
    assert loadbench.__all__ == sorted(loadbench.__all__)
    assert set(loadbench.__all__) == {"__version__", "bench", "results_frame", "run", "serve"}
    for name in loadbench.__all__:
        assert getattr(loadbench, name) is not None
    assert set(loadbench.__all__) <= set(dir(loadbench))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = loadbench.nope  # type: ignore[attr-defined]


def test_import_loadbench_is_light() -> None:
    probe = ("import sys, loadbench\n"
             "heavy = ('loadbench.api', 'pandas', 'numpy', 'click')\n"
             "print(','.join(m for m in heavy if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == ""


def test_py_typed_ships() -> None:
    assert (ROOT / "loadbench" / "py.typed").is_file()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"connections": 4, "rate": "10/s"}, "exclude each other", id="two-shapes"),
        pytest.param({"duration": "soon"}, "duration: 'soon' is not a duration", id="bad-duration"),
        pytest.param({"rate": "fast"}, "rate: 'fast' is not a rate", id="bad-rate"),
        pytest.param({"connections": 0}, "must be at least 1", id="zero-connections"),
        pytest.param({"processes": 0}, "processes: 0", id="zero-processes"),
        pytest.param({"arrival": "bursty"}, "arrival: 'bursty'", id="bad-arrival"),
        pytest.param({"method": "GE T"}, "not an HTTP method", id="bad-method"),
        pytest.param({"stages": "10s:5/s", "duration": 3}, "stages set the duration",
                     id="stages-and-duration"),
        pytest.param({"pipeline": 0}, "pipeline: 0 must be a whole number from 1", id="zero-pipeline"),
        pytest.param({"pipeline": 2000}, "to 1024", id="deep-pipeline"),
        pytest.param({"expect_status": "2yy"}, "expect_status", id="bad-status"),
        pytest.param({"expect_body": ""}, "expect_body ''", id="empty-body"),
        pytest.param({"expect_body_re": "("}, "expect_body_re '(': not a regular expression",
                     id="bad-regex"),
        pytest.param({"pipeline": 4, "engine": "httpx"}, "need engine='native'", id="pipeline-httpx"),
    ],
)
def test_bench_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as info:
        loadbench.bench("http://127.0.0.1:9/", **kwargs)  # type: ignore[arg-type]
    assert message in str(info.value) and "\n" not in str(info.value)


def test_bench_refuses_a_remote_target() -> None:
    with pytest.raises(TargetRefusedError):
        loadbench.bench("http://192.0.2.1/", duration=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"app": "nomodule"}, "package.module:attribute", id="app-without-colon"),
        pytest.param({"app": "a:b", "command": "x {port}"}, "exclude each other", id="app-and-command"),
        pytest.param({"interface": "cgi"}, "interface: 'cgi'", id="bad-interface"),
    ],
)
def test_serve_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message), loadbench.serve("waitress", **kwargs):  # type: ignore[arg-type]
        pass


def test_results_frame_columns(tmp_path: Path) -> None:
    from synthetic import write_synthetic_results

    path = write_synthetic_results(tmp_path / "r.jsonl", models=("uvicorn",), workloads=("/plaintext",),
                                   loads=(16,), repetitions=2, variants=("baseline", "candidate"))
    frame = loadbench.results_frame(path)
    assert list(frame.columns[:8]) == ["model", "variant", "workload", "load", "load_kind", "load_value",
                                       "repetition", "round"]
    assert set(frame["model"]) == {"uvicorn"} and set(frame["variant"]) == {"baseline", "candidate"}
    assert {"rps", "p50_ms", "p99_ms", "error_rate", "server_cpu_pct", "client_cpu_pct"} <= set(frame.columns)
    assert (frame["p99_ms"] >= frame["p50_ms"]).all()
