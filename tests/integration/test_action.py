"""action.yml's shell steps, run locally as GitHub would run them, against a temporary git repository.

The `run:` scripts are read from action.yml with a YAML parser and executed with `bash --noprofile --norc
-eo pipefail` (GitHub's `shell: bash`), with GITHUB_* and RUNNER_TEMP pointing into tmp_path and each
step's `env:` and `working-directory:` resolved from the inputs and earlier steps' outputs. `uses:` steps
(setup-python, upload-artifact) are GitHub's; the upload's `path` is checked instead. The install step
gets a stub `python` that records what it is asked to do (installing every dependency would take minutes);
the other steps run the real loadbench, on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
STEPS: list[dict[str, Any]] = ACTION["runs"]["steps"]
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _step(step_id: str) -> dict[str, Any]:
    return next(step for step in STEPS if step.get("id") == step_id)


def _resolve(text: str, ctx: dict[str, Any]) -> str:
    """The few expressions action.yml may use: inputs.X, steps.ID.outputs.X, github.action_path/workspace."""
    def one(match: re.Match[str]) -> str:
        expr = match.group(1)
        if expr.startswith("inputs."):
            return str(ctx["inputs"][expr.removeprefix("inputs.")])
        if m := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr):
            return str(ctx["outputs"].get(m.group(1), {}).get(m.group(2), ""))
        if expr in ("github.action_path", "github.workspace"):
            return str(ctx[expr])
        raise AssertionError(f"action.yml uses an expression this test does not know: {expr!r}")
    return _EXPR.sub(one, text)


def _run_step(step: dict[str, Any], ctx: dict[str, Any], base_env: dict[str, str]) -> int:
    output = ctx["tmp"] / f"output-{step['id']}"
    output.write_text("")
    env = {**base_env, "GITHUB_OUTPUT": str(output)}
    env |= {key: _resolve(str(value), ctx) for key, value in step.get("env", {}).items()}
    cwd = _resolve(step.get("working-directory", str(ctx["github.workspace"])), ctx)
    script = ctx["tmp"] / f"step-{step['id']}.sh"
    script.write_text(step["run"])
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=100)  # fmt: skip
    ctx["logs"][step["id"]] = done.stdout + done.stderr
    ctx["outputs"][step["id"]] = dict(
        line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)  # fmt: skip
    return done.returncode


def _run_action(inputs: dict[str, str], ctx: dict[str, Any], base_env: dict[str, str]) -> dict[str, int]:
    """Every shell step after the install, in order; after a failure only `if:` steps run, as on GitHub."""
    defaults = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
    ctx["inputs"] = defaults | inputs
    codes: dict[str, int] = {}
    failed = False
    for step in STEPS:
        if "uses" in step or step.get("id") == "install":
            continue
        condition = step.get("if")
        assert condition in (None, "${{ !cancelled() }}"), condition
        if failed and condition is None:
            continue
        codes[step["id"]] = _run_step(step, ctx, base_env)
        failed = failed or codes[step["id"]] != 0
    return codes


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=repo,
                   check=True, capture_output=True)  # fmt: skip


APP = """\
import time

DELAY_S = {delay}


def app(environ, start_response):
    time.sleep(DELAY_S)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
"""

GATE = """\
name = "gate"

[app]
module = "svc.app:app"

[[servers]]
model = "waitress"

[[endpoints]]
path = "/"

[load]
connections = [2]
duration = "0.3s"
warmup = "0.1s"

[[variants]]
name = "baseline"

[[variants]]
name = "candidate"

[paired]
rounds = 6

[thresholds]
checks = ["error_rate < 1%"]
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository: `main` serves in no time; HEAD (the "pull request") sleeps 20 ms per request."""
    repo = tmp_path / "repo"
    (repo / "svc").mkdir(parents=True)
    (repo / "bench").mkdir()
    (repo / "svc" / "__init__.py").write_text("")
    (repo / "svc" / "app.py").write_text(APP.format(delay=0.0))
    (repo / "bench" / "gate.toml").write_text(GATE)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "baseline")
    _git(repo, "checkout", "-q", "-b", "pr")
    (repo / "svc" / "app.py").write_text(APP.format(delay=0.02))
    (repo / "bench" / "gate.toml").write_text(GATE.replace('"error_rate < 1%"', '"error_rate < 100%"'))
    _git(repo, "commit", "-q", "-am", "slower")
    return repo


def _context(tmp_path: Path, repo: Path) -> tuple[dict[str, Any], dict[str, str]]:
    (tmp_path / "runner").mkdir()
    summary = tmp_path / "summary.md"
    summary.write_text("")
    ctx: dict[str, Any] = {"tmp": tmp_path, "outputs": {}, "logs": {}, "github.action_path": ROOT,
                           "github.workspace": repo}  # fmt: skip
    venv_bin = str(Path(sys.executable).parent)
    base_env = {
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(tmp_path),
        "LANG": "C.UTF-8", "NO_COLOR": "1", "GITHUB_WORKSPACE": str(repo), "GITHUB_ACTION_PATH": str(ROOT),
        "RUNNER_TEMP": str(tmp_path / "runner"), "GITHUB_STEP_SUMMARY": str(summary), "CI": "true",
    }  # fmt: skip
    return ctx, base_env


def test_action_declares_what_docs_ci_promises() -> None:
    assert {"scenario", "baseline-ref", "thresholds", "python-version"} <= set(ACTION["inputs"])
    assert ACTION["runs"]["using"] == "composite"
    scripts = [step["run"] for step in STEPS if "run" in step]
    for script in scripts:
        assert "${{" not in script, "inputs reach scripts through env:, never as text spliced into shell"
        assert not re.search(r"pip install\s+(-\S+\s+)*['\"]?loadbench\b", script), "never install by name"
    upload = next(step for step in STEPS if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "${{ steps.paths.outputs.out }}"
    assert upload["if"] == "${{ !cancelled() }}"
    assert next(s for s in STEPS if s.get("uses", "").startswith("actions/setup-python@"))["with"] == {
        "python-version": "${{ inputs.python-version }}"}


def test_install_builds_a_wheel_from_the_checkout_and_installs_that(tmp_path: Path) -> None:
    stub_bin = tmp_path / "bin"
    stub_bin.mkdir()
    log = tmp_path / "calls.log"
    (stub_bin / "python").write_text(textwrap.dedent(f"""\
        #!/bin/bash
        echo "python $*" >> {log}
        if [ "$3" = wheel ]; then
          while [ $# -gt 0 ]; do [ "$1" = --wheel-dir ] && mkdir -p "$2" && touch "$2/loadbench-0.1.0-py3-none-any.whl"; shift; done
        fi
        """))  # noqa: E501
    (stub_bin / "loadbench").write_text(f"#!/bin/bash\necho \"loadbench $*\" >> {log}\n")
    for stub in stub_bin.iterdir():
        stub.chmod(0o755)
    ctx, env = _context(tmp_path, tmp_path)
    env["PATH"] = f"{stub_bin}{os.pathsep}/usr/bin{os.pathsep}/bin"
    ctx["inputs"] = {"extras": "http2"}
    assert _run_step(_step("install"), ctx, env) == 0, ctx["logs"]["install"]
    dist = tmp_path / "runner" / "loadbench-dist"
    assert log.read_text().splitlines() == [
        "python -m pip install --upgrade pip",
        f"python -m pip wheel --no-deps --wheel-dir {dist} {ROOT}",
        f"python -m pip install {dist}/loadbench-0.1.0-py3-none-any.whl[http2]",
        "loadbench --version",
    ]


def test_paired_run_against_a_baseline_ref_finds_the_regression(tmp_path: Path, repo: Path) -> None:
    ctx, env = _context(tmp_path, repo)
    codes = _run_action({"scenario": "bench/gate.toml", "baseline-ref": "main",
                         "thresholds": "p99 < 5s\n  errors == 0\n", "compare-args": "--metric rps"}, ctx, env)
    logs = "\n".join(f"--- {k}\n{v}" for k, v in ctx["logs"].items())
    assert codes == {"paths": 0, "run": 0, "check": 0, "compare": 0, "summary": 0, "verdict": 10}, logs
    outputs = ctx["outputs"]
    assert outputs["run"]["exit"] == "0" and outputs["check"]["exit"] == "0"
    assert outputs["compare"]["exit"] == "10", logs  # the candidate sleeps 20 ms per request
    out = Path(outputs["paths"]["out"])
    assert out == repo / "loadbench-results" and (out / "results.jsonl").is_file()
    assert (out / "junit-check.xml").is_file() and (out / "junit-compare.xml").is_file()
    header = (out / "results.jsonl").read_text().splitlines()[0]
    # The gate is the baseline's (error_rate < 1%), not the pull request's loosened one.
    assert "runner/loadbench-baseline/bench/gate.toml" in header and "error_rate < 1%" in header
    summary = (tmp_path / "summary.md").read_text()
    assert "regression" in summary.lower() and "p99 < 5s" in summary and "waitress" in summary
    assert subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True,
                          check=True).stdout.count("\n") == 2  # fmt: skip


def test_a_failed_threshold_fails_the_job_but_keeps_summary_and_results(tmp_path: Path, repo: Path) -> None:
    ctx, env = _context(tmp_path, repo)
    codes = _run_action({"scenario": "ci-smoke", "thresholds": "rps > 1000k/s",
                         "run-args": "--quick --set 'load.connections=[2]'"}, ctx, env)  # fmt: skip
    logs = "\n".join(f"--- {k}\n{v}" for k, v in ctx["logs"].items())
    assert codes == {"paths": 0, "run": 0, "check": 0, "compare": 0, "summary": 0, "verdict": 10}, logs
    assert ctx["outputs"]["check"]["exit"] == "10" and ctx["outputs"]["compare"]["exit"] == "0"
    header = (repo / "loadbench-results" / "results.jsonl").read_text().splitlines()[0]
    assert "load.connections=[2]" in header
    assert "rps > 1000k/s" in (tmp_path / "summary.md").read_text()


def test_docs_ci_uses_the_action_with_inputs_it_declares_and_never_installs_by_name() -> None:
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.S)]
    steps = [step for block in blocks for step in (block.get("steps") or next(
        iter(block.get("jobs", {}).values()), {}).get("steps", []))]  # fmt: skip
    ours = [step for step in steps if step.get("uses", "").startswith("OWNER/loadbench@")]
    assert ours and all(set(step["with"]) <= set(ACTION["inputs"]) for step in ours)
    assert "scenario" in ours[0]["with"] and "baseline-ref" in ours[0]["with"]
    for step in steps:
        assert not re.search(r"pip install\s+(-\S+\s+)*['\"]?loadbench\b", step.get("run", "")), step
