"""Golden-file fixtures: `--update-golden` (declared in tests/conftest.py) rewrites the expected outputs.

    .venv/bin/python -m pytest --update-golden

Review the diff of tests/golden/expected/ before committing it.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was asked to rewrite the golden files."""
    return bool(request.config.getoption("--update-golden", default=False))
