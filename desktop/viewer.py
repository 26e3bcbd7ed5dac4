"""The document viewer: PDFs page by page with the cited passage highlighted, other formats as text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import (
    QMargins,
    QPointF,
    QRect,
    QRectF,
    QSize,
    QSizeF,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QPainter,
    QPaintEvent,
    QTextCharFormat,
    QTextCursor,
)
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
from desktop.span_find import locate_sentence, sentence_rects
from desktop.viewer_find import DocumentFind
from desktop.viewer_toolbar import ZOOM_STEP, ViewerToolbar, clamp_zoom

HIGHLIGHT_FILL = QColor(255, 200, 0, 90)
HIGHLIGHT_EDGE = QColor(230, 140, 0, 220)
# With the supporting sentence of a citation shown strongly, the rest of its passage is light.
PASSAGE_FILL = QColor(255, 215, 0, 45)
PASSAGE_EDGE = QColor(230, 160, 0, 110)
SENTENCE_FILL = QColor(255, 150, 0, 120)
SENTENCE_EDGE = QColor(210, 90, 0, 240)
# A cited passage is scrolled to a third of the way down, so the heading above it shows too.
CITED_AT = 1 / 3


@dataclass(frozen=True)
class TextDocument:
    """A non-PDF document as the viewer shows it: plain text, and where the passage sits in it."""

    title: str
    text: str


class PdfPageView(QPdfView):
    """QPdfView that draws the highlighted passage's rectangles, and find's current match, over
    the pages.

    QPdfView keeps its page layout private, so page_geometry() recomputes it the way qpdfview.cpp
    does (MultiPage, FitToWidth); tests/desktop check the drawn rectangles against the rendering.
    It is given no QPdfSearchModel. With one, QPdfView::paintEvent asks it for each painted
    page's results, and resultsOnPage searches a page not searched yet there and then, so rows
    are inserted mid-paint; countChanged then ran find's go-to-match (viewer_find) inside the
    paint, whose jump to the match scrolled and re-laid-out the view while paintEvent was still
    going over its pages: a garbage page number, a segfault in about one find test run in three.
    The current match is drawn here instead, like a cited passage; nothing in paint touches the
    model.
    """

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setPageMode(QPdfView.PageMode.MultiPage)
        self.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.highlights: list[Rect] = []  # 1-based pages, PDF points from the top-left
        self.strong: list[Rect] = []  # the supporting sentence within the passage, the same way
        self.match: list[Rect] = []  # find's current match, the same way

    def _resolution(self) -> float:
        screen = self.screen() or QGuiApplication.primaryScreen()
        return float(screen.logicalDotsPerInch()) / 72.0

    def _page_size(self, index: int) -> QSize:
        doc = self.document()
        assert doc is not None
        margins: QMargins = self.documentMargins()
        size = QSizeF(doc.pagePointSize(index) * self._resolution()).toSize()
        if self.zoomMode() is QPdfView.ZoomMode.FitToWidth and size.width() > 0:
            factor = (self.viewport().width() - margins.left() - margins.right()) / size.width()
            return size * factor
        if self.zoomMode() is QPdfView.ZoomMode.FitInView:
            room = self.viewport().size() - QSize(margins.left() + margins.right(),
                                                  self.pageSpacing())
            return size.scaled(room, Qt.AspectRatioMode.KeepAspectRatio)
        return QSizeF(doc.pagePointSize(index) * self._resolution() * self.zoomFactor()).toSize()

    def effective_zoom(self) -> float:
        """The zoom factor the pages are drawn at now, whatever the zoom mode."""
        doc = self.document()
        if self.zoomMode() is QPdfView.ZoomMode.Custom or doc is None or doc.pageCount() == 0:
            return self.zoomFactor()
        index = max(0, self.pageNavigator().currentPage())
        points = doc.pagePointSize(index).width() * self._resolution()
        return self._page_size(index).width() / points if points > 0 else self.zoomFactor()

    def page_geometry(self, index: int) -> QRect:
        """Where page index (0-based) sits in the scrolled document, in device-independent pixels."""
        doc = self.document()
        if doc is None or doc.status() is not QPdfDocument.Status.Ready:
            return QRect()
        margins = self.documentMargins()
        sizes = [self._page_size(i) for i in range(doc.pageCount())]
        total_width = max((s.width() for s in sizes), default=0) + margins.left() + margins.right()
        y = margins.top()
        for i, size in enumerate(sizes):
            if i == index:
                x = (max(total_width, self.viewport().width()) - size.width()) // 2
                return QRect(x, y, size.width(), size.height())
            y += size.height() + self.pageSpacing()
        return QRect()

    def to_viewport(self, rect: Rect) -> QRectF:
        """A rectangle in PDF points on its page, as viewport pixels now."""
        doc = self.document()
        if doc is None:
            return QRectF()
        page = self.page_geometry(rect.page - 1)
        points = doc.pagePointSize(rect.page - 1)
        if page.isNull() or points.width() <= 0:
            return QRectF()
        sx, sy = page.width() / points.width(), page.height() / points.height()
        dx = page.x() - self.horizontalScrollBar().value()
        dy = page.y() - self.verticalScrollBar().value()
        return QRectF(dx + rect.x0 * sx, dy + rect.y0 * sy,
                      (rect.x1 - rect.x0) * sx, (rect.y1 - rect.y0) * sy)

    def highlight_viewport_rects(self) -> list[QRectF]:
        return [self.to_viewport(r) for r in self.highlights]

    def strong_viewport_rects(self) -> list[QRectF]:
        return [self.to_viewport(r) for r in self.strong]

    def match_viewport_rects(self) -> list[QRectF]:
        return [self.to_viewport(r) for r in self.match]

    def show_match(self, rects: Sequence[Rect]) -> None:
        """Highlight find's current match (nothing for no rects), scrolled to like a passage."""
        self.match = list(rects)
        self.scroll_to(self.match)
        self.viewport().update()

    def scroll_to_highlight(self) -> None:
        """To the passage; to its supporting sentence when that is not on the passage's first
        page (a passage running onto the next page)."""
        first = min(self.highlights, key=lambda r: (r.page, r.y0), default=None)
        if self.strong and (first is None or self.strong[0].page != first.page):
            self.scroll_to(self.strong)
        else:
            self.scroll_to(self.highlights)

    def scroll_to(self, rects: Sequence[Rect]) -> None:
        """Scroll the first of rects to a third of the way down the view."""
        if not rects:
            return
        first = min(rects, key=lambda r: (r.page, r.y0))
        page = self.page_geometry(first.page - 1)
        points = self.document().pagePointSize(first.page - 1)
        if page.isNull() or points.height() <= 0:
            return
        top = page.y() + first.y0 * page.height() / points.height()
        y = top - self.viewport().height() * CITED_AT
        self.verticalScrollBar().setValue(max(0, int(y)))
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self.highlights and not self.match and not self.strong:
            return
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        layers = [(PASSAGE_EDGE, PASSAGE_FILL, self.highlight_viewport_rects()),
                  (SENTENCE_EDGE, SENTENCE_FILL, self.strong_viewport_rects()),
                  (HIGHLIGHT_EDGE, HIGHLIGHT_FILL, self.match_viewport_rects())] if self.strong \
            else [(HIGHLIGHT_EDGE, HIGHLIGHT_FILL,
                   self.highlight_viewport_rects() + self.match_viewport_rects())]
        for edge, fill, rects in layers:
            painter.setPen(edge)
            painter.setBrush(fill)
            for rect in rects:
                if not rect.isNull():
                    painter.drawRoundedRect(rect.adjusted(-2, -1, 2, 1), 2, 2)
        painter.end()


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
