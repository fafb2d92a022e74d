"""uvicorn over TCP against uvicorn over its Unix socket, driven by `loadbench bench` (issue 17 item 5).

Run by hand: `.venv/bin/python benchmarks/unix_socket.py [--model uvicorn] [--rounds 3] [--window 5s]`.

Method (shared/MEASURING.md): two servers of one model, one on 127.0.0.1:PORT, one on a Unix socket in a
private temp dir, both started by `loadbench serve ... --cpus 0`; `loadbench bench --cpus 1 -c 16 --warmup
1s -d WINDOW --json -` drives them in turn, the order alternating by round (TCP, Unix; Unix, TCP; ...).
Per configuration: median req/s and requests per client CPU-second over the rounds, and the ratio Unix/TCP
of the medians. The load average before and after is printed: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

LOADBENCH = [sys.executable, "-m", "loadbench"]


def _serve(model: str, extra: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([*LOADBENCH, "serve", model, "--cpus", "0", *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if " ready at " not in line:
        proc.terminate()
        raise SystemExit(f"{model} did not start: {line!r}")
    return proc, line.split(" ready at ")[1].split(",")[0]


def _bench(url: str, extra: list[str], window: str) -> tuple[float, float]:
    out = subprocess.run([*LOADBENCH, "bench", url, "-c", "16", "-d", window, "--warmup", "1s", "--cpus", "1",
                          "--quiet", "--json", "-", *extra], capture_output=True, text=True, check=True)
    record = json.loads(out.stdout)
    return float(record["rps"]), float(record["requests"]) / float(record["client_cpu_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="uvicorn")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", default="5s")
    args = parser.parse_args()
    print("load average before:", os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="loadbench-unixbench-") as tmp:
        sock = Path(tmp) / "app.sock"
        tcp, tcp_url = _serve(args.model, ["--port", "0"])
        unix, _ = _serve(args.model, ["--unix-socket", str(sock)])
        configs = {"tcp": (f"{tcp_url}/plaintext", []),
                   "unix": ("http://localhost/plaintext", ["--unix-socket", str(sock)])}
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in configs}
        try:
            for round_ in range(args.rounds):
                order = list(configs) if round_ % 2 == 0 else list(reversed(configs))
                for name in order:
                    url, extra = configs[name]
                    samples[name].append(_bench(url, extra, args.window))
                    print(f"round {round_ + 1} {name}: {samples[name][-1][0]:,.0f} req/s, "
                          f"{samples[name][-1][1]:,.0f} req per client CPU-s", flush=True)
        finally:
            for proc in (tcp, unix):
                proc.terminate()
                proc.wait(10)
    medians = {name: (statistics.median(s[0] for s in rows), statistics.median(s[1] for s in rows))
               for name, rows in samples.items()}  # fmt: skip
    for name, (rps, per_cpu) in medians.items():
        print(f"{name:5} median {rps:,.0f} req/s, {per_cpu:,.0f} req per client CPU-s")
    print(f"unix/tcp: req/s {medians['unix'][0] / medians['tcp'][0]:.2f}x, "
          f"per client CPU-s {medians['unix'][1] / medians['tcp'][1]:.2f}x")
    print("load average after:", os.getloadavg())


if __name__ == "__main__":
    main()
