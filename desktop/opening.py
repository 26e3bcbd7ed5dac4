"""Opening documents in the viewer: the stored PDF, or the indexed text, read on a reader."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Signal

from core.answer_types import Citation
from core.types import Document, Rect
from desktop import loading
from desktop.app_events import AppEvents, Change
from desktop.tasks import Task
from desktop.viewer import TextDocument, Viewer
from desktop.workers import Workers


class Opening(QObject):
    """Shows a document (or a citation's page and passage) in the viewer."""

    citation_shown = Signal(Citation)

    def __init__(self, workers: Workers, events: AppEvents, viewer: Viewer,
                 on_error: Callable[[str], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.viewer = viewer
        self.on_error = on_error
        self._texts: dict[int, TextDocument] = {}  # text of non-PDF documents, by id
        events.library_changed.connect(self._on_library_changed)

    def _on_library_changed(self, change: Change) -> None:
        if change.switched:
            self._texts.clear()
            self.viewer.clear()

    def open_document(self, doc_id: int) -> None:
        self._load(doc_id, lambda doc: self._show(doc, 1, (), None))

    def show_citation(self, citation: Citation) -> None:
        def shown(doc: loading.LoadedDocument) -> None:
            self._show(doc, citation.page, citation.rects, citation.text)
            self.citation_shown.emit(citation)
        self._load(citation.document_id, shown)

    def forget(self, doc: Document) -> None:
        """A removed document: no longer kept, no longer shown."""
        self._texts.pop(doc.id, None)
        if self.viewer.title() == doc.title:
            self.viewer.clear()

    def _load(self, doc_id: int, then: Callable[[loading.LoadedDocument], object]) -> None:
        cached = self._texts.get(doc_id)
        if cached is not None:
            then(loading.LoadedDocument(doc_id, cached.title, None, cached))
            return
        task: Task[loading.LoadedDocument] = Task(
            lambda lib, _t: loading.load_document(lib, doc_id), "open")
        self.workers.read(task.on_success(then).on_failure(self.on_error))

    def _show(self, doc: loading.LoadedDocument, page: int, rects: Sequence[Rect],
              passage: str | None) -> None:
        if doc.pdf is not None:
            self.viewer.show_pdf(doc.pdf, doc.title, page, rects)
        elif doc.text is not None:
            self._texts[doc.id] = doc.text
            self.viewer.show_text(doc.text, passage)
        else:
            self.viewer.show_message(doc.message or "This document cannot be shown.")
