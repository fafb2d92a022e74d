"""The wheel as CI builds it (`pip wheel --no-deps`): what it contains, and that it installs into a fresh
virtual environment and runs the quickstart's dry run from outside the source tree.

Building takes a few seconds. Installing every dependency into a fresh venv takes 40-50 s here (pandas,
numpy, matplotlib, ... from the pip cache), so that test is marked `slow`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out),
                    str(ROOT)], check=True, capture_output=True, timeout=240)  # fmt: skip
    (built,) = out.glob("loadbench-*.whl")
    return built


def test_the_wheel_holds_the_code_and_every_data_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = next(name.split("/")[0] for name in names if name.endswith(".dist-info/METADATA"))
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    sources = {path.relative_to(ROOT).as_posix() for path in (ROOT / "loadbench").rglob("*.py")}
    assert sources - names == set(), "packages missing from [tool.setuptools] packages"
    shipped = {f"loadbench/scenarios/{path.name}" for path in (ROOT / "scenarios").glob("*.toml")}
    assert len(shipped) > 5 and shipped <= names
    assert "loadbench/scenarios/locust/shop.py" in names
    templates = (ROOT / "loadbench" / "report" / "templates").iterdir()
    assert {f"loadbench/report/templates/{path.name}" for path in templates} <= names
    assert {"loadbench/results/results.schema.json", "loadbench/scenario/scenario.schema.json",
            "loadbench/py.typed", "loadbench/engine/locust/_loadbench_harness.py",
            "loadbench/api/pytest_plugin.py", f"{dist_info}/licenses/LICENSE"} <= names  # fmt: skip
    assert "[pytest11]\nloadbench = loadbench.api.pytest_plugin" in entry_points
    assert "[console_scripts]\nloadbench = loadbench.cli:main" in entry_points


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_and_runs_the_quickstart_dry_run(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel)], check=True,
                   capture_output=True, timeout=280)  # fmt: skip
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "NO_COLOR": "1"}  # fmt: skip
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    dry = subprocess.run([str(bin_dir / "loadbench"), "run", "quickstart", "--dry-run"], cwd=outside, env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert "quickstart" in dry.stdout and "estimated time" in dry.stdout
    schema = subprocess.run([str(bin_dir / "loadbench"), "schema", "results"], cwd=outside, env=env,
                            capture_output=True, text=True, timeout=60, check=True).stdout  # fmt: skip
    assert schema == (ROOT / "loadbench/results/results.schema.json").read_text(encoding="utf-8")
    probe = ("import importlib.metadata as m, loadbench, json; "
             "print(json.dumps([loadbench.__file__, [e.value for e in m.entry_points(group='pytest11')]]))")
    where, plugins = json.loads(subprocess.run(
        [str(bin_dir / "python"), "-c", probe], cwd=outside, env=env, capture_output=True, text=True,
        timeout=60, check=True).stdout)  # fmt: skip
    assert where.startswith(str(venv)) and "loadbench.api.pytest_plugin" in plugins
