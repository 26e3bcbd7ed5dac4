"""Take the README's screenshots of the real app: run under Xvfb, on demand (not a test).

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python tests/desktop/screenshots.py docs

Saves screenshot-empty.png, screenshot-indexing.png, screenshot-answer.png,
screenshot-citation.png and screenshot-library.png: a fresh library, a 120-page PDF being
indexed, an answer with its citations (extractive unless an Ollama runs at $OLLAMA_HOST),
citation [1] in the viewer with its page and zoom controls, and the library list sorted by
pages with two documents chosen to ask about (the chip above the question box).
Offscreen works too (QT_QPA_PLATFORM=offscreen): the window is grabbed, not the screen.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SIZE = (1280, 760)


def main(out: Path) -> int:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from desktop.app import make_app, make_window
    from tests.desktop.helpers import make_long_pdf
    from tests.fixtures.docs import make_report_pdf

    app = make_app()  # kept: the QApplication must outlive the window
    assert app is not None

    def wait(condition: Callable[[], bool], timeout_s: float = 300, settle_s: float = 0.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("screenshot step timed out")
            QApplication.processEvents()
            time.sleep(0.01)
        end = time.monotonic() + settle_s
        while time.monotonic() < end:
            QApplication.processEvents()
            time.sleep(0.01)

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FOLIO_HOME"] = str(Path(tmp) / "home")
        docs = Path(tmp) / "docs"
        docs.mkdir()
        report = make_report_pdf(docs).path
        long_pdf = make_long_pdf(docs, 120, "Keeper's Log 1898.pdf")
        settings = QSettings(str(Path(tmp) / "folio.ini"), QSettings.Format.IniFormat)
        window = make_window(settings)
        window.resize(*SIZE)
        window.splitter.setSizes([300, 560, 420])
        checked: list[object] = []
        window.ollama_checked.connect(checked.append)
        window.show()
        wait(lambda: bool(checked), settle_s=0.5)
        window.grab().save(str(out / "screenshot-empty.png"))

        finished: list[object] = []
        window.ingest_finished.connect(finished.append)
        window.add_sample()
        window.add_paths([report, long_pdf])
        panel = window.library_panel
        wait(lambda: len(finished) == 1 and "passages" in panel.progress_label.text()
             and panel.progress_bar.value() > 40, settle_s=0.3)
        window.grab().save(str(out / "screenshot-indexing.png"))
        wait(lambda: len(finished) == 2, settle_s=0.5)

        answers: list[object] = []
        window.answer_finished.connect(answers.append)
        window.ask("How do I add documents, and how do I ask about them?")
        wait(lambda: bool(answers), settle_s=0.5)
        window.grab().save(str(out / "screenshot-answer.png"))

        shown: list[object] = []
        window.citation_shown.connect(shown.append)
        window.chat.click_citation(1)
        wait(lambda: bool(shown), settle_s=1.0)
        window.grab().save(str(out / "screenshot-citation.png"))

        panel.sort.setCurrentText("Most pages")
        chosen = [d.id for d in window.documents if d.title != "Folio user guide"]
        panel.select(chosen)
        window.ask_about(chosen)
        wait(lambda: window.chat.scope_chip.isVisible(), settle_s=0.5)
        window.grab().save(str(out / "screenshot-library.png"))
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")))
