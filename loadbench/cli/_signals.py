"""Make SIGINT, SIGTERM and SIGHUP stop a command the way Ctrl-C does, whatever the shell did to them.

A shell starts background jobs with SIGINT ignored, and Python then installs no KeyboardInterrupt
handler; a CI runner stops jobs with SIGTERM, a closed terminal sends SIGHUP. Each of them must still
stop the servers and keep the results, so commands that run servers install these handlers explicitly.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt; handlers are restored after."""
    previous = {sig: signal.signal(sig, _raise_interrupt) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
