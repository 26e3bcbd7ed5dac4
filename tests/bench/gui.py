"""GUI benchmark: start-to-window time, and the longest GUI stall while indexing and answering.

Run: .venv/bin/python tests/bench/gui.py [--pages 200] [--runs 3]
Start-to-window is measured from spawning a fresh `python` to the window's first paint, in a
separate process each run (a cold-ish start: the OS file cache is warm after the first). The stall
probe is a 5 ms QTimer on the GUI thread: the longest gap between two of its ticks, minus 5 ms, is
the longest time the event loop could not react, while a PAGES-page PDF is indexed and, at the
same time, an answer streams from the fake Ollama in tests/ollama_server.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROBE_MS = 5
CHILD = """
import sys, time
from PySide6.QtCore import QTimer
from desktop.app import make_app, make_window
from PySide6.QtCore import QSettings
app = make_app()
window = make_window(QSettings())
def shown():
    print(time.time(), flush=True)
    window.close()
    app.quit()
window.show()
QTimer.singleShot(0, shown)
app.exec()
"""


def start_to_window(runs: int) -> list[float]:
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, FOLIO_HOME=str(Path(tmp) / "home"),
                   XDG_CONFIG_HOME=str(Path(tmp) / "config"), OLLAMA_HOST="http://127.0.0.1:9")
        for _ in range(runs):
            start = time.time()
            out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env,
                                 capture_output=True, text=True, check=True).stdout
            times.append(float(out.strip().splitlines()[-1]) - start)
    return times


class StallProbe:
    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.longest = 0.0
        self.ticks = 0
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(PROBE_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, (now - self._last) * 1000 - PROBE_MS)
        self._last = now
        self.ticks += 1

    def reset(self) -> None:
        self.longest, self._last, self.ticks = 0.0, time.perf_counter(), 0


def wait_for(app: object, condition: object, timeout_s: float) -> None:
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        QApplication.processEvents()
        time.sleep(0.001)
    if not condition():  # type: ignore[operator]
        raise TimeoutError("the GUI benchmark timed out")


def stalls(pages: int) -> dict[str, float]:
    from PySide6.QtCore import QSettings

    from core.library import Library
    from core.paths import default_library_dir
    from desktop.app import make_app, make_window
    from tests.desktop.helpers import make_long_pdf
    from tests.fixtures.docs import make_report_pdf
    from tests.ollama_server import FakeOllama, Fault

    app = make_app()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, FakeOllama() as fake:
        os.environ["FOLIO_HOME"] = str(Path(tmp) / "home")
        fake.set_fault(Fault.SLOW_TOKENS)
        fake.token_delay = 0.01
        fake.reply = " ".join(["The zorbicon survey counted the birds on the point [1]."] * 60)
        settings = QSettings(str(Path(tmp) / "folio.ini"), QSettings.Format.IniFormat)
        # The Ollama host is a setting of the library (core/settings.py), not of QSettings.
        with Library.open(default_library_dir()) as library:
            library.set_setting("ollama-host", fake.host)
        report = make_report_pdf(Path(tmp)).path  # fixtures first: they are made on this thread
        big = make_long_pdf(Path(tmp), pages)
        window = make_window(settings)
        window.show()
        probe = StallProbe()
        done: list[object] = []
        window.ingest_finished.connect(done.append)
        window.add_paths([report])  # loads the model, indexes 5 pages
        wait_for(app, lambda: done, 120)
        results["startup + first index (model load)"] = probe.longest

        answers: list[object] = []
        window.answer_finished.connect(answers.append)
        probe.reset()
        started = time.perf_counter()
        window.add_paths([big])
        window.ask("What did the zorbicon survey find?")
        wait_for(app, lambda: answers, 120)
        results["answer streaming while indexing"] = probe.longest
        results["  (answer time, s)"] = time.perf_counter() - started
        wait_for(app, lambda: len(done) == 2, 1800)
        results[f"whole {pages}-page index"] = probe.longest
        results[f"  ({pages}-page index time, s)"] = time.perf_counter() - started
        window.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times = start_to_window(args.runs)
    print(f"{'measure':<44} {'value':>10}  target")
    print(f"{'start to window shown, median of ' + str(args.runs) + ' (s)':<44} "
          f"{statistics.median(times):>10.2f}  < 1.5")
    print(f"{'  (each run, s)':<44} {' '.join(f'{t:.2f}' for t in times):>10}")
    for name, value in stalls(args.pages).items():
        target = "" if name.startswith("  ") else "< 100"
        unit = "" if name.startswith("  ") else " ms"
        label = name if name.startswith("  ") else f"longest GUI stall: {name}{unit}"
        print(f"{label:<44} {value:>10.1f}  {target}")


if __name__ == "__main__":
    main()
