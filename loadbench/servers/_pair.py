"""Run several server commands as one (nginx in front of gunicorn): stdlib only, run as `python -S _pair.py`.

    python -S loadbench/servers/_pair.py [--wait-for PATH] '[["gunicorn", ...], ["nginx", ...]]'

The guard runs this script as its CMD, so the script and every command it starts share the guard's
process group: a stop, a lifeline EOF or the guard's SIGKILL reaches all of them at once. The script
starts the commands in order, forwards SIGTERM, SIGINT and SIGHUP to them, and as soon as any one exits
(say gunicorn cannot import the app) stops the others and exits with that one's code, so the guard and
launch() see a failed start at once instead of a proxy answering 502 until the ready deadline.
With --wait-for, the commands after the first start once PATH exists (gunicorn's unix socket), so the
proxy never answers a readiness probe with 502 while the app is still importing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

_GRACE_S = 3.0
_POLL_S = 0.005


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _stop(children: dict[int, subprocess.Popen[bytes]], sig: int) -> None:
    """Send `sig` to every child still running, wait up to _GRACE_S, then SIGKILL the rest."""
    for child in children.values():
        if child.returncode is None:
            child.send_signal(sig)
    deadline = time.monotonic() + _GRACE_S
    for child in children.values():
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _wait_for(path: str, first: subprocess.Popen[bytes], name: str) -> int | None:
    """Wait until `path` exists; the first command's exit code (and a message) if it ends first."""
    while not os.path.exists(path):
        code = first.poll()
        if code is not None:
            code = 128 - code if code < 0 else code
            print(f"loadbench pair: {name!r} exited with code {code} before {path} appeared",
                  file=sys.stderr, flush=True)
            return code
        time.sleep(_POLL_S)
    return None


class _Stopped(Exception):
    """Raised by the signal handler, so a blocking waitpid() returns (PEP 475 would otherwise retry it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, _frame: object) -> None:
    raise _Stopped(signum)


def main(argv: list[str]) -> int:
    """Start the commands given as one JSON list of argv lists; return the exit code of the first to end."""
    wait_for = ""
    if len(argv) == 3 and argv[0] == "--wait-for":
        wait_for, argv = argv[1], argv[2:]
    commands = json.loads(argv[0]) if len(argv) == 1 else None
    if not isinstance(commands, list) or not all(isinstance(c, list) and c for c in commands):
        print("usage: _pair.py [--wait-for PATH] '[[cmd, arg, ...], ...]'", file=sys.stderr)
        return 2
    handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    for sig in handled:
        signal.signal(sig, _on_signal)
    children: dict[int, subprocess.Popen[bytes]] = {}
    names: dict[int, str] = {}
    try:
        for index, command in enumerate(commands):
            if index == 1 and wait_for:
                first = next(iter(children.values()))
                code = _wait_for(wait_for, first, names[first.pid])
                if code is not None:
                    return code
            try:
                child = subprocess.Popen(command, stdin=subprocess.DEVNULL)
            except OSError as exc:
                print(f"loadbench pair: cannot start {command[0]!r}: {exc}", file=sys.stderr, flush=True)
                _stop(children, signal.SIGTERM)
                return 127
            children[child.pid] = child
            names[child.pid] = str(command[0])
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                return 0
            ended = children.get(pid)
            if ended is None:
                continue
            code = ended.returncode = _exit_code(status)
            others = [name for other, name in names.items() if other != pid]
            print(f"loadbench pair: {names[pid]} exited with code {code}; stopping {others}",
                  file=sys.stderr, flush=True)
            for sig in handled:
                signal.signal(sig, signal.SIG_IGN)
            _stop(children, signal.SIGTERM)
            return code
    except _Stopped as stopped:
        for sig in handled:
            signal.signal(sig, signal.SIG_IGN)
        _stop(children, stopped.signum)
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
