"""loadbench from Python: bench a URL, serve a model, run a scenario, read results into pandas.

    result = loadbench.bench("http://127.0.0.1:8000/", connections=16, duration="5s")
    with loadbench.serve("uvicorn", app="myproject.asgi:app") as base_url: ...
    results = loadbench.run("quickstart", quick=True)
    frame = loadbench.results_frame(results.path)

Each function equals a CLI command (bench, serve, run, report --format csv); docs/api.md has examples
that run as tests. Nothing heavy is imported until a function is called. The pytest plugin
(loadbench.api.pytest_plugin) is loaded by pytest through the `pytest11` entry point.
"""

from __future__ import annotations

from loadbench.analysis.frame import results_frame
from loadbench.api._bench import bench
from loadbench.api._run import run
from loadbench.api._serve import serve

__all__ = ["bench", "results_frame", "run", "serve"]
