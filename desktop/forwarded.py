"""What a launch asks of the window: a folio:// link's page, a file to add and open, given on the
command line, handed over by a later launch (desktop/single_instance.py), or sent by macOS to
the running app as a QFileOpenEvent (its way for URL schemes and opened files).

A handed-over request is checked again here as if it came from anywhere: the link by core's
strict parser with the library's documents (Opening.open_link), the file by being an absolute
path to an existing file, which is then added like a dropped one (read in the reader child).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QFileOpenEvent

from core.types import AddOutcome, AddStatus
from desktop.main_window import MainWindow
from desktop.single_instance import InstanceServer, Request

OPENED = (AddStatus.ADDED, AddStatus.PRESENT, AddStatus.REPLACED)


def open_link_when_loaded(window: MainWindow, url: str) -> None:
    """Open a folio:// link once the window knows the library's documents (now if it does)."""
    if window.document_list.known:
        window.opening.open_link(url)
        return

    def loaded(_documents: object) -> None:
        window.documents_loaded.disconnect(loaded)
        window.opening.open_link(url)
    window.documents_loaded.connect(loaded)


def bring_forward(window: MainWindow) -> None:
    """Show the window above the others, unminimised (the desktop may only flash it)."""
    window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()


class Forwarded(QObject):
    """Acts on the requests of launches: the window comes forward, then opens what was asked."""

    file_opened = Signal(int)  # the document id of a file added (or found already there)
    refused = Signal(str)  # a handed-over request not acted on, and why

    def __init__(self, window: MainWindow, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.server: InstanceServer | None = None

    def listen(self, server: InstanceServer) -> None:
        self.server = server
        server.received.connect(self.handle)
        server.rejected.connect(self.refused)

    def stop_listening(self) -> None:
        if self.server is not None:
            self.server.close()

    def handle(self, request: Request) -> None:
        bring_forward(self.window)
        if request.kind == "link":
            open_link_when_loaded(self.window, request.value)  # core's parser decides
        elif request.kind == "file":
            self.open_file(Path(request.value))

    def open_file(self, path: Path) -> None:
        """Add the file (nothing is added twice: a file already there by sha256 is found) and
        open it in the viewer."""
        if not path.is_absolute() or not path.is_file():
            message = f"Folio did not open {path}: it is not a file."
            self.window.statusBar().showMessage(message, 15000)
            self.refused.emit(message)
            return

        def added(outcomes: list[AddOutcome]) -> None:
            done = next((o for o in outcomes if o.status in OPENED and o.document_id), None)
            if done is not None and done.document_id is not None:
                self.window.opening.open_document(done.document_id)
                self.file_opened.emit(done.document_id)
        self.window.add_paths([path]).on_success(added)


class FileOpenEvents(QObject):
    """The application's QFileOpenEvents (macOS: a folio:// link clicked, a file opened from
    the Finder) as requests, checked like any other."""

    def __init__(self, forwarded: Forwarded) -> None:
        super().__init__(forwarded)
        self.forwarded = forwarded

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() is not QEvent.Type.FileOpen or not isinstance(event, QFileOpenEvent):
            return False
        url = event.url()
        if url.scheme().lower() == "folio":
            self.forwarded.handle(Request("link", url.toString()))
        elif url.isLocalFile() or event.file():
            self.forwarded.handle(Request("file", url.toLocalFile() or event.file()))
        return True
