"""A WSGI app that refuses to import under gunicorn: a user app one server model cannot start.

The runner must record that model's trials as failed, with gunicorn's log, and go on to the next model.
"""

from __future__ import annotations

import sys

from tests.apps.tiny_wsgi import app

if "gunicorn" in sys.modules:
    raise ImportError("picky_wsgi will not run under gunicorn (a test app that fails to start on purpose)")

__all__ = ["app"]
