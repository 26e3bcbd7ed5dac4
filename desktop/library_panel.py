"""The library panel: every document with its pages and status, indexing progress, and removal."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.titles import shown_titles
from core.types import AddProgress, AddStage, DocStatus, Document

DOC_ID_ROLE = Qt.ItemDataRole.UserRole
# The PDF reader notes "12 page(s) read by OCR (eng)" on a document with scanned pages.
_OCR_NOTE = re.compile(r"\b(\d+) page\(s\) read by OCR\b")
EMPTY_TEXT = ("Your library is empty.\n\nDrop files or folders anywhere on this window, or press "
              "Ctrl+O to add PDF, EPUB, Markdown, text or HTML files.")


class LibraryPanel(QWidget):
    """Lists documents; asks (by signal) for adding, opening, removing and cancelling."""

    add_requested = Signal()
    sample_requested = Signal()
    document_activated = Signal(int)
    remove_requested = Signal(int)
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Title", "Pages", "Status"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(False)
        self.tree.setWordWrap(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setAcceptDrops(False)  # drops go to the window, which takes them anywhere
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.tree.itemActivated.connect(self._on_item_activated)
        self.tree.itemClicked.connect(self._on_item_activated)

        self.empty = QWidget(self)
        empty_label = QLabel(EMPTY_TEXT, self.empty)
        empty_label.setWordWrap(True)
        empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        sample = QPushButton("Add the Folio guide", self.empty)
        sample.setToolTip("Index a short user guide, to try asking questions")
        sample.clicked.connect(self.sample_requested)
        empty_layout = QVBoxLayout(self.empty)
        empty_layout.addStretch(1)
        empty_layout.addWidget(empty_label)
        empty_layout.addWidget(sample, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addStretch(2)

        # Until the library has said what it holds: neither "empty" nor a list (one state at a
        # time; a library of twenty documents must not flash the empty-library message).
        self.opening = QLabel("", self)
        self.opening.setWordWrap(True)
        self.opening.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.opening)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.tree)

        add = QPushButton("Add…", self)
        add.setToolTip("Add files (Ctrl+O)")
        add.clicked.connect(self.add_requested)
        title = QLabel("<b>Library</b>", self)
        top = QHBoxLayout()
        top.addWidget(title, 1)
        top.addWidget(add)

        self.progress_label = QLabel(self)
        self.progress_label.setWordWrap(True)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop indexing; the document being indexed is left out")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.progress_box = QWidget(self)
        progress_layout = QVBoxLayout(self.progress_box)
        progress_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.progress_bar, 1)
        row.addWidget(self.cancel_button)
        progress_layout.addWidget(self.progress_label)
        progress_layout.addLayout(row)
        self.progress_box.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.progress_box)

        QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.tree,
                  self._confirm_remove, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.documents: list[Document] = []
        self.shown: dict[int, str] = {}  # document id -> the title the list shows
        self.stack.setCurrentWidget(self.opening)

    # --- documents ----------------------------------------------------------------------------

    def set_documents(self, documents: Sequence[Document]) -> None:
        selected = self.selected_id()
        self.documents = list(documents)
        self.shown = shown_titles(self.documents)  # alike titles get their file names added
        self.tree.clear()
        failed_brush = QBrush(self.palette().color(QPalette.ColorRole.PlaceholderText))
        for doc in self.documents:
            pages = str(doc.pages) if doc.pages else ""
            status = "Indexed" if doc.status is DocStatus.INDEXED else "Failed"
            if doc.status is DocStatus.INDEXED and ocr_pages(doc):
                status = "Indexed · OCR"
            item = QTreeWidgetItem([self.shown[doc.id], pages, status])
            item.setData(0, DOC_ID_ROLE, doc.id)
            item.setToolTip(0, f"{doc.title}\n{doc.original_path}\n{doc.passages} passages, "
                               f"{doc.doc_type}")
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if doc.status is DocStatus.FAILED:
                item.setForeground(2, QBrush(Qt.GlobalColor.red))
                reason = QTreeWidgetItem([doc.error or "Could not be indexed."])
                reason.setData(0, DOC_ID_ROLE, doc.id)
                reason.setForeground(0, failed_brush)
                reason.setToolTip(0, f"{doc.error}\n{doc.original_path}")
                item.addChild(reason)
            elif doc.notes:
                item.setToolTip(2, doc.notes)
            self.tree.addTopLevelItem(item)
            for i in range(item.childCount()):
                child = item.child(i)
                if child is not None:
                    child.setFirstColumnSpanned(True)
            item.setExpanded(True)
            if doc.id == selected:
                self.tree.setCurrentItem(item)
        self.stack.setCurrentWidget(self.tree if self.documents else self.empty)

    def tooltip_of(self, title: str, column: int) -> str | None:
        """The tooltip of a document's cell (for tests)."""
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is not None and item.text(0) == title:
                return item.toolTip(column)
        return None

    def set_adding_guide(self) -> None:
        """An empty library's first start is adding the guide: say that, not "empty" beside it."""
        if not self.documents:
            self.opening.setText("Adding the Folio guide, a short manual to try questions on…")
            self.stack.setCurrentWidget(self.opening)

    def status_of(self, title: str) -> str | None:
        """The status column of the document with title (for tests and the screenshot script)."""
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is not None and item.text(0) == title:
                return item.text(2)
        return None

    def selected_id(self) -> int | None:
        item = self.tree.currentItem()
        value = None if item is None else item.data(0, DOC_ID_ROLE)
        return int(value) if value is not None else None

    def _on_item_activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        value = item.data(0, DOC_ID_ROLE)
        if value is not None:
            self.document_activated.emit(int(value))

    def _confirm_remove(self) -> None:
        doc_id = self.selected_id()
        doc = next((d for d in self.documents if d.id == doc_id), None)
        if doc is None:
            return
        answer = QMessageBox.question(
            self, "Remove document",
            f"Remove “{self.shown.get(doc.id, doc.title)}” from the library?\n\n"
            "Folio's copy and its index are deleted; "
            f"your file {doc.original_path} is not touched.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Yes:
            self.remove_requested.emit(doc.id)

    # --- indexing progress --------------------------------------------------------------------

    def set_progress(self, progress: AddProgress | None) -> None:
        """Show indexing progress; None hides it."""
        if progress is None:
            self.progress_box.hide()
            return
        self.progress_box.show()
        self.cancel_button.setEnabled(True)
        name = Path(progress.current_path).name if progress.current_path else ""
        files = f"file {min(progress.files_done + 1, progress.files_total)} of {progress.files_total}"
        if name:
            files = f"{name} ({files})"
        reading = progress.stage in (AddStage.READING, AddStage.OCR)
        if reading and progress.pages_total:
            what = "OCR" if progress.stage is AddStage.OCR else "Reading"
            self.progress_label.setText(f"{what} page {progress.pages_done} of "
                                        f"{progress.pages_total}: {files}")
            self.progress_bar.setRange(0, progress.pages_total)
            self.progress_bar.setValue(progress.pages_done)
        elif progress.stage is AddStage.CHUNKING:
            self.progress_label.setText(f"Splitting {files} into passages…")
            self.progress_bar.setRange(0, 0)
        elif progress.passages_total:
            self.progress_label.setText(f"Indexing {files}: "
                                        f"{progress.passages_done}/{progress.passages_total} "
                                        "passages")
            self.progress_bar.setRange(0, progress.passages_total)
            self.progress_bar.setValue(progress.passages_done)
        else:
            self.progress_label.setText(f"Reading {files}…")
            self.progress_bar.setRange(0, 0)  # busy: the passage count is not known yet

    def set_starting(self, text: str) -> None:
        self.progress_box.show()
        self.progress_label.setText(text)
        self.progress_bar.setRange(0, 0)

    def set_cancelling(self) -> None:
        self.cancel_button.setEnabled(False)
        self.progress_label.setText("Cancelling…")


def ocr_pages(doc: Document) -> int:
    """How many of the document's pages were read by OCR (from the reader's note)."""
    match = _OCR_NOTE.search(doc.notes or "")
    return int(match.group(1)) if match else 0
