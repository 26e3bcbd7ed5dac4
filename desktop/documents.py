"""The library's document list as the app knows it: read on a reader, refreshed on every change."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from core.types import Document
from desktop.app_events import AppEvents, Change
from desktop.library_panel import LibraryPanel
from desktop.live_read import LiveRead
from desktop.workers import Workers


class DocumentList(QObject):
    """Keeps `documents` and the library panel current: on start, after any change of documents
    (this app's writes and other processes' alike) and after a switch of library."""

    loaded = Signal(list)  # list[Document], each time the list was read

    def __init__(self, workers: Workers, events: AppEvents, panel: LibraryPanel,
                 on_error: Callable[[str], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self.documents: list[Document] = []
        self.known = False  # neither "Ready" nor "empty" until the library has said what it holds
        self._read: LiveRead[list[Document]] = LiveRead(
            workers, "documents", lambda lib: lib.documents(), self._on_documents, on_error,
            watched=True)
        events.library_changed.connect(self._on_library_changed)

    def refresh(self) -> None:
        self._read.refresh()

    def _on_library_changed(self, change: Change) -> None:
        if change.touches_documents:
            self.refresh()

    def _on_documents(self, documents: list[Document]) -> None:
        self.documents = documents
        self.known = True
        self.panel.set_documents(documents)
        self.loaded.emit(documents)
