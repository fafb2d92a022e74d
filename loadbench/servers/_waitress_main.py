"""Run waitress-serve with its per-request "Task queue depth" warning silenced.

    python -m loadbench.servers._waitress_main [waitress-serve options] module:app

With more connections than threads, waitress logs that warning (logger "waitress.queue") for every
queued request: thousands of lines a run, which cost server CPU and bury real errors in the log.
Everything else is waitress-serve unchanged.
"""

from __future__ import annotations

import logging
import sys


def main() -> int:
    """Silence the queue logger, then hand the command line to waitress-serve's own runner."""
    from waitress.runner import run

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    return int(run(["waitress-serve", *sys.argv[1:]]) or 0)


if __name__ == "__main__":
    sys.exit(main())
