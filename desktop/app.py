"""Build the QApplication and the window; run the --ask/--cite/--screenshot script, open a
folio:// link or a file, listen for later launches on the library. No logic."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from desktop.forwarded import FileOpenEvents, Forwarded, open_link_when_loaded
from desktop.launcher import GuiOptions
from desktop.loading import library_dir
from desktop.main_window import MainWindow
from desktop.opening import MarkdownExport
from desktop.qt_workarounds import keep_booleans_alive
from desktop.script import Script
from desktop.settings_dialog import AppSettings
from desktop.single_instance import NO_PRIVATE_FOLDER, InstanceServer, library_root, server_name

if TYPE_CHECKING:
    from core.engine import Engine


def make_app(argv: list[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    keep_booleans_alive()  # before the first signal: PySide6 6.12.0 on Python 3.11
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


def serve(window: MainWindow, root: Path) -> Forwarded:
    """The window takes the links and files later launches on its library hand over
    (desktop/single_instance.py); it listens under the new library's name after a switch."""
    forwarded = Forwarded(window, window)
    server = InstanceServer(forwarded)
    forwarded.listen(server)
    name = server_name(root)
    if name is None:  # no folder only this user can enter for the socket
        print(f"folio: {NO_PRIVATE_FOLDER}", file=sys.stderr)
    elif not server.listen(name):
        print("folio: another Folio window is open on this library; this one takes no links.",
              file=sys.stderr)
    window.library_settings.library_chosen.connect(
        lambda chosen: server.listen(server_name(chosen)))
    return forwarded  # kept alive by its parent, the window (findChild finds it)


def run(options: GuiOptions) -> int:
    app = make_app()
    root = library_root(options.library)
    window = make_window(QSettings(), root)
    scripted = bool(options.ask or options.screenshot)
    forwarded = serve(window, root) if not scripted else Forwarded(window, window)
    app.installEventFilter(FileOpenEvents(forwarded))
    window.show()
    if options.link:
        open_link_when_loaded(window, options.link)
    if options.file:
        forwarded.open_file(options.file)
    if not options.ask:
        # The first start of a library indexes the built-in guide, so there is something to ask
        # about; ensure_sample does nothing once that has happened (even if it was removed).
        QTimer.singleShot(0, window.add_sample)
    if options.ask or options.screenshot:
        script = Script(window, options)
        QTimer.singleShot(0, script.start)
        code = app.exec()
        return script.exit_code if options.screenshot else code
    try:
        return app.exec()
    finally:
        forwarded.stop_listening()  # the next launch on this library starts its own window
