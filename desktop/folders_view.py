"""Watched folders in the library panel, and the question a dropped folder asks.

The list shows each watched folder with its state (in sync, with its files and last sync, or
unavailable, the reason in its tooltip); its menu syncs now, stops watching (asking whether
the documents stay) and shows the folder in the file manager. A folder dropped on the window (or
chosen with File ▸ Add folder…) asks "Add once" or "Keep in sync"; Esc cancels.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QUrl, Signal
from PySide6.QtGui import QBrush, QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.store.folders import Folder

PATH_ROLE = Qt.ItemDataRole.UserRole
ADD_ONCE, KEEP_IN_SYNC = "once", "sync"
UNAVAILABLE = "Unavailable"
VISIBLE_ROWS = 4  # more scroll


def when(iso: str | None) -> str:
    """A sync time as a person reads it: the time today, else the date."""
    if not iso:
        return "never"
    try:
        moment = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return iso
    today = datetime.now().astimezone().date()
    return moment.strftime("%H:%M" if moment.date() == today else "%Y-%m-%d")


def state_text(folder: Folder) -> str:
    if not folder.available:
        return UNAVAILABLE
    files = "1 file" if folder.files == 1 else f"{folder.files} files"
    return f"{files} · synced {when(folder.last_sync_at)}"


def tooltip(folder: Folder) -> str:
    lines = [folder.path]
    if folder.available:
        lines.append(f"Kept in sync: {folder.files} file(s), last sync {when(folder.last_sync_at)}.")
    else:
        lines.append(f"Unavailable: {folder.problem or 'the folder cannot be read.'}")
        lines.append("Its documents stay in the library until the folder is back.")
    if folder.include:
        lines.append("Only: " + ", ".join(folder.include))
    if folder.exclude:
        lines.append("Not: " + ", ".join(folder.exclude))
    return "\n".join(lines)


class FoldersView(QWidget):
    """The watched folders, hidden while there are none; acts by signal."""

    sync_requested = Signal(str)  # a folder's path
    unwatch_requested = Signal(str, bool)  # a folder's path, keep its documents

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Watched folders", self)
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(2)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setAcceptDrops(False)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._on_context_menu)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.tree)
        self.folders: list[Folder] = []
        self.hide()

    def set_folders(self, folders: Sequence[Folder]) -> None:
        self.folders = list(folders)
        self.tree.clear()
        for folder in self.folders:
            item = QTreeWidgetItem([Path(folder.path).name or folder.path, state_text(folder)])
            item.setData(0, PATH_ROLE, folder.path)
            for column in (0, 1):
                item.setToolTip(column, tooltip(folder))
            if not folder.available:
                item.setForeground(1, QBrush(Qt.GlobalColor.darkYellow))
            self.tree.addTopLevelItem(item)
        rows = min(max(1, len(self.folders)), VISIBLE_ROWS)
        row_height = self.tree.sizeHintForRow(0) if self.folders else 20
        self.tree.setFixedHeight(rows * max(row_height, 18) + 2 * self.tree.frameWidth() + 2)
        self.setVisible(bool(self.folders))

    def state_of(self, name: str) -> str | None:
        """The state column of the folder named name (for tests)."""
        item = self._item(name)
        return None if item is None else item.text(1)

    def tooltip_of(self, name: str) -> str | None:
        item = self._item(name)
        return None if item is None else item.toolTip(1)

    def _item(self, name: str) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is not None and item.text(0) == name:
                return item
        return None

    # --- the menu -----------------------------------------------------------------------------

    def _on_context_menu(self, point: QPoint) -> None:
        item = self.tree.itemAt(point)
        if item is None:
            return
        self.tree.setCurrentItem(item)
        self.context_menu(str(item.data(0, PATH_ROLE))).exec(
            self.tree.viewport().mapToGlobal(point))

    def context_menu(self, path: str) -> QMenu:
        menu = QMenu(self)
        menu.addAction("Sync now", lambda: self.sync_requested.emit(path))
        menu.addAction("Stop watching…", lambda: self.confirm_unwatch(path))
        menu.addAction("Show in the file manager",
                       lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(path)))
        return menu

    def confirm_unwatch(self, path: str) -> None:
        box = unwatch_box(self, path)
        box.exec()
        keep = box.property("keep")
        if keep is not None:
            self.unwatch_requested.emit(path, bool(keep))


def unwatch_box(parent: QWidget, path: str) -> QMessageBox:
    """Stop watching: keep the documents of the folder's files, remove them, or cancel (the
    choice is the box's "keep" property: True, False, or None)."""
    box = QMessageBox(QMessageBox.Icon.Question, "Stop watching",
                      f"Stop keeping “{Path(path).name}” in sync?\n\nFolio will no longer follow "
                      f"{path}. Its documents can stay in the library or be removed; your files "
                      "are not touched.", QMessageBox.StandardButton.NoButton, parent)
    keep = box.addButton("Keep the documents", QMessageBox.ButtonRole.AcceptRole)
    remove = box.addButton("Remove the documents", QMessageBox.ButtonRole.DestructiveRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(keep)
    box.setEscapeButton(cancel)
    box.buttonClicked.connect(lambda button: box.setProperty(
        "keep", True if button is keep else False if button is remove else None))
    return box


class FolderDropDialog(QDialog):
    """Add once, or keep in sync? (Esc, or closing it, cancels.) `chosen` says which."""

    chosen = Signal(str)  # ADD_ONCE or KEEP_IN_SYNC

    def __init__(self, folders: Sequence[Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folders = list(folders)
        self.setWindowTitle("Add a folder")
        if len(self.folders) == 1:
            what = f"“{self.folders[0].name or self.folders[0]}”"
        else:
            what = f"these {len(self.folders)} folders"
        text = QLabel(f"<p><b>Add {what} to the library</b></p><p><b>Keep in sync</b>: Folio "
                      "follows the folder — files you add, change, rename or delete there are "
                      "picked up while Folio runs and each time it starts.</p><p><b>Add "
                      "once</b>: its files are added now, and the folder is not followed.</p>",
                      self)
        text.setWordWrap(True)
        buttons = QDialogButtonBox(self)
        self.keep_button: QPushButton = buttons.addButton(
            "Keep in sync", QDialogButtonBox.ButtonRole.AcceptRole)
        self.once_button: QPushButton = buttons.addButton(
            "Add once", QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.keep_button.setDefault(True)
        self.keep_button.clicked.connect(lambda: self._choose(KEEP_IN_SYNC))
        self.once_button.clicked.connect(lambda: self._choose(ADD_ONCE))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)

    def _choose(self, choice: str) -> None:
        self.accept()
        self.chosen.emit(choice)
