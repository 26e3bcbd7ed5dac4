"""The Help menu: the user guide in the viewer, the keyboard shortcuts, and About with versions."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox

from core.resources import resource_path
from desktop.workers import Task

if TYPE_CHECKING:
    from desktop.viewer import Viewer
    from desktop.workers import Workers

GUIDE_PDF = resource_path("sample", "folio-guide.pdf")
GUIDE_TEXT = resource_path("sample", "folio-guide.md")
GUIDE_TITLE = "Folio user guide"


def shortcut_rows(guide: str) -> list[tuple[str, str]]:
    """(action, keys) of the guide's shortcut table: one list of shortcuts, kept in the guide."""
    if "## Keyboard shortcuts" not in guide:
        return []
    table = guide.split("## Keyboard shortcuts", 1)[1].split("\n## ", 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in table.splitlines() if line.startswith("|")]
    return [(r[0], r[1]) for r in rows[2:] if len(r) >= 2]  # past the header and its rule


def versions() -> dict[str, str]:
    """Folio's version and those of the parts it is built on (imported off the GUI thread)."""
    import apsw
    import pymupdf
    import PySide6
    from PySide6.QtCore import qVersion

    from core import __version__

    return {"Folio": __version__, "Qt": qVersion(), "PySide6": PySide6.__version__,
            "PyMuPDF": str(pymupdf.__version__), "MuPDF": str(pymupdf.mupdf_version),
            "SQLite": apsw.sqlite_lib_version(), "apsw": apsw.apsw_version()}


def about_html(found: dict[str, str]) -> str:
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>&nbsp;{html.escape(v)}</td></tr>"
                   for k, v in found.items())
    return ("<p><b>Folio</b>: ask questions of your own documents, with a citation on every "
            "claim. Everything stays on this computer.</p>"
            f"<table>{rows}</table>")


class HelpMenu:
    """Builds the menu on a window; the dialogs are opened (not exec'd), so nothing blocks."""

    def __init__(self, window: QMainWindow, viewer: Viewer, workers: Workers) -> None:
        self.window = window
        self.viewer = viewer
        self.workers = workers
        menu = window.menuBar().addMenu("&Help")
        guide = QAction("Folio &guide", window, shortcut=QKeySequence("F1"))
        guide.triggered.connect(self.open_guide)
        keys = QAction("&Keyboard shortcuts", window)
        keys.triggered.connect(self.show_shortcuts)
        about = QAction("&About Folio", window)
        about.triggered.connect(self.show_about)
        for action in (guide, keys, about):
            menu.addAction(action)
        self.dialog: QMessageBox | None = None

    def open_guide(self) -> bool:
        """The guide is the sample PDF, shown like any document (whether indexed or not)."""
        return self.viewer.show_pdf(GUIDE_PDF, GUIDE_TITLE, 1)

    def show_shortcuts(self) -> QMessageBox:
        text = GUIDE_TEXT.read_text(encoding="utf-8") if GUIDE_TEXT.exists() else ""
        rows = "".join(f"<tr><td>{html.escape(a)}</td><td>&nbsp;&nbsp;<b>{html.escape(k)}</b>"
                       "</td></tr>" for a, k in shortcut_rows(text))
        return self._open("Keyboard shortcuts", f"<table>{rows}</table>")

    def show_about(self) -> Task[dict[str, str]]:
        task: Task[dict[str, str]] = Task(lambda _lib, _task: versions(), "about",
                                          needs_library=False)
        task.on_success(lambda found: self._open("About Folio", about_html(found)))
        self.workers.read(task)
        return task

    def _open(self, title: str, text: str) -> QMessageBox:
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = QMessageBox(QMessageBox.Icon.NoIcon, title, text,
                                  QMessageBox.StandardButton.Close, self.window)
        self.dialog.open()
        return self.dialog
