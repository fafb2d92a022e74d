"""Golden-file options: `--update-golden` rewrites the expected outputs from what the code renders now.

pytest reads command-line options only from conftest files it loads at start-up, so name this
directory when updating:

    .venv/bin/python -m pytest tests/golden --update-golden

Review the diff of tests/golden/expected/ before committing it.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", default=False,
        help="rewrite tests/golden/expected/* from the current output instead of comparing",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was asked to rewrite the golden files."""
    return bool(request.config.getoption("--update-golden", default=False))
