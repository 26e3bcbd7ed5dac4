"""The main window: library, viewer and question panel side by side; it starts all background work."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
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
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QWidget,
)

from core.answer_types import (
    Answer,
    AnswerDone,
    AskFailed,
    Citation,
    OllamaStatus,
    SourcesFound,
    Token,
)
from core.readers import SUPPORTED_SUFFIXES
from core.resources import resource_path
from core.types import AddOutcome, AddProgress, AddStatus
from desktop import loading, window_settings
from desktop.chat_panel import ChatPanel
from desktop.help_menu import HelpMenu
from desktop.library_panel import LibraryPanel
from desktop.panes import Panes
from desktop.settings_dialog import AppSettings, SettingsDialog
from desktop.viewer import TextDocument, Viewer
from desktop.window_settings import PROGRESS_INTERVAL_S
from desktop.workers import Task, Workers

if TYPE_CHECKING:
    from core.library import Library

ICON = resource_path("icons", "folio.svg")
STOPPED = "Stopped."


SAMPLE_FILES = ("folio-guide.pdf",)


def dropped_paths(event: QDropEvent | QDragEnterEvent) -> list[Path]:
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


class MainWindow(QMainWindow):
    """Wires the panels to the library through workers; every slow call runs off this thread."""

    files_dropped = Signal(list)  # list[Path]
    ingest_finished = Signal(list)  # list[AddOutcome]
    documents_loaded = Signal(list)  # list[Document]
    answer_finished = Signal(object)  # Answer, or the message of AskFailed / a failure
    citation_shown = Signal(object)  # Citation
    ollama_checked = Signal(object)  # OllamaStatus

    def __init__(self, settings: AppSettings, library_root: Path,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.library_root = library_root
        self.setWindowTitle("Folio")
        if ICON.exists():
            self.setWindowIcon(QIcon(str(ICON)))
        self.setAcceptDrops(True)
        self.workers = Workers(library_root, self)

        self.library_panel = LibraryPanel(self)
        self.viewer = Viewer(self)
        self.chat = ChatPanel(self)
        self.splitter = Panes((self.library_panel, self.viewer, self.chat), self)
        self.splitter.setSizes([300, 640, 420])
        self.setCentralWidget(self.splitter)
        self.resize(1360, 820)

        self.documents: list[Any] = []
        self.ollama: OllamaStatus | None = None
        self.embedding_model = ""
        self._ingests: list[Task] = []
        self._ask_task: Task | None = None
        self._texts: dict[int, TextDocument] = {}  # text of non-PDF documents, by id

        self._build_menus()
        self._connect()
        self._restore_layout()
        # Neither "Ready" nor "empty" until the library has said what it holds.
        self._documents_known = False
        self._sample_wanted = False
        self.focus_question()  # the first thing people do is type a question
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
        ask.triggered.connect(self.focus_question)
        edit_menu.addAction(find)
        edit_menu.addAction(ask)
        self.help_menu = HelpMenu(self, self.viewer, self.workers)
        # One Esc for the window: two shortcuts on one key would cancel each other out.
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self._on_escape)

    def _connect(self) -> None:
        self.files_dropped.connect(self._on_files_dropped)
        lp = self.library_panel
        lp.add_requested.connect(self.choose_files)
        lp.sample_requested.connect(
            lambda: self.add_paths([resource_path("sample", name) for name in SAMPLE_FILES]))
        lp.document_activated.connect(self.open_document)
        lp.remove_requested.connect(self.remove_document)
        lp.retry_requested.connect(self.add_paths)
        lp.cancel_requested.connect(self.cancel_indexing)
        lp.ask_about_requested.connect(self.ask_about)
        lp.summary_requested.connect(self.summarise)
        self.chat.question_asked.connect(self.ask)
        self.chat.stop_requested.connect(self.stop_answer)
        self.chat.citation_clicked.connect(self.show_citation)
        self.chat.conversation_selected.connect(self.open_conversation)
        self.chat.pull_requested.connect(lambda name: window_settings.pull_model(self, name))
        self.chat.status_refresh_requested.connect(self.check_ollama)

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
        self.refresh_documents()
        self.refresh_conversations()
        self.check_ollama()

    # --- the library --------------------------------------------------------------------------

    def refresh_documents(self) -> None:
        self.workers.read(Task(lambda lib, _t: lib.documents(), "documents")
                          .on_success(self._on_documents)
                          .on_failure(self._show_error))

    def _on_documents(self, documents: list[Any]) -> None:
        first = not self._documents_known
        self.documents = documents
        self._documents_known = True
        self.library_panel.set_documents(documents)
        if self._sample_wanted:
            self._sample_wanted = False
            if not documents:
                self._start_sample()
        if first and not self._ingests:
            self.statusBar().showMessage("Ready", 5000)
        self.documents_loaded.emit(documents)

    def choose_files(self) -> None:
        patterns = " ".join(f"*{s}" for s in SUPPORTED_SUFFIXES)
        files, _ = QFileDialog.getOpenFileNames(self, "Add documents", str(Path.home()),
                                                f"Documents ({patterns});;All files (*)")
        if files:
            self.add_paths([Path(f) for f in files])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder", str(Path.home()))
        if folder:
            self.add_paths([Path(folder)])

    def _on_files_dropped(self, paths: list[Path]) -> None:
        self.add_paths(paths)

    def add_paths(self, paths: Sequence[Path]) -> Task:
        """Index paths in the writer queue; the list updates as each file is done."""
        def work(lib: Library, task: Task) -> list[AddOutcome]:
            def password_for(path: str) -> str | None:
                answer = task.ask(path)
                return answer if isinstance(answer, str) and answer else None

            return lib.add(paths, progress=lambda p: task.report(p, force=False),
                           cancel=task.cancel, on_outcome=task.report, password_for=password_for)
        task = Task(work, "add", PROGRESS_INTERVAL_S).on_question(self.ask_password)
        return self.start_ingest(task, f"Adding {len(paths)} item(s)…")

    def ask_password(self, path: object) -> str | None:
        """The password of a protected file, asked in a dialog; used for this reading only."""
        name = Path(str(path)).name
        text, ok = QInputDialog.getText(
            self, "Password needed",
            f"“{name}” is password-protected.\nEnter its password to index it "
            "(Folio does not keep it), or Cancel to skip the file:",
            QLineEdit.EchoMode.Password)
        return text if ok and text else None

    def add_sample(self) -> Task | None:
        """At first start: index the built-in guide, only into a library that is really empty
        (and only once: ensure_sample does nothing after the first time, even if removed).

        Decided when the document list is known; None when that is not yet, or not empty.
        """
        if not self._documents_known:
            self._sample_wanted = True
            return None
        return self._start_sample() if not self.documents else None

    def _start_sample(self) -> Task:
        def work(lib: Library, task: Task) -> list[AddOutcome]:
            return lib.ensure_sample(progress=lambda p: task.report(p, force=False))
        # No label up front: a guide already added once is not added again, and then nothing
        # is shown at all; the progress appears with the first file read.
        task = Task(work, "sample", PROGRESS_INTERVAL_S)
        task.on_progress(lambda value: self.library_panel.set_adding_guide()
                         if isinstance(value, AddProgress) else None)
        return self.start_ingest(task, None)

    def start_ingest(self, task: Task, label: str | None) -> Task:
        self._ingests.append(task)
        if label is not None:
            self.library_panel.set_starting(label)
        task.on_progress(self._on_ingest_progress).on_failure(self._show_error)
        task.on_success(self._on_ingest_done).on_finished(lambda: self._ingest_ended(task))
        return self.workers.write(task)

    def _on_ingest_progress(self, value: object) -> None:
        if isinstance(value, AddProgress):
            self.library_panel.set_progress(value)
        elif isinstance(value, AddOutcome):
            self.refresh_documents()

    def _on_ingest_done(self, outcomes: list[AddOutcome] | None) -> None:
        if isinstance(outcomes, bool):  # a change of embedding model: its own message says it
            return
        outcomes = outcomes or []
        if not outcomes and not self._ingests_asked_by_user():
            self.refresh_documents()
            self.ingest_finished.emit(outcomes)
            return
        counts: dict[str, int] = {}
        for outcome in outcomes:
            counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in counts.items()) or "nothing to add"
        self.statusBar().showMessage(f"Indexing done: {summary}.", 10000)
        failed = [o for o in outcomes if o.status is AddStatus.FAILED]
        if failed and len(failed) == len(outcomes) == 1:
            self.statusBar().showMessage(f"Could not add {Path(failed[0].path).name}: "
                                         f"{failed[0].reason}", 15000)
        self.refresh_documents()
        self.ingest_finished.emit(outcomes)

    def _ingests_asked_by_user(self) -> bool:
        """False when only the first-start sample check ran (it says nothing when it adds nothing)."""
        return any(task.name != "sample" for task in self._ingests)

    def _ingest_ended(self, task: Task) -> None:
        if task in self._ingests:
            self._ingests.remove(task)
        if not self._ingests:
            self.library_panel.set_progress(None)

    def cancel_indexing(self) -> None:
        for task in self._ingests:
            task.cancel.set()
        if self._ingests:
            self.library_panel.set_cancelling()

    def remove_document(self, doc_id: int) -> None:
        self.workers.write(Task(lambda lib, _t: lib.remove(str(doc_id)), "remove")
                           .on_success(lambda doc: self._on_removed(doc_id, doc))
                           .on_failure(self._show_error))

    def _on_removed(self, doc_id: int, doc: Any) -> None:
        self._texts.pop(doc_id, None)
        if self.viewer.title_label.text() == getattr(doc, "title", None):
            self.viewer.clear()
        self.statusBar().showMessage(f"Removed {getattr(doc, 'title', 'the document')}.", 8000)
        self.refresh_documents()

    # --- the viewer ---------------------------------------------------------------------------

    def open_document(self, doc_id: int) -> None:
        self._load_document(doc_id, lambda doc: self._show_loaded(doc, 1, (), None))

    def show_citation(self, citation: Citation) -> None:
        def shown(doc: loading.LoadedDocument) -> None:
            self._show_loaded(doc, citation.page, citation.rects, citation.text)
            self.citation_shown.emit(citation)
        self._load_document(citation.document_id, shown)

    def _load_document(self, doc_id: int, then: Any) -> None:
        cached = self._texts.get(doc_id)
        if cached is not None:
            then(loading.LoadedDocument(doc_id, cached.title, None, cached))
            return
        self.workers.read(Task(lambda lib, _t: loading.load_document(lib, doc_id), "open")
                          .on_success(then).on_failure(self._show_error))

    def _show_loaded(self, doc: loading.LoadedDocument, page: int, rects: Sequence[Any],
                     passage: str | None) -> None:
        if doc.pdf is not None:
            self.viewer.show_pdf(doc.pdf, doc.title, page, rects)
        elif doc.text is not None:
            self._texts[doc.id] = doc.text
            self.viewer.show_text(doc.text, passage)
        else:
            self.viewer.show_message(doc.message or "This document cannot be shown.")

    # --- asking -------------------------------------------------------------------------------

    def focus_question(self) -> None:
        self.chat.input.setFocus()

    def ask_about(self, doc_ids: list[int]) -> None:
        """Ask the next questions within these documents only: a chip above the question box."""
        titles = [self.library_panel.shown.get(i, f"document {i}") for i in doc_ids]
        self.chat.set_scope(doc_ids, titles)
        self.focus_question()

    def summarise(self, doc_id: int) -> Task:
        title = self.library_panel.shown.get(doc_id, f"document {doc_id}")
        self.chat.set_scope([doc_id], [title])
        return self.ask(f"Summarise “{title}”: what is it about, and what are its main points?")

    def ask(self, question: str) -> Task:
        """Ask in a worker; a question asked while one is answered stops the old one first."""
        if self._ask_task is not None:
            self.stop_answer()
            self.chat.fail_answer(STOPPED)
        conversation = self.chat.conversation_id
        host = self.settings.ollama_host or None
        model = self.settings.ollama_model or None
        k = self.settings.sources
        scope = self.chat.scope()

        def work(lib: Library, task: Task) -> None:
            for event in lib.ask(question, conversation=conversation, model=model, host=host,
                                 k=k, scope=scope, cancel=task.cancel):
                task.report(event)

        task = Task(work, "ask")
        self._ask_task = task
        self.chat.begin_answer(question)
        task.on_progress(lambda event: self._on_ask_event(task, event))
        task.on_failure(lambda message: self._on_ask_failed(task, message))
        task.on_finished(lambda: self._ask_ended(task))
        return self.workers.read(task)

    def _on_ask_event(self, task: Task, event: object) -> None:
        if task is not self._ask_task:
            return  # a stopped question still sends its last events; they belong to no turn
        if isinstance(event, Token):
            self.chat.append_token(event.text)
        elif isinstance(event, SourcesFound):
            self.chat.show_sources(event.sources)
        elif isinstance(event, AnswerDone):
            self._on_answer(event.answer)
        elif isinstance(event, AskFailed):
            self._on_ask_failed(task, event.message)

    def _on_answer(self, answer: Answer) -> None:
        self.chat.finish_answer(answer)
        self._ask_task = None
        self.refresh_conversations()
        self.answer_finished.emit(answer)

    def _on_ask_failed(self, task: Task, message: str) -> None:
        if task is self._ask_task:
            self.chat.fail_answer(message)
            self._ask_task = None
            self.answer_finished.emit(message)

    def _ask_ended(self, task: Task) -> None:
        if task is self._ask_task:  # ended without AnswerDone or AskFailed
            self._on_ask_failed(task, STOPPED)

    def stop_answer(self) -> None:
        if self._ask_task is not None:
            self._ask_task.cancel.set()

    def _on_escape(self) -> None:
        if self.viewer.find_bar.isVisible() and self.viewer.find_bar.isAncestorOf(
                self.focusWidget()):
            self.viewer.find_bar.close_bar()
        elif self._ask_task is not None:
            self.stop_answer()
        elif self.viewer.find_bar.isVisible():
            self.viewer.find_bar.close_bar()

    def refresh_conversations(self) -> None:
        self.workers.read(Task(lambda lib, _t: lib.conversations(), "conversations")
                          .on_success(self.chat.set_conversations))

    def open_conversation(self, conversation_id: int | None) -> None:
        if self._ask_task is not None:
            self.stop_answer()
        if conversation_id is None:
            self.chat.show_conversation(None, [])
            self.focus_question()
            return
        self.workers.read(Task(lambda lib, _t: lib.turns(conversation_id), "turns")
                          .on_success(lambda turns: self.chat.show_conversation(conversation_id,
                                                                                turns))
                          .on_failure(self._show_error))

    # --- Ollama -------------------------------------------------------------------------------

    def check_ollama(self) -> None:
        host, model = self.settings.ollama_host or None, self.settings.ollama_model or None
        self.workers.read(Task(lambda lib, _t: lib.ollama_status(host, model), "ollama")
                          .on_success(self._on_ollama_status))

    def _on_ollama_status(self, status: OllamaStatus) -> None:
        self.ollama = status
        self.chat.set_ollama_status(status)
        self.ollama_checked.emit(status)

    # --- settings -----------------------------------------------------------------------------

    def open_settings(self) -> SettingsDialog:
        return window_settings.open_settings(self)

    def switch_library(self, root: Path) -> None:
        self.cancel_indexing()
        self.stop_answer()
        self.library_root = root
        self.workers.set_root(root)
        self._texts.clear()
        self.viewer.clear()
        self.chat.show_conversation(None, [])
        self._start()

    # --- window events ------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_paths(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = dropped_paths(event)
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)

    def _show_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 15000)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._ingests and not self._confirm_quit():
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
