"""The exception tree and the exit codes: every error loadbench raises on purpose lives here.

    LoadbenchError                 root; the CLI prints its message as one line and exits 1
    ├── UsageError                 a bad command-line value or expression; exit 2
    │   └── TargetRefusedError     a non-loopback target without --allow-remote
    ├── ScenarioError              a scenario file that does not validate (lists every problem); exit 2
    ├── ServerUnavailableError     a server model that cannot run here (not installed, ...)
    ├── ServerStartError           a server that did not become ready (command line + its log tail)
    ├── EngineError                the load generator could not run (fd limit, ...)
    │   └── EngineUnavailableError an engine backend that cannot run here (not installed, ...)
    ├── ResultsFormatError         a results file that is not loadbench results, or of an unknown version
    └── OutputError                an output path that cannot be written (full, read-only, a link, ...)

Only the CLI turns these into messages and exit codes; library code raises and never prints.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in docs/ci.md; CI jobs branch on these."""

    OK = 0
    ERROR = 1
    USAGE = 2
    GATE_FAILED = 10  # a threshold failed, or the comparison found a regression
    INCONCLUSIVE = 11  # only with --fail-on-inconclusive
    INVALID_MEASUREMENT = 12  # too few valid pairs, the engine saturated
    INTERRUPTED = 130  # Ctrl-C: results so far are kept


class LoadbenchError(Exception):
    """Root of every error loadbench raises on purpose."""

    exit_code: ExitCode = ExitCode.ERROR


class UsageError(LoadbenchError):
    """A command-line value or expression that cannot be used as given."""

    exit_code = ExitCode.USAGE


class TargetRefusedError(UsageError):
    """A target outside loopback, refused before any socket or name lookup."""


class ScenarioError(LoadbenchError):
    """A scenario file with problems; the message lists every one, with file, line and key."""

    exit_code = ExitCode.USAGE

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = list(problems)
        listing = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(f"{path}: {count} problem{'s' if count != 1 else ''}:\n{listing}")


class ServerUnavailableError(LoadbenchError):
    """A server model that cannot run on this machine; the message says how to fix it."""


class ServerStartError(LoadbenchError):
    """A server that failed to become ready: carries its command line and the tail of its own log."""

    def __init__(self, message: str, *, command: list[str] | None = None, log_tail: str = "") -> None:
        self.command = command or []
        self.log_tail = log_tail
        parts = [message]
        if self.command:
            parts.append("command: " + " ".join(self.command))
        if log_tail.strip():
            parts.append("server log (last lines):\n" + log_tail.rstrip())
        super().__init__("\n".join(parts))


class EngineError(LoadbenchError):
    """The load generator could not run as asked."""


class EngineUnavailableError(EngineError):
    """An engine backend that cannot run on this machine; the message says how to install it."""


class ResultsFormatError(LoadbenchError):
    """A results file that is not loadbench results, is corrupt, or has an unknown version."""


class OutputError(LoadbenchError):
    """An output that cannot be written: the message names the option, the path, the reason and the fix."""
