"""Retry and Remove on a failed document's row of the library list."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QTreeWidget, QTreeWidgetItem, QWidget

from core.types import Document

STATUS_COLUMN = 2


class FailedActions(QWidget):
    """"Failed" with two buttons: Retry reads the file again, Remove takes the row away.

    Only files that exist and could not be read are listed as failed, so Retry is worth a try
    once the file is fixed (or its password known); Remove asks nothing: nothing indexed is lost
    and the user's file is not touched.
    """

    retry_clicked = Signal(Path)  # the document's original path
    remove_clicked = Signal(int)  # the document's id

    def __init__(self, doc: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Painted over the cell's own "Failed" text, so the cell's background is its own.
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.Base)
        label = QLabel("Failed", self)
        label.setStyleSheet("color: red;")
        self.retry_button = QToolButton(self)
        self.retry_button.setText("Retry")
        self.retry_button.setToolTip(f"Read {doc.original_path} again")
        self.remove_button = QToolButton(self)
        self.remove_button.setText("Remove")
        self.remove_button.setToolTip("Take this row out of the library (your file is not "
                                      "touched)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 0, 2, 0)
        layout.setSpacing(4)
        layout.addWidget(label)
        layout.addWidget(self.retry_button)
        layout.addWidget(self.remove_button)
        layout.setAlignment(Qt.AlignmentFlag.AlignVCenter)
        path, doc_id = Path(doc.original_path), doc.id
        self.retry_button.clicked.connect(lambda: self.retry_clicked.emit(path))
        self.remove_button.clicked.connect(lambda: self.remove_clicked.emit(doc_id))


def attach(tree: QTreeWidget, item: QTreeWidgetItem, doc: Document,
           retry: Callable[[list[Path]], object], remove: Callable[[int], object]) -> FailedActions:
    """Put Retry and Remove in the status cell of a failed document's item (already in tree)."""
    actions = FailedActions(doc, tree)
    actions.retry_clicked.connect(lambda path: retry([path]))
    actions.remove_clicked.connect(remove)
    tree.setItemWidget(item, STATUS_COLUMN, actions)
    return actions
