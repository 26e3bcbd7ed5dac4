"""Build the QApplication and the window; run the --ask/--cite/--screenshot script, open a
folio:// link. No logic."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from desktop.launcher import GuiOptions
from desktop.loading import library_dir
from desktop.main_window import MainWindow
from desktop.opening import MarkdownExport
from desktop.script import Script
from desktop.settings_dialog import AppSettings

if TYPE_CHECKING:
    from core.engine import Engine


def make_app(argv: list[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(argv or [sys.argv[0]])
    app.setOrganizationName("Folio")
    app.setApplicationName("Folio")
    # Fusion follows the system's light or dark colour scheme (Qt 6.5+) on every platform.
    app.setStyle("Fusion")
    return app


def make_engine() -> Engine:
    """The process's one Engine (embedders, reader process, Ollama services, shared indexes)."""
    from core.engine import Engine

    return Engine()


def make_window(settings: QSettings, library: Path | None = None) -> MainWindow:
    """The window on the library folder named (else the one in settings); it owns the engine
    from here on and closes it after its Libraries at shutdown."""
    app_settings = AppSettings(settings)
    root = library if library is not None else library_dir(app_settings.library)
    window = MainWindow(app_settings, root, make_engine())
    connect_markdown(window)
    return window


def connect_markdown(window: MainWindow) -> MarkdownExport:
    """The question panel's "Copy as Markdown" and "Save…", done by a MarkdownExport."""
    markdown = MarkdownExport(window.workers, window, window.statusBar().showMessage, window)
    window.chat.copy_markdown_requested.connect(markdown.copy_turn)
    window.chat.save_markdown_requested.connect(markdown.choose_file)
    markdown.message.connect(window.statusBar().showMessage)
    return markdown  # kept alive by its parent, the window (findChild finds it)


def open_link_when_loaded(window: MainWindow, url: str) -> None:
    """Open a folio:// link once the window knows the library's documents (now if it does)."""
    if window.document_list.known:
        window.opening.open_link(url)
        return

    def loaded(_documents: object) -> None:
        window.documents_loaded.disconnect(loaded)
        window.opening.open_link(url)
    window.documents_loaded.connect(loaded)


def run(options: GuiOptions) -> int:
    app = make_app()
    window = make_window(QSettings(), options.library)
    window.show()
    if options.link:
        open_link_when_loaded(window, options.link)
    if not options.ask:
        # The first start of a library indexes the built-in guide, so there is something to ask
        # about; ensure_sample does nothing once that has happened (even if it was removed).
        QTimer.singleShot(0, window.add_sample)
    if options.ask or options.screenshot:
        script = Script(window, options)
        QTimer.singleShot(0, script.start)
        code = app.exec()
        return script.exit_code if options.screenshot else code
    return app.exec()
