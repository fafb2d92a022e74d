"""The wheel ships every subpackage and the shipped scenarios; `loadbench --help` stays light."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "loadbench").rglob("__init__.py")
    }
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages"


def test_help_imports_no_heavy_module() -> None:
    probe = (
        "import sys\n"
        "from loadbench.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('pandas', 'matplotlib', 'numpy', 'uvicorn', 'gunicorn', 'waitress', 'uvloop')\n"
        "         if m in sys.modules]\n"
        "print('heavy=' + ','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.splitlines()[-1] == "heavy="


def test_each_command_help_ends_with_examples() -> None:
    from click.testing import CliRunner

    from loadbench.cli import cli

    runner = CliRunner()
    for name in ("run", "bench", "serve", "models", "engines", "report", "check", "compare", "schema"):
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert "Examples:" in result.output, name


def test_one_version_source_a_license_and_an_all_extra() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = config["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert config["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "loadbench.__version__"}
    assert project["license"] == {"text": "MIT"}
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert "License :: OSI Approved :: MIT License" in project["classifiers"]
    extras = project["optional-dependencies"]
    optional = set(extras) - {"all", "test", "dev"}
    (spec,) = extras["all"]
    assert spec.startswith("loadbench[") and set(spec[len("loadbench["):-1].split(",")) == optional


def test_the_pytest_plugin_and_package_data_are_declared() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["entry-points"]["pytest11"] == {"loadbench": "loadbench.api.pytest_plugin"}
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["loadbench"]
