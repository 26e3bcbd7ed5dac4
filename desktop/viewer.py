"""The document viewer: PDFs page by page with the cited passage highlighted, other formats as text.

The pages and their highlights are drawn by pdf_page_view.py; find is viewer_find.py, the page
and zoom controls viewer_toolbar.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtPdf import QPdfDocument, QPdfSearchModel
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import (
    QLabel,
    QPlainTextEdit,
    QStackedWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from core.answer_types import Span
from core.types import Rect
from desktop.pdf_page_view import HIGHLIGHT_FILL, PASSAGE_FILL, SENTENCE_FILL, PdfPageView
from desktop.span_find import locate_sentence, sentence_rects
from desktop.viewer_find import DocumentFind
from desktop.viewer_toolbar import ZOOM_STEP, ViewerToolbar, clamp_zoom


@dataclass(frozen=True)
class TextDocument:
    """A non-PDF document as the viewer shows it: plain text, and where the passage sits in it."""

    title: str
    text: str


class Viewer(QWidget):
    """Shows one document: a PDF with QPdfView, anything else as plain text."""

    shown = Signal(str, int)  # title, page (1-based; 0 for text documents)
    found = Signal(int, int)  # a find went to match index (0-based) of count; -1, 0: none

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title_label = QLabel("No document open", self)
        self.title_label.setObjectName("viewerTitle")
        self.title_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pdf_document = QPdfDocument(self)
        self.pdf_view = PdfPageView(self)
        self.pdf_view.setDocument(self.pdf_document)
        # Only the source of the matches: the view draws the current one itself (PdfPageView).
        self.search_model = QPdfSearchModel(self)
        self.search_model.setDocument(self.pdf_document)
        self.text_view = QPlainTextEdit(self)
        self.text_view.setReadOnly(True)
        self.text_view.setAcceptDrops(False)
        self.placeholder = QLabel(
            "Click a document in the library, or a citation in an answer, to read it here.", self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.stack = QStackedWidget(self)
        for widget in (self.placeholder, self.pdf_view, self.text_view):
            self.stack.addWidget(widget)
        self.finder = DocumentFind(self, self.search_model, self.stack, self.pdf_view,
                                   self.text_view, self._on_match_page)
        self.finder.found.connect(self.found)
        self.find_bar = self.finder.bar
        self.toolbar = ViewerToolbar(
            self, zoom_in=lambda: self.zoom_by(ZOOM_STEP),
            zoom_out=lambda: self.zoom_by(1 / ZOOM_STEP),
            actual_size=lambda: self.set_zoom(1.0), fit_width=self.fit_width,
            fit_page=self.fit_page, previous=lambda: self.go_to_page(self.current_page - 1),
            following=lambda: self.go_to_page(self.current_page + 1),
            first=lambda: self.go_to_page(1),
            last=lambda: self.go_to_page(self.pdf_document.pageCount()))
        self.toolbar.page_entered.connect(self.go_to_label)
        self.toolbar.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title_label)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.find_bar)
        layout.addWidget(self.stack, 1)
        self.path: Path | None = None
        self.strong_text: tuple[int, int] | None = None  # the sentence highlighted in a text
        self.labels: list[str] = []  # of the open PDF's pages
        self.current_page = 0
        self.pdf_view.pageNavigator().currentPageChanged.connect(self._on_page_changed)

    # --- opening ------------------------------------------------------------------------------

    def show_pdf(self, path: Path, title: str, page: int = 1, rects: Sequence[Rect] = (),
                 sentence: Span | None = None) -> bool:
        """Open path (if not open yet) at page, with rects highlighted (lightly when sentence,
        the passage's supporting sentence, is found in them, and that strongly); False if it
        cannot load."""
        if path != self.path or self.pdf_document.status() is not QPdfDocument.Status.Ready:
            self.pdf_document.close()
            error = self.pdf_document.load(str(path))
            if error is not QPdfDocument.Error.None_:
                self.show_message(f"Cannot open {path.name}: {error.name}.")
                return False
            self.path = path
            self.finder.forget()  # the matches were the old file's
            # Read once, now: QPdfDocument.pageLabel asks pdfium for the length outside its
            # lock, which raced the page renderer's thread (a crash in QPdfView's paintEvent).
            self.labels = [self.pdf_document.pageLabel(i) or str(i + 1)
                           for i in range(self.pdf_document.pageCount())]
        self.stack.setCurrentWidget(self.pdf_view)
        self.toolbar.show()
        self.pdf_view.highlights = [r for r in rects if 1 <= r.page <= self.pdf_document.pageCount()]
        self.pdf_view.strong = self._sentence_rects(sentence)
        page = max(1, min(page, self.pdf_document.pageCount()))
        self.current_page = page
        self.pdf_view.pageNavigator().jump(page - 1, QPointF(), self.pdf_view.zoomFactor())
        self._set_title(title)
        # The layout is settled once the view has been laid out; scroll after that.
        QTimer.singleShot(0, self._scroll_pdf)
        self._show_page_state()
        self.shown.emit(title, page)
        return True

    def _sentence_rects(self, sentence: Span | None) -> list[Rect]:
        """The supporting sentence's rectangles: core's (from the page's words) where it gave
        them, else found in pdfium's text of the page (span_find)."""
        if sentence is None:
            return []
        pages = self.pdf_document.pageCount()
        if sentence.rects:
            return [r for r in sentence.rects if 1 <= r.page <= pages]
        return sentence_rects(self.pdf_document, sentence, self.pdf_view.highlights)

    def show_strong(self, rects: Sequence[Rect]) -> None:
        """Highlight rects strongly (the supporting sentence) on the PDF shown, the passage's
        highlight kept."""
        if not self._showing_pdf():
            return
        pages = self.pdf_document.pageCount()
        self.pdf_view.strong = [r for r in rects if 1 <= r.page <= pages]
        self.pdf_view.viewport().update()

    def _scroll_pdf(self) -> None:
        if self.pdf_view.highlights:
            self.pdf_view.scroll_to_highlight()
        else:
            geometry = self.pdf_view.page_geometry(self.current_page - 1)
            self.pdf_view.verticalScrollBar().setValue(geometry.y())

    def show_text(self, document: TextDocument, passage: str | None = None,
                  sentence: str | None = None) -> None:
        """Show a non-PDF document as plain text, with passage selected and scrolled to (with
        sentence, the passage's supporting sentence: the passage lightly and the sentence
        strongly highlighted, the sentence selected)."""
        self.path = None
        self.pdf_view.highlights = []
        self.pdf_view.strong = []
        self.pdf_view.match = []
        self.current_page = 0
        if self.text_view.toPlainText() != document.text:
            self.text_view.setPlainText(document.text)
        self.stack.setCurrentWidget(self.text_view)
        self.toolbar.hide()
        self._set_title(document.title)
        self.highlight_text(passage, sentence)
        self.shown.emit(document.title, 0)

    def highlight_text(self, passage: str | None, sentence: str | None = None
                       ) -> tuple[int, int] | None:
        """Highlight passage (and, strongly, its sentence) and select the sentence, or the
        passage when there is none; where the passage is, or None when the text lacks it."""
        text = self.text_view.toPlainText()
        span = locate(text, passage) if passage else None
        strong = locate_sentence(text, sentence, span) if sentence and span is not None else None
        selections: list[QTextEdit.ExtraSelection] = []
        if span is not None:
            selections.append(self._text_selection(
                span, PASSAGE_FILL if strong is not None else HIGHLIGHT_FILL))
        if strong is not None:
            selections.append(self._text_selection(strong, SENTENCE_FILL))
        shown = strong or span
        if shown is not None:
            self.text_view.setTextCursor(self._text_cursor(shown))
            self.text_view.centerCursor()
        self.text_view.setExtraSelections(selections)
        self.strong_text = strong
        return span

    def _text_cursor(self, span: tuple[int, int]) -> QTextCursor:
        cursor = QTextCursor(self.text_view.document())
        cursor.setPosition(span[0])
        cursor.setPosition(span[1], QTextCursor.MoveMode.KeepAnchor)
        return cursor

    def _text_selection(self, span: tuple[int, int], fill: QColor) -> QTextEdit.ExtraSelection:
        selection = QTextEdit.ExtraSelection()
        fmt = QTextCharFormat()
        fmt.setBackground(fill)
        selection.format = fmt
        selection.cursor = self._text_cursor(span)
        return selection

    def show_message(self, message: str) -> None:
        self.path = None
        self.pdf_view.highlights = []
        self.pdf_view.strong = []
        self.pdf_view.match = []
        self.placeholder.setText(message)
        self.stack.setCurrentWidget(self.placeholder)
        self.toolbar.hide()
        self.title_label.setText("No document open")

    def clear(self) -> None:
        self.pdf_document.close()
        self.show_message(
            "Click a document in the library, or a citation in an answer, to read it here.")

    def find_open(self, focused: QWidget | None = None) -> bool:
        """Is the find bar open (and, given the focused widget, does it hold the focus)?"""
        return self.find_bar.isVisible() and (focused is None
                                               or self.find_bar.isAncestorOf(focused))

    def close_find(self) -> None:
        self.find_bar.close_bar()

    def title(self) -> str:
        """The title of the document shown ("No document open" when none is)."""
        return self.title_label.text()

    def _set_title(self, title: str) -> None:
        self.title_label.setText(title)
        self.title_label.setToolTip(title)

    def _on_page_changed(self, page: int) -> None:
        if self.stack.currentWidget() is self.pdf_view:
            self.current_page = page + 1
            self._show_page_state()

    # --- pages and zoom -----------------------------------------------------------------------

    def page_label(self, page: int) -> str:
        """The page's own label ("iv", "A-3") where the PDF has one, else its number."""
        return self.labels[page - 1] if 1 <= page <= len(self.labels) else str(page)

    def _showing_pdf(self) -> bool:
        return (self.stack.currentWidget() is self.pdf_view
                and self.pdf_document.status() is QPdfDocument.Status.Ready)

    def go_to_page(self, page: int) -> bool:
        """Scroll so that page (1-based, kept within the document) starts at the top."""
        if not self._showing_pdf():
            return False
        page = max(1, min(page, self.pdf_document.pageCount()))
        self.current_page = page
        self.pdf_view.pageNavigator().jump(page - 1, QPointF(), self.pdf_view.zoomFactor())
        self.pdf_view.verticalScrollBar().setValue(self.pdf_view.page_geometry(page - 1).y())
        self._show_page_state()
        return True

    def go_to_label(self, text: str) -> bool:
        """Go to the page labelled text, or else to page number text; False if neither exists."""
        text = text.strip()
        labels = self.labels
        if text in labels:
            return self.go_to_page(labels.index(text) + 1)
        lowered = [label.lower() for label in labels]
        if text.lower() in lowered:
            return self.go_to_page(lowered.index(text.lower()) + 1)
        if text.isdigit() and 1 <= int(text) <= len(labels):
            return self.go_to_page(int(text))
        self._show_page_state(force=True)  # put the current page's label back
        return False

    def zoom(self) -> float:
        return self.pdf_view.effective_zoom()

    def zoom_by(self, step: float) -> None:
        self.set_zoom(self.zoom() * step)

    def set_zoom(self, factor: float) -> None:
        def change() -> None:
            self.pdf_view.setZoomMode(QPdfView.ZoomMode.Custom)
            self.pdf_view.setZoomFactor(clamp_zoom(factor))
        self._keeping_place(change)

    def fit_width(self) -> None:
        self._keeping_place(lambda: self.pdf_view.setZoomMode(QPdfView.ZoomMode.FitToWidth))

    def fit_page(self) -> None:
        self._keeping_place(lambda: self.pdf_view.setZoomMode(QPdfView.ZoomMode.FitInView))

    def _keeping_place(self, change: Callable[[], object]) -> None:
        """Apply a zoom change with the same point of the same page at the top of the view."""
        if not self._showing_pdf():
            change()
            return
        view = self.pdf_view
        page = self.current_page
        before = view.page_geometry(page - 1)
        within = (view.verticalScrollBar().value() - before.y()) / max(1, before.height())
        change()
        after = view.page_geometry(page - 1)
        view.verticalScrollBar().setValue(int(after.y() + within * after.height()))
        self.current_page = page
        self._show_page_state()
        view.viewport().update()

    def _show_page_state(self, force: bool = False) -> None:
        if not self._showing_pdf():
            return
        if force:
            self.toolbar.page_box.clearFocus()
        page = self.current_page
        self.toolbar.show_page(self.page_label(page), page, self.pdf_document.pageCount())
        mode = {QPdfView.ZoomMode.FitToWidth: "width",
                QPdfView.ZoomMode.FitInView: "page"}.get(self.pdf_view.zoomMode(), "")
        self.toolbar.show_zoom(self.zoom(), mode)

    # --- find ---------------------------------------------------------------------------------

    def open_find(self) -> None:
        if self.stack.currentWidget() is not self.placeholder:
            self.find_bar.open_bar()

    def find_text(self, text: str, backwards: bool = False) -> bool:
        """Go to the next (or previous) match of text; False when there is none."""
        return self.finder.find_text(text, backwards)

    def _on_match_page(self, page: int) -> None:
        self.current_page = page  # the scroll may have put the next page under the 40% line
        self._show_page_state()


def locate(text: str, passage: str | None) -> tuple[int, int] | None:
    """Where passage sits in text, as (start, end); by its ends when inner whitespace differs."""
    if not passage:
        return None
    passage = passage.strip()
    start = text.find(passage)
    if start >= 0:
        return start, start + len(passage)
    head, tail = passage[:60], passage[-60:]
    start = text.find(head)
    if start < 0:
        return None
    end = text.find(tail, start)
    return (start, end + len(tail)) if end >= 0 else (start, start + len(head))
