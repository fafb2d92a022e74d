"""Make SIGINT, SIGTERM and SIGHUP stop a command the way Ctrl-C does, whatever the shell did to them.

A shell starts background jobs with SIGINT ignored, and Python then installs no KeyboardInterrupt
handler; a CI runner stops jobs with SIGTERM, a closed terminal sends SIGHUP. Each of them must still
stop the servers and keep the results, so commands that run servers install these handlers explicitly.

Inside a running event loop the interrupt is not raised in place: the handler may fire within a transport
callback, which uvloop treats as that one connection's fatal error and carries on. It is scheduled as a
loop callback instead (whose KeyboardInterrupt ends the loop), and also remembered, so a loop that ends
before running the callback cannot lose it: `raise_if_interrupted()` raises it at the next safe point.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_pending: list[str] = []  # the signal names received and not yet raised


def _on_signal(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _pending.clear()
        raise KeyboardInterrupt(name) from None
    _pending.append(name)
    loop.call_soon_threadsafe(raise_if_interrupted)


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt if a stop signal arrived and has not been raised yet."""
    if _pending:
        name = _pending[0]
        _pending.clear()
        raise KeyboardInterrupt(name)


@contextlib.contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt; handlers are restored after."""
    _pending.clear()
    previous = {sig: signal.signal(sig, _on_signal) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
