"""The pytest plugin (entry point `pytest11`, loaded once loadbench is installed): servers under load.

    @pytest.mark.loadbench
    @pytest.mark.parametrize("model", ["waitress", "uvicorn"])
    def test_p99_budget(loadbench_serve, model):
        base_url = loadbench_serve(model, app="myapp:app")
        result = loadbench.bench(base_url + "/", connections=8, duration="2s")
        assert result.latency_ms["p99"] < 50

`loadbench_serve(model, app=None, **options)` takes loadbench.serve()'s arguments and returns the base
URL; every server it started is stopped at teardown, whether the test passed, failed or raised. The
`loadbench` marker labels load tests, so `pytest -m "not loadbench"` leaves them out. Importing this
module imports only pytest; loadbench's machinery loads when a server is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

MARKER = "loadbench: a load test that starts servers on 127.0.0.1 (deselect with -m 'not loadbench')"


def pytest_configure(config: pytest.Config) -> None:
    """Register the `loadbench` marker (so --strict-markers accepts it)."""
    config.addinivalue_line("markers", MARKER)


@pytest.fixture
def loadbench_serve() -> Iterator[Callable[..., str]]:
    """A factory: `loadbench_serve(model, app=None, **options)` starts a server and returns its base URL.

    Options are those of loadbench.serve (workers, threads, cpus, command, ready_timeout, ...). The
    servers stop at teardown in reverse order of start, even when the test failed.
    """
    from loadbench.api._serve import serve

    with ExitStack() as stack:

        def start(model: str, app: str | None = None, **options: Any) -> str:
            url: str = stack.enter_context(serve(model, app, **options))
            return url

        yield start
