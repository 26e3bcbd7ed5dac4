"""The main window: library, viewer and question panel side by side, wired to what does the work.

The window builds the panels and the objects that act for them (desktop/documents.py,
ingest.py, asking.py, opening.py, library_settings.py), connects their signals, and keeps its
menus, drops and layout. It relays nothing: after a write the Workers announce the change on the
app's event bus (AppEvents) and each part refreshes itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QIcon,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QWidget

from core.answer_types import AnswerEvent, Citation
from core.readers import SUPPORTED_SUFFIXES
from core.resources import resource_path
from core.types import AddOutcome, Document
from desktop.app_events import SWITCHED, AppEvents
from desktop.asking import Asking
from desktop.chat_panel import ChatPanel
from desktop.checks_view import Checking
from desktop.documents import DocumentList
from desktop.folder_sync import FolderSync
from desktop.help_menu import HelpMenu
from desktop.ingest import Ingest
from desktop.library_panel import LibraryPanel
from desktop.library_settings import LibrarySettings
from desktop.opening import Opening
from desktop.panes import Panes
from desktop.settings_dialog import AppSettings, SettingsDialog
from desktop.tasks import StreamTask, Task
from desktop.viewer import Viewer
from desktop.workers import Workers

if TYPE_CHECKING:
    from core.engine import Engine

ICON = resource_path("icons", "folio.svg")
SAMPLE_FILES = ("folio-guide.pdf",)


def dropped_paths(event: QDropEvent | QDragEnterEvent) -> list[Path]:
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


class MainWindow(QMainWindow):
    """Builds and wires the panels; every slow call runs in its Workers."""

    def __init__(self, settings: AppSettings, library_root: Path, engine: Engine,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.library_root = library_root
        self.setWindowTitle("Folio")
        if ICON.exists():
            self.setWindowIcon(QIcon(str(ICON)))
        self.setAcceptDrops(True)
        self.events = AppEvents(self)
        self.workers = Workers(library_root, self.events, engine, self)

        self.library_panel = LibraryPanel(self)
        self.viewer = Viewer(self)
        self.chat = ChatPanel(self)
        self.splitter = Panes((self.library_panel, self.viewer, self.chat), self)
        self.splitter.setSizes([300, 640, 420])
        self.setCentralWidget(self.splitter)
        self.resize(1360, 820)

        show_error = self._show_error
        self.document_list = DocumentList(self.workers, self.events, self.library_panel,
                                          show_error, self)
        self.ingest = Ingest(self.workers, self.library_panel, self.document_list, self, self)
        self.asking = Asking(self.workers, self.events, self.chat, self.library_panel,
                             show_error, self)
        self.opening = Opening(self.workers, self.events, self.viewer, show_error, self)
        self.folder_sync = FolderSync(self.workers, self.events, self.ingest,
                                      self.library_panel.folders, lambda: self.library_root,
                                      show_error, self)
        self.library_settings = LibrarySettings(
            self.workers, self.events, settings, self.chat, self.document_list, self.ingest,
            self, lambda: self.library_root, self)
        # What tests and the --ask script wait for, where it happens.
        self.documents_loaded = self.document_list.loaded
        self.ingest_finished = self.ingest.finished
        self.answer_finished = self.asking.answer_finished
        self.citation_shown = self.opening.citation_shown
        self.ollama_checked = self.library_settings.ollama_checked

        self._build_menus()
        self._connect()
        self._restore_layout()
        self.chat.focus_question()  # the first thing people do is type a question
        QTimer.singleShot(0, self._start)

    # --- building -----------------------------------------------------------------------------

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        add = QAction("&Add files…", self, shortcut=QKeySequence(QKeySequence.StandardKey.Open))
        add.triggered.connect(self.choose_files)
        add_folder = QAction("Add &folder…", self)
        add_folder.triggered.connect(self.choose_folder)
        settings = QAction("&Settings…", self, shortcut=QKeySequence("Ctrl+,"))
        settings.triggered.connect(self.open_settings)
        # Not StandardKey.Quit: it is empty on Windows and on platforms without a desktop theme.
        quit_action = QAction("&Quit", self, shortcut=QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)
        for action in (add, add_folder, settings, quit_action):
            file_menu.addAction(action)
        edit_menu = self.menuBar().addMenu("&Edit")
        find = QAction("&Find in document", self, shortcut=QKeySequence(QKeySequence.StandardKey.Find))
        find.triggered.connect(self.viewer.open_find)
        ask = QAction("&Ask a question", self, shortcut=QKeySequence("Ctrl+L"))
        ask.triggered.connect(self.chat.focus_question)
        edit_menu.addAction(find)
        edit_menu.addAction(ask)
        self.checking = Checking(self, self.workers, self.events, self._show_error)
        self.help_menu = HelpMenu(self, self.viewer, self.workers)
        # One Esc for the window: two shortcuts on one key would cancel each other out.
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self._on_escape)

    def _connect(self) -> None:
        lp, chat = self.library_panel, self.chat
        lp.add_requested.connect(self.choose_files)
        lp.sample_requested.connect(
            lambda: self.add_paths([resource_path("sample", name) for name in SAMPLE_FILES]))
        lp.document_activated.connect(self.opening.open_document)
        lp.remove_requested.connect(self.ingest.remove)
        lp.retry_requested.connect(self.add_paths)
        lp.cancel_requested.connect(self.ingest.cancel)
        lp.ask_about_requested.connect(self.asking.ask_about)
        lp.summary_requested.connect(self.asking.summarise)
        chat.question_asked.connect(self.ask)
        chat.stop_requested.connect(self.asking.stop)
        chat.citation_clicked.connect(self.opening.show_citation)
        chat.diagnose_requested.connect(self.checking.diagnose)  # "This is wrong…"
        chat.conversation_selected.connect(self.asking.open_conversation)
        chat.pull_requested.connect(self.library_settings.pull_model)
        chat.status_refresh_requested.connect(self.library_settings.check_ollama)
        self.ingest.removed.connect(self.opening.forget)
        self.documents_loaded.connect(
            lambda docs: chat.set_present_documents({d.id for d in docs}))
        chat.removed_citation_clicked.connect(self._on_removed_citation)
        self.folder_sync.message.connect(self.statusBar().showMessage)
        self.ingest.message.connect(self.statusBar().showMessage)
        self.ingest.failed.connect(self._show_error)
        self.documents_loaded.connect(self._on_first_documents)
        self.library_settings.library_chosen.connect(self.switch_library)

    def _restore_layout(self) -> None:
        geometry = self.settings.bytes("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        sizes = self.settings.sizes("window/splitter")
        if sizes and len(sizes) == 3:
            self.splitter.setSizes(sizes)

    def save_layout(self) -> None:
        self.settings.set_bytes("window/geometry", self.saveGeometry())
        self.settings.set_sizes("window/splitter", self.splitter.sizes())
        self.settings.qsettings.sync()

    def _start(self) -> None:
        self.document_list.refresh()
        self.asking.refresh_conversations()
        self.library_settings.start()
        self.folder_sync.start()  # the watched folders, synced once read: what changed meanwhile

    def _on_first_documents(self, _documents: list[Document]) -> None:
        self.documents_loaded.disconnect(self._on_first_documents)
        if _documents:
            self.asking.warm()
        if not self.ingest.running:
            self.statusBar().showMessage("Ready", 5000)

    # --- what the menus, the script and the tests start ---------------------------------------

    @property
    def documents(self) -> list[Document]:
        return self.document_list.documents

    def refresh_documents(self) -> None:
        self.document_list.refresh()

    def choose_files(self) -> None:
        patterns = " ".join(f"*{s}" for s in SUPPORTED_SUFFIXES)
        files, _ = QFileDialog.getOpenFileNames(self, "Add documents", str(Path.home()),
                                                f"Documents ({patterns});;All files (*)")
        if files:
            self.add_paths([Path(f) for f in files])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder", str(Path.home()))
        if folder:
            self.folder_sync.ask_how_to_add([Path(folder)])

    def add_dropped(self, paths: Sequence[Path]) -> None:
        """Files are added; dropped folders first ask "Add once" or "Keep in sync"."""
        folders = [p for p in paths if p.is_dir()]
        if folders:
            self.folder_sync.ask_how_to_add(folders, [p for p in paths if not p.is_dir()])
        else:
            self.add_paths(paths)

    def add_paths(self, paths: Sequence[Path]) -> Task[list[AddOutcome]]:
        return self.ingest.add_paths(paths)

    def add_sample(self) -> Task[list[AddOutcome]] | None:
        return self.ingest.add_sample()

    def ask(self, question: str) -> StreamTask[AnswerEvent]:
        return self.asking.ask(question)

    def ask_about(self, doc_ids: list[int]) -> None:
        self.asking.ask_about(doc_ids)

    def open_settings(self) -> SettingsDialog:
        return self.library_settings.open_dialog()

    def switch_library(self, root: Path) -> None:
        self.ingest.cancel()
        self.library_root = root
        self.workers.set_root(root)
        self.events.library_changed.emit(SWITCHED)

    # --- window events ------------------------------------------------------------------------

    def _on_escape(self) -> None:
        if self.viewer.find_open(self.focusWidget()):
            self.viewer.close_find()
        elif self.asking.answering:
            self.asking.stop()
        elif self.viewer.find_open():
            self.viewer.close_find()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_paths(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = dropped_paths(event)
        if paths:
            event.acceptProposedAction()
            self.add_dropped(paths)

    def _show_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 15000)

    def _on_removed_citation(self, citation: Citation) -> None:
        self.statusBar().showMessage(
            f"“{citation.title}” is no longer in the library (document removed); the answer "
            "keeps the passage it quoted.", 15000)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.ingest.running and not self._confirm_quit():
            event.ignore()
            return
        self.save_layout()
        self.workers.shutdown()
        super().closeEvent(event)

    def _confirm_quit(self) -> bool:
        if not self.isVisible() or QGuiApplication.platformName() == "offscreen":
            return True  # nobody to ask (tests, screenshots)
        answer = QMessageBox.question(
            self, "Quit Folio", "Documents are still being indexed. Quit anyway? The document "
            "being indexed is left out; the ones done stay.")
        return answer == QMessageBox.StandardButton.Yes
