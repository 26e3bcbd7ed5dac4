"""`folio gui --ask Q --cite N --screenshot FILE`: drive the window, then save a PNG and quit."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from desktop.launcher import GuiOptions
from desktop.main_window import MainWindow

SETTLE_MS = 700  # lets the PDF page render (QPdfView renders on its own thread) before the shot
TIMEOUT_MS = 300_000


class Script(QObject):
    """Runs the steps one after another, each started by the signal that ends the previous one."""

    def __init__(self, window: MainWindow, options: GuiOptions) -> None:
        super().__init__(window)
        self.window = window
        self.options = options
        self.exit_code = 1
        self._pending = {"documents", "ollama"}
        self._asked = False
        QTimer.singleShot(TIMEOUT_MS, self._timed_out)

    def start(self) -> None:
        self.window.documents_loaded.connect(lambda _docs: self._ready("documents"))
        self.window.ollama_checked.connect(lambda _status: self._ready("ollama"))

    def _ready(self, what: str) -> None:
        self._pending.discard(what)
        if self._pending or self._asked:
            return
        self._asked = True
        if self.options.ask:
            self.window.answer_finished.connect(self._on_answer)
            self.window.ask(self.options.ask)
        else:
            self._finish(0)

    def _on_answer(self, answer: object) -> None:
        if isinstance(answer, str):
            print(f"folio: {answer}", file=sys.stderr)
        if self.options.cite is None:
            self._finish(0)
            return
        self.window.citation_shown.connect(lambda _c: self._finish(0))
        if not self.window.chat.click_citation(self.options.cite):
            print(f"folio: the answer has no citation [{self.options.cite}]", file=sys.stderr)
            self._finish(1)

    def _finish(self, code: int) -> None:
        self.exit_code = code
        if self.options.screenshot is None:
            return  # --ask alone: the window stays open for the user
        QTimer.singleShot(SETTLE_MS, self._save)

    def _save(self) -> None:
        assert self.options.screenshot is not None
        self.options.screenshot.parent.mkdir(parents=True, exist_ok=True)
        if not self.window.grab().save(str(self.options.screenshot)):
            print(f"folio: cannot write {self.options.screenshot}", file=sys.stderr)
            self.exit_code = 1
        self.window.close()
        QApplication.quit()

    def _timed_out(self) -> None:
        if self.options.screenshot is not None:
            print("folio: gave up waiting; saving the window as it is", file=sys.stderr)
            self.exit_code = 1
            self._save()
