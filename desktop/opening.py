"""Opening documents in the viewer (the stored PDF, or the indexed text, read on a reader), and
what leaves the app with a way back: folio:// links opened, conversations as Markdown.

A folio:// link may come from anywhere (a web page, an email): core decides whether it names a
page of a document in this library (Library.open_link); a refused link says why in a message box
and opens nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from core.answer_types import Citation, Span
from core.errors import FolioError
from core.types import Document, Rect
from desktop import loading
from desktop.app_events import AppEvents, Change
from desktop.span_find import SpanCitation
from desktop.tasks import Task
from desktop.viewer import TextDocument, Viewer
from desktop.workers import Workers

if TYPE_CHECKING:
    from core.library import Library

LINK_REFUSED = "Folio did not open this link"


class Opening(QObject):
    """Shows a document (or a citation's page and passage) in the viewer."""

    citation_shown = Signal(Citation)
    # The supporting sentence's rectangles core found (core/span_rects.py), now highlighted;
    # emitted after citation_shown, () when core found none (pdfium's stay).
    span_placed = Signal(tuple)
    link_opened = Signal(Document, int)  # the document and page a folio:// link named
    link_refused = Signal(str)  # why core refused a folio:// link

    def __init__(self, workers: Workers, events: AppEvents, viewer: Viewer,
                 on_error: Callable[[str], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.viewer = viewer
        self.on_error = on_error
        self._texts: dict[int, TextDocument] = {}  # text of non-PDF documents, by id
        self.refusal: QMessageBox | None = None  # the last refused link's message box
        self._shows = 0  # counts what was shown: core's rectangles land only on their own span
        # core's rectangles of spans already placed: (document id, page, sentence) -> rects
        self._placed: dict[tuple[int, int, str], tuple[Rect, ...]] = {}
        events.library_changed.connect(self._on_library_changed)

    def _on_library_changed(self, change: Change) -> None:
        if change.switched:
            self._texts.clear()
            self._placed.clear()
            self.viewer.clear()

    def open_document(self, doc_id: int) -> None:
        self._load(doc_id, lambda doc: self._show(doc, 1, (), None))

    def show_citation(self, citation: Citation) -> None:
        """The citation's page with its passage highlighted; a citation clicked in a sentence of
        a fresh answer (a SpanCitation) also has the sentence that supports it highlighted.

        That sentence's rectangles are core's (as `folio ask --json` gives them), read from the
        page's words on a reader: the page is shown at once with the sentence found in pdfium's
        text, and core's rectangles replace those when they come (at once, the next time)."""
        span = citation.span if isinstance(citation, SpanCitation) else None
        key = (citation.document_id, span.page, span.text) if span is not None else None
        if span is not None and key is not None and not span.rects and key in self._placed:
            span = dataclasses.replace(span, rects=self._placed[key])

        def shown(doc: loading.LoadedDocument) -> None:
            self._show(doc, citation.page, citation.rects, citation.text, span)
            self.citation_shown.emit(citation)
            if doc.pdf is not None and span is not None and key is not None and not span.rects:
                self._place(self._shows, key, citation, span)
        self._load(citation.document_id, shown)

    def _place(self, shows: int, key: tuple[int, int, str], citation: Citation,
               span: Span) -> None:
        """Have core find span's rectangles, and highlight them if the span is still shown."""
        def work(lib: Library, _t: Task[tuple[Rect, ...]]) -> tuple[Rect, ...]:
            from core.span_rects import SpanPlacer  # on the reader: it may start the reader child

            return SpanPlacer(lib).rects(citation.document_id, span, citation.rects)

        def placed(rects: tuple[Rect, ...]) -> None:
            self._placed[key] = rects
            if shows != self._shows:
                return  # something else is shown now
            if rects:
                self.viewer.show_strong(rects)
            self.span_placed.emit(rects)

        task: Task[tuple[Rect, ...]] = Task(work, "span-rects")
        # a failure leaves pdfium's rectangles, which are shown already
        self.workers.read(task.on_success(placed).on_failure(lambda _message: None))

    def open_link(self, url: str) -> None:
        """Open the page a folio:// link names; any other link is refused with core's sentence
        in a message box, and nothing is opened."""
        def opened(found: tuple[Document, int]) -> None:
            doc, page = found

            def shown(loaded: loading.LoadedDocument) -> None:
                self._show(loaded, page, (), None)
                self.link_opened.emit(doc, page)
            self._load(doc.id, shown)

        task: Task[tuple[Document, int]] = Task(lambda lib, _t: lib.open_link(url), "open-link")
        self.workers.read(task.on_success(opened).on_failure(self._refuse))

    def _refuse(self, message: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, LINK_REFUSED, message,
                          QMessageBox.StandardButton.Ok, self.viewer.window())
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # window-modal, not a nested event loop
        self.refusal = box
        self.link_refused.emit(message)

    def forget(self, doc: Document) -> None:
        """A removed document: no longer kept, no longer shown."""
        self._texts.pop(doc.id, None)
        self._placed = {k: v for k, v in self._placed.items() if k[0] != doc.id}
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
              passage: str | None, span: Span | None = None) -> None:
        self._shows += 1
        if doc.pdf is not None:
            self.viewer.show_pdf(doc.pdf, doc.title, page, rects, span)
        elif doc.text is not None:
            self._texts[doc.id] = doc.text
            self.viewer.show_text(doc.text, passage, span.text if span is not None else None)
        else:
            self.viewer.show_message(doc.message or "This document cannot be shown.")


def turn_markdown(lib: Library, conversation_id: int, turn: int) -> str:
    """One turn (from 1) of a conversation as Markdown: the question as a heading, the answer,
    its sources as footnotes with folio:// links."""
    from core import export  # on the reader: it loads the sentence splitter

    turns = lib.turns(conversation_id)
    if not 1 <= turn <= len(turns):
        raise FolioError(f"Conversation {conversation_id} has no turn {turn}.")
    text, notes, _next = export.turn_markdown(turns[turn - 1],
                                              {d.id: d for d in lib.documents()})
    lines = [f"## {turns[turn - 1].question}", "", text.strip(), ""]
    return "\n".join(lines + notes).rstrip() + "\n"


class MarkdownExport(QObject):
    """Copies an answer as Markdown, or saves a conversation as a Markdown file; the Markdown is
    made on a reader (it reads the conversation and the documents), never on the GUI thread."""

    copied = Signal(str)  # the Markdown put on the clipboard
    saved = Signal(Path)
    message = Signal(str, int)  # a status line and how long it stays (ms)

    def __init__(self, workers: Workers, dialog_parent: QWidget,
                 on_error: Callable[[str], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.dialog_parent = dialog_parent
        self.on_error = on_error

    def copy_turn(self, conversation_id: int, turn: int) -> Task[str]:
        """Put turn (from 1) of the conversation on the clipboard as Markdown."""
        def done(text: str) -> None:
            QGuiApplication.clipboard().setText(text)
            self.message.emit("Copied the answer as Markdown, its sources as footnotes.", 8000)
            self.copied.emit(text)
        task: Task[str] = Task(lambda lib, _t: turn_markdown(lib, conversation_id, turn),
                               "copy-markdown")
        self.workers.read(task.on_success(done).on_failure(self.on_error))
        return task

    def choose_file(self, conversation_id: int) -> None:
        """Ask where to save the conversation, then save it there."""
        name, _ = QFileDialog.getSaveFileName(
            self.dialog_parent, "Save conversation as Markdown",
            str(Path.home() / f"conversation-{conversation_id}.md"),
            "Markdown (*.md);;All files (*)")
        if name:
            self.save(conversation_id, Path(name))

    def save(self, conversation_id: int, path: Path) -> Task[Path]:
        def work(lib: Library, _t: Task[Path]) -> Path:
            text = lib.conversation_markdown(conversation_id)
            try:
                path.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise FolioError(f"Could not save {path.name}: {exc.strerror or exc}") from exc
            return path

        def done(saved: Path) -> None:
            self.message.emit(f"Saved the conversation to {saved}.", 10000)
            self.saved.emit(saved)
        task: Task[Path] = Task(work, "save-markdown")
        self.workers.read(task.on_success(done).on_failure(self.on_error))
        return task
