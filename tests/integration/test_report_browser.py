"""The HTML report in a real headless Chromium: it renders, every chart has a size, nothing is logged.

Two page loads of a report built from seeded synthetic results: the report as written (console scanned,
screenshot taken), and a test copy whose CSP meta is swapped for a small script that measures each chart
figure into data- attributes, read back with --dump-dom. No network: the page is a file:// URL and the
report itself forbids every fetch.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from synthetic import write_synthetic_results

from loadbench.report import write_report

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-extensions",
    "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
)
MEASURE = """<script>
document.querySelectorAll("figure.chart").forEach(function (fig) {
  var svg = fig.querySelector("svg"), box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  fig.setAttribute("data-w", Math.round(box.width));
  fig.setAttribute("data-h", Math.round(box.height));
});
document.body.setAttribute("data-measured", document.querySelectorAll("figure.chart").length);
</script>"""


def _chromium(profile: Path, *args: str, timeout_s: float = 90.0) -> subprocess.CompletedProcess[str]:
    """Run Chromium in its own session with a fresh profile; kill the whole group if it hangs."""
    assert CHROMIUM is not None
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not finish within {timeout_s} s: {' '.join(command)}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium); the browser test needs it")
    tmp = tmp_path_factory.mktemp("browser")
    results = write_synthetic_results(
        tmp / "results.jsonl", seed=2, models=("waitress", "gunicorn", "uvicorn"),
        workloads=("/plaintext", "/io?ms=20"), failed=(3,), saturated_every=9,
    )
    return write_report(results)


def test_report_renders_without_console_messages_and_screenshots(report: Path) -> None:
    shot = report.with_name("screenshot.png")
    done = _chromium(report.parent / "profile-shot", f"--screenshot={shot}", "--window-size=1280,4000",
                     report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], "the page logged to the console (a CSP violation, a script error, ...)"
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a blank page compresses far smaller
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 4000)


def test_every_chart_has_a_size_in_the_rendered_page(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    csp = re.search(r'<meta http-equiv="Content-Security-Policy"[^>]*>', html)
    assert csp is not None
    probe = report.with_name("probe.html")
    probe.write_text(html.replace(csp.group(0), "").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    done = _chromium(report.parent / "profile-dom", "--dump-dom", "--window-size=1280,900", probe.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert 'data-measured="10"' in dom, "the measuring script did not run or found no charts"
    sizes = re.findall(r'<figure class="chart" id="([\w-]+)"[^>]*data-w="(\d+)" data-h="(\d+)"', dom)
    assert len(sizes) == 10
    for chart_id, w, h in sizes:
        assert int(w) >= 400 and int(h) >= 200, f"{chart_id} rendered at {w}×{h} px"
    assert "On /io?ms=20, uvicorn (event-loop) wins" in dom
