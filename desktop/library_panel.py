"""The library panel: every document with its pages and status, indexing progress, and removal."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt, QUrl, Signal
from PySide6.QtGui import QBrush, QDesktopServices, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
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
from desktop import failed_actions
from desktop.folders_view import FoldersView

DOC_ID_ROLE = Qt.ItemDataRole.UserRole
# The PDF reader notes "12 page(s) read by OCR (eng)" on a document with scanned pages.
_OCR_NOTE = re.compile(r"\b(\d+) page\(s\) read by OCR\b")
PROGRESS_STEPS = 1000
READ_SHARE = 0.2  # of a file's indexing time, reading it (the rest is embedding; measured ~5%)
SortKey = Callable[[Document, str], Any]  # a document and its shown title -> its sort key
# What the sort box offers: a key, and whether the largest come first.
SORTS: dict[str, tuple[SortKey, bool]] = {
    "Title": (lambda d, shown: shown.casefold(), False),
    "Newest first": (lambda d, shown: (d.added_at, d.id), True),  # ids break a tie
    "Oldest first": (lambda d, shown: (d.added_at, d.id), False),
    "Most pages": (lambda d, shown: d.pages, True),
}
EMPTY_TEXT = ("Your library is empty.\n\nDrop files or folders anywhere on this window, or press "
              "Ctrl+O to add PDF, EPUB, Markdown, text or HTML files.")


class LibraryPanel(QWidget):
    """Lists documents; asks (by signal) for adding, opening, removing and cancelling."""

    add_requested = Signal()
    sample_requested = Signal()
    document_activated = Signal(int)
    remove_requested = Signal(int)
    retry_requested = Signal(list)  # list[Path]: a failed file to read again
    cancel_requested = Signal()
    ask_about_requested = Signal(list)  # list[int]: ask questions within these documents only
    summary_requested = Signal(int)
    propose_checks_requested = Signal(int)  # questions made from the document (desktop/checks_view)

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
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._on_context_menu)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.tree.itemActivated.connect(self._on_item_activated)
        self.tree.itemClicked.connect(self._on_item_clicked)

        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter by title or file name")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        self.sort = QComboBox(self)
        self.sort.addItems(list(SORTS))
        self.sort.setToolTip("Sort the library")
        self.sort.currentTextChanged.connect(lambda _text: self.set_documents(self.documents))
        tools = QHBoxLayout()
        tools.addWidget(self.filter, 1)
        tools.addWidget(self.sort)

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
        self.folders = FoldersView(self)  # the watched folders, hidden while there are none
        layout.addWidget(self.folders)
        layout.addLayout(tools)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.progress_box)

        QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.tree,
                  self._confirm_remove, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.documents: list[Document] = []
        self.shown: dict[int, str] = {}  # document id -> the title the list shows
        self.stack.setCurrentWidget(self.opening)

    # --- documents ----------------------------------------------------------------------------

    def set_documents(self, documents: Sequence[Document]) -> None:
        selected = set(self.selected_ids())
        current = self.selected_id()
        self.documents = list(documents)
        self.shown = shown_titles(self.documents)  # alike titles get their file names added
        self.tree.clear()
        failed_brush = QBrush(self.palette().color(QPalette.ColorRole.PlaceholderText))
        key, largest_first = SORTS.get(self.sort.currentText(), SORTS["Title"])
        ordered = sorted(self.documents, key=lambda d: key(d, self.shown[d.id]),
                         reverse=largest_first)
        for doc in ordered:
            pages = str(doc.pages) if doc.pages else ""
            status = "Indexed" if doc.status is DocStatus.INDEXED else "Failed"
            if doc.status is DocStatus.INDEXED and ocr_pages(doc):
                status = "Indexed · OCR"
            item = QTreeWidgetItem([self.shown[doc.id], pages, status])
            item.setData(0, DOC_ID_ROLE, doc.id)
            item.setToolTip(0, f"{self.shown[doc.id]}\n{doc.original_path}\n{doc.passages} "
                               f"passages, {doc.doc_type}, added {doc.added_at[:10]}")
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
            if doc.status is DocStatus.FAILED:  # Retry and Remove in its status cell
                failed_actions.attach(self.tree, item, doc, self.retry_requested.emit,
                                      self.remove_requested.emit)
            for i in range(item.childCount()):
                child = item.child(i)
                if child is not None:
                    child.setFirstColumnSpanned(True)
            item.setExpanded(True)
            if doc.id == current:
                self.tree.setCurrentItem(item)
            item.setSelected(doc.id in selected)
        self._apply_filter(self.filter.text())
        self.stack.setCurrentWidget(self.tree if self.documents else self.empty)

    def _apply_filter(self, text: str) -> None:
        """Hide the documents whose shown title and file name do not contain every word typed."""
        words = text.casefold().split()
        by_id = {d.id: d for d in self.documents}
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            doc = by_id.get(int(item.data(0, DOC_ID_ROLE))) if item is not None else None
            if item is None or doc is None:
                continue
            haystack = f"{self.shown[doc.id]} {Path(doc.original_path).name}".casefold()
            item.setHidden(not all(w in haystack for w in words))

    def title_of(self, doc_id: int) -> str:
        """The title the list shows for a document (alike titles carry their file names)."""
        return self.shown.get(doc_id, f"document {doc_id}")

    def visible_titles(self) -> list[str]:
        """The titles the list shows, top to bottom (for tests and the screenshot script)."""
        items = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [item.text(0) for item in items if item is not None and not item.isHidden()]

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

    def selected_ids(self) -> list[int]:
        """The selected documents, in the list's order (a failed file's reason row counts as
        its document)."""
        ids = [int(item.data(0, DOC_ID_ROLE)) for item in self.tree.selectedItems()
               if item.data(0, DOC_ID_ROLE) is not None]
        return list(dict.fromkeys(ids))

    def select(self, doc_ids: Sequence[int]) -> None:
        """Select these documents (as Ctrl+click would)."""
        self.tree.clearSelection()
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is not None and item.data(0, DOC_ID_ROLE) in doc_ids:
                item.setSelected(True)

    def _on_item_clicked(self, item: QTreeWidgetItem, column: int = 0) -> None:
        # Ctrl+ and Shift+click choose documents (to ask about them); a plain click opens one.
        if QApplication.keyboardModifiers() & (Qt.KeyboardModifier.ControlModifier
                                               | Qt.KeyboardModifier.ShiftModifier):
            return
        self._on_item_activated(item, column)

    def _on_item_activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        value = item.data(0, DOC_ID_ROLE)
        if value is not None:
            self.document_activated.emit(int(value))

    # --- the context menu ---------------------------------------------------------------------

    def _on_context_menu(self, point: QPoint) -> None:
        item = self.tree.itemAt(point)
        if item is None:
            return
        if not item.isSelected():
            self.tree.setCurrentItem(item)  # a right click outside the selection selects it
        menu = self.context_menu()
        if menu is not None:
            menu.exec(self.tree.viewport().mapToGlobal(point))

    def context_menu(self) -> QMenu | None:
        """The menu for the selected documents: open, ask about, summarise, propose checks,
        show, remove."""
        docs = [d for i in self.selected_ids() for d in self.documents if d.id == i]
        if not docs:
            return None
        one = docs[0] if len(docs) == 1 else None
        menu = QMenu(self)
        if one is not None:
            menu.addAction("Open", lambda: self.document_activated.emit(one.id))
        indexed = [d.id for d in docs if d.status is DocStatus.INDEXED]
        ask = menu.addAction("Ask about this document" if one else
                             f"Ask about these {len(docs)} documents",
                             lambda: self.ask_about_requested.emit(indexed))
        ask.setEnabled(bool(indexed))
        if one is not None:
            summary = menu.addAction("Summarise", lambda: self.summary_requested.emit(one.id))
            summary.setEnabled(one.status is DocStatus.INDEXED)
            propose = menu.addAction("Propose checks…",
                                     lambda: self.propose_checks_requested.emit(one.id))
            propose.setEnabled(one.status is DocStatus.INDEXED)
            menu.addAction("Show the file in the file manager", lambda: show_in_folder(one))
        menu.addSeparator()
        menu.addAction("Remove from the library…" if one else
                       f"Remove {len(docs)} documents from the library…", self._confirm_remove)
        return menu

    def _confirm_remove(self) -> None:
        ids = self.selected_ids()
        docs = [d for i in ids for d in self.documents if d.id == i]
        if not docs:
            return
        if len(docs) == 1:
            doc = docs[0]
            text = (f"Remove “{self.shown.get(doc.id, doc.title)}” from the library?\n\n"
                    "Folio's copy and its index are deleted; "
                    f"your file {doc.original_path} is not touched.")
        else:
            text = (f"Remove these {len(docs)} documents from the library?\n\n"
                    "Folio's copies and their index are deleted; your files are not touched.")
        answer = QMessageBox.question(
            self, "Remove document", text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Yes:
            for doc in docs:
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
        current = min(max(progress.files_done, progress.files_read) + 1, progress.files_total)
        files = f"file {current} of {progress.files_total}"
        if name:
            files = f"{name} ({files})"
        reading = progress.stage in (AddStage.READING, AddStage.OCR)
        if reading and progress.pages_total:
            what = "OCR" if progress.stage is AddStage.OCR else "Reading"
            self.progress_label.setText(f"{what} page {progress.pages_done} of "
                                        f"{progress.pages_total}: {files}")
        elif progress.stage is AddStage.CHUNKING:
            self.progress_label.setText(f"Splitting {files} into passages…")
        elif progress.passages_total:
            self.progress_label.setText(f"Indexing {files}: "
                                        f"{progress.passages_done}/{progress.passages_total} "
                                        "passages")
        else:
            self.progress_label.setText(f"Reading {files}…")
        # The bar is the whole job's; the label says where the current file is.
        self.progress_bar.setRange(0, PROGRESS_STEPS)
        self.progress_bar.setValue(round(job_fraction(progress) * PROGRESS_STEPS))

    def set_starting(self, text: str) -> None:
        self.progress_box.show()
        self.progress_label.setText(text)
        self.progress_bar.setRange(0, 0)

    def set_cancelling(self) -> None:
        self.cancel_button.setEnabled(False)
        self.progress_label.setText("Cancelling…")


def job_fraction(progress: AddProgress) -> float:
    """How much of an add job is done: files done, plus the current files' part (reading a file
    its first fifth, embedding its passages the rest: embedding takes most of the time).

    Files are embedded in waves of several small files: the files of the wave already read
    (files_read past files_done) count as read while the next is read, and the wave's
    embedding moves all of them together, so the bar never goes back from file to file.
    """
    if progress.files_total <= 0:
        return 0.0
    done = min(progress.files_done, progress.files_total)
    waiting = max(0, min(progress.files_read, progress.files_total) - done)
    if progress.stage is AddStage.EMBEDDING or (progress.stage is None
                                                 and progress.passages_total):
        # the wave's passages: every file of the wave is that far into its embedding
        embedded = min(1.0, progress.passages_done / max(1, progress.passages_total))
        files = done + max(1, waiting) * (READ_SHARE + (1 - READ_SHARE) * embedded)
    else:
        read = 0.0  # of the file being read
        if progress.stage in (AddStage.READING, AddStage.OCR) and progress.pages_total:
            read = min(1.0, progress.pages_done / progress.pages_total)
        elif progress.stage is AddStage.CHUNKING:
            read = 1.0
        files = done + READ_SHARE * (waiting + read)  # the same sum as the next file starts
    return min(1.0, files / progress.files_total)


def show_in_folder(doc: Document) -> bool:
    """Open the folder of the document's original file in the file manager (the folder, not the
    file: desktops have no common "select this file" call; the window title names it)."""
    folder = Path(doc.original_path).parent
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def ocr_pages(doc: Document) -> int:
    """How many of the document's pages were read by OCR (from the reader's note)."""
    match = _OCR_NOTE.search(doc.notes or "")
    return int(match.group(1)) if match else 0
