"""Find in the viewer's document (Ctrl+F): the find bar, and going from match to match.

Text documents are searched by QPlainTextEdit.find. PDFs by a QPdfSearchModel that the viewer
owns and that only the finder reads: the view is not given the model (see PdfPageView), and the
current match is drawn by the view like a cited passage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QTextCursor, QTextDocument
from PySide6.QtPdf import QPdfSearchModel
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QStackedWidget,
    QToolButton,
    QWidget,
)

from core.types import Rect

if TYPE_CHECKING:
    from desktop.pdf_page_view import PdfPageView


class FindBar(QWidget):
    """Ctrl+F: a search field over the open document."""

    searched = Signal(str, bool)  # text, backwards
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = QLineEdit(self)
        self.field.setPlaceholderText("Find in document")
        self.field.setClearButtonEnabled(True)
        self.status = QLabel(self)
        previous, following, close = QToolButton(self), QToolButton(self), QToolButton(self)
        previous.setText("↑")
        previous.setToolTip("Previous match (Shift+Enter)")
        following.setText("↓")
        following.setToolTip("Next match (Enter)")
        close.setText("✕")
        close.setToolTip("Close (Esc)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for widget in (self.field, previous, following, self.status, close):
            layout.addWidget(widget)
        self.field.returnPressed.connect(lambda: self.searched.emit(self.field.text(), False))
        self.field.textChanged.connect(lambda text: self.searched.emit(text, False))
        previous.clicked.connect(lambda: self.searched.emit(self.field.text(), True))
        following.clicked.connect(lambda: self.searched.emit(self.field.text(), False))
        close.clicked.connect(self.close_bar)
        QShortcut(QKeySequence("Shift+Return"), self.field,
                  lambda: self.searched.emit(self.field.text(), True))

    def open_bar(self) -> None:
        self.show()
        self.field.setFocus()
        self.field.selectAll()

    def close_bar(self) -> None:
        self.hide()
        self.closed.emit()


class DocumentFind(QObject):
    """The viewer's find: its bar (hidden until opened), and the current match of a search.

    stack says which view is shown (pdf_view, text_view or neither); a match on a PDF page is
    reported by went_to_page(page) (1-based) after the view has scrolled to it.
    """

    found = Signal(int, int)  # a find went to match index (0-based) of count; -1, 0: none

    def __init__(self, parent: QWidget, model: QPdfSearchModel, stack: QStackedWidget,
                 pdf_view: PdfPageView, text_view: QPlainTextEdit,
                 went_to_page: Callable[[int], None]) -> None:
        super().__init__(parent)
        self.model, self.stack = model, stack
        self.pdf_view, self.text_view = pdf_view, text_view
        self._went_to_page = went_to_page
        self.bar = FindBar(parent)
        self.bar.hide()
        self.bar.searched.connect(self.find_text)
        self.bar.closed.connect(self.clear_match)
        self._index = -1
        self._pending: bool | None = None  # waiting for a search's first match (backwards?)
        model.countChanged.connect(self._on_count_changed)
        model.statusChanged.connect(self._on_status_changed)

    def forget(self) -> None:
        """Another PDF was opened: the matches were the old file's."""
        self._index, self._pending = -1, None
        self.pdf_view.match = []

    def find_text(self, text: str, backwards: bool = False) -> bool:
        """Go to the next (or previous) match of text; False when there is none."""
        if self.stack.currentWidget() is self.text_view:
            return self._find_in_text(text, backwards)
        if self.stack.currentWidget() is self.pdf_view:
            return self._find_in_pdf(text, backwards)
        return False

    def _find_in_text(self, text: str, backwards: bool) -> bool:
        if not text:
            self.bar.status.clear()
            return False
        flags = QTextDocument.FindFlag.FindBackward if backwards else QTextDocument.FindFlag(0)
        found = self.text_view.find(text, flags)
        if not found:  # wrap around
            cursor = self.text_view.textCursor()
            cursor.movePosition(QTextCursor.MoveOperation.End if backwards
                                else QTextCursor.MoveOperation.Start)
            self.text_view.setTextCursor(cursor)
            found = self.text_view.find(text, flags)
        self.bar.status.setText("" if found else "Not found")
        return found

    def _find_in_pdf(self, text: str, backwards: bool) -> bool:
        """Go to the next match; a new text starts a search that QPdfSearchModel runs in the
        background (rows arrive later, page by page), so the first match is gone to when it
        arrives and "Not found" is said only once the search has finished."""
        if self.model.searchString() != text:
            self._index = -1
            self._pending = None
            self.clear_match()
            self.model.setSearchString(text)
            if not text:
                self.bar.status.clear()
                return False
            if self.model.count() == 0:
                self._pending = backwards
                self.bar.status.setText("Searching…")
                return False
        if not text:
            self.bar.status.clear()
            return False
        if self.model.count() == 0:
            if self._pending is None:  # the search has finished with nothing
                self.bar.status.setText("Not found")
                self.found.emit(-1, 0)
            return False
        self._go_to_match(backwards)
        return True

    def _go_to_match(self, backwards: bool) -> None:
        count = self.model.count()
        step = -1 if backwards else 1
        self._index = (self._index + step) % count
        link = self.model.resultAtIndex(self._index)
        if link.page() < 0:  # the model was reset meanwhile: no such result (any more)
            self.clear_match()
            return
        page = link.page() + 1
        self.pdf_view.show_match([Rect(page, r.left(), r.top(), r.right(), r.bottom())
                                  for r in link.rectangles()])  # PDF points from the top-left
        self._went_to_page(page)
        self._show_count()
        self.found.emit(self._index, count)

    def clear_match(self) -> None:
        if self.pdf_view.match:
            self.pdf_view.match = []
            self.pdf_view.viewport().update()

    def _show_count(self) -> None:
        count = self.model.count()
        more = "+" if self.model.status() is QPdfSearchModel.Status.Searching else ""
        self.bar.status.setText(f"{self._index + 1} of {count}{more}")

    def _on_count_changed(self) -> None:
        if not self.model.searchString() or self.model.count() == 0:
            return
        if self._pending is not None:  # the first match of a search that was waited for
            backwards, self._pending = self._pending, None
            self._go_to_match(backwards)
        elif self._index >= 0:
            self._show_count()

    def _on_status_changed(self) -> None:
        if self.model.status() is not QPdfSearchModel.Status.Finished:
            return
        if self._pending is not None and self.model.count() == 0:
            self._pending = None
            if self.model.searchString():
                self.bar.status.setText("Not found")
                self.found.emit(-1, 0)
        elif self._index >= 0:
            self._show_count()
