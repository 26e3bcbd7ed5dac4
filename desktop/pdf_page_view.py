"""The viewer's PDF pages: a QPdfView that draws the cited passage, its sentence, find's match.

The highlight colours are the viewer's plain-text documents' too."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QMargins, QRect, QRectF, QSize, QSizeF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPaintEvent
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import QWidget

from core.types import Rect

HIGHLIGHT_FILL = QColor(255, 200, 0, 90)
HIGHLIGHT_EDGE = QColor(230, 140, 0, 220)
# With the supporting sentence of a citation shown strongly, the rest of its passage is light.
PASSAGE_FILL = QColor(255, 215, 0, 45)
PASSAGE_EDGE = QColor(230, 160, 0, 110)
SENTENCE_FILL = QColor(255, 150, 0, 120)
SENTENCE_EDGE = QColor(210, 90, 0, 240)
# A cited passage is scrolled to a third of the way down, so the heading above it shows too.
CITED_AT = 1 / 3


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
