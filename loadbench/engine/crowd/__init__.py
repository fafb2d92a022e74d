"""Idle and slow clients held beside the measured load (issue 19), in their own process.

`CrowdRun` (process.py) opens a trial's `Crowd` (loadbench.types) before the warm-up and holds it
through the window; clients.py holds the asyncio clients; limits.py refuses, before anything starts, a
plan whose connections cannot fit this machine's file-descriptor and ephemeral-port limits.
"""

from __future__ import annotations

__all__: list[str] = []
