"""Writes that take a while: adding files (and the first-start guide), re-embedding, removing.

Every task here runs on the Workers' writer, shows its progress in the library panel and can be
cancelled from there. A finished write is announced by the writer (AppEvents.library_changed),
so the document list refreshes itself; this module only says how it went (`finished`, `message`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

from core.types import AddOutcome, AddProgress, AddStatus, Document
from desktop.app_events import DOCUMENTS
from desktop.documents import DocumentList
from desktop.library_panel import LibraryPanel
from desktop.tasks import BaseTask, Task
from desktop.workers import Workers

if TYPE_CHECKING:
    from core.library import Library

T = TypeVar("T")
PROGRESS_INTERVAL_S = 0.1  # indexing progress reaches the GUI at most ten times a second


def outcome_summary(outcomes: Sequence[AddOutcome]) -> tuple[str, int]:
    """The status line after an add, and how long it stays (ms)."""
    failed = [o for o in outcomes if o.status is AddStatus.FAILED]
    if failed and len(failed) == len(outcomes) == 1:
        return f"Could not add {Path(failed[0].path).name}: {failed[0].reason}", 15000
    # A transient failure (Ollama down for an Ollama embedding model) leaves no failed row in
    # the list to carry its reason, so the status line says it: the same for every file.
    transient = [o for o in failed if o.transient]
    reasons = list(dict.fromkeys(o.reason or "unknown reason" for o in transient))
    counts: dict[str, int] = {}
    for outcome in outcomes:
        if outcome not in transient:
            counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    if transient:
        files = "1 file" if len(transient) == 1 else f"{len(transient)} files"
        line = f"Could not add {files}: {' '.join(sentence(r) for r in reasons)}"
        return (f"{line} Indexing done: {summary}." if summary else line), 15000
    return f"Indexing done: {summary or 'nothing to add'}.", 10000


def sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."


class Ingest(QObject):
    """Starts the writes the library panel shows progress for; at most a queue of them."""

    finished = Signal(list)  # list[AddOutcome] of an add (not of the guide when it added nothing)
    removed = Signal(Document)
    message = Signal(str, int)  # a status line and how long it stays (ms)
    failed = Signal(str)

    def __init__(self, workers: Workers, panel: LibraryPanel, documents: DocumentList,
                 dialog_parent: QWidget, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.panel = panel
        self.documents = documents
        self.dialog_parent = dialog_parent
        self.running: list[BaseTask] = []
        self._sample_wanted = False
        documents.loaded.connect(self._on_documents)

    # --- adding -------------------------------------------------------------------------------

    def add_paths(self, paths: Sequence[Path]) -> Task[list[AddOutcome]]:
        """Index paths on the writer; the list shows each file as it is done."""
        def work(lib: Library, task: Task[list[AddOutcome]]) -> list[AddOutcome]:
            def password_for(path: str) -> str | None:
                answer = task.ask(path)
                return answer if isinstance(answer, str) and answer else None

            # Each file is its own transaction: the list may show it as soon as it is in.
            return lib.add(paths, progress=lambda p: task.report(p, force=False),
                           cancel=task.cancel, on_outcome=lambda _o: task.changed(DOCUMENTS),
                           password_for=password_for)
        task: Task[list[AddOutcome]] = Task(work, "add", PROGRESS_INTERVAL_S, change=DOCUMENTS)
        task.on_question(self.ask_password)
        task.on_success(self._on_added)
        return self.track(task, f"Adding {len(paths)} item(s)…")

    def ask_password(self, path: object) -> str | None:
        """The password of a protected file, asked in a dialog; used for this reading only."""
        name = Path(str(path)).name
        text, ok = QInputDialog.getText(
            self.dialog_parent, "Password needed",
            f"“{name}” is password-protected.\nEnter its password to index it "
            "(Folio does not keep it), or Cancel to skip the file:",
            QLineEdit.EchoMode.Password)
        return text if ok and text else None

    def _on_added(self, outcomes: list[AddOutcome]) -> None:
        self.message.emit(*outcome_summary(outcomes))
        self.finished.emit(outcomes)

    def add_sample(self) -> Task[list[AddOutcome]] | None:
        """At first start: index the built-in guide, only into a library that is really empty
        (and only once: ensure_sample does nothing after the first time, even if removed).

        Decided when the document list is known; None when that is not yet, or not empty.
        """
        if not self.documents.known:
            self._sample_wanted = True
            return None
        return self._start_sample() if not self.documents.documents else None

    def _on_documents(self, documents: list[Document]) -> None:
        if self._sample_wanted:
            self._sample_wanted = False
            if not documents:
                self._start_sample()

    def _start_sample(self) -> Task[list[AddOutcome]]:
        def work(lib: Library, task: Task[list[AddOutcome]]) -> list[AddOutcome]:
            return lib.ensure_sample(progress=lambda p: task.report(p, force=False))

        def done(outcomes: list[AddOutcome]) -> None:
            if outcomes:
                self._on_added(outcomes)
            else:  # a guide added once before is not added again, and nothing is said
                self.finished.emit(outcomes)

        task: Task[list[AddOutcome]] = Task(work, "sample", PROGRESS_INTERVAL_S, change=DOCUMENTS)
        # No label up front: the progress appears with the first file read, if any.
        task.on_progress(lambda value: self.panel.set_adding_guide()
                         if isinstance(value, AddProgress) else None)
        task.on_success(done)
        return self.track(task, None)

    # --- any long write -----------------------------------------------------------------------

    def track(self, task: Task[T], label: str | None,
              progress: Callable[[object], AddProgress | None] | None = None) -> Task[T]:
        """Queue a write whose progress the panel shows (progress maps a report to a line)."""
        self.running.append(task)
        if label is not None:
            self.panel.set_starting(label)

        def progressed(value: object) -> None:
            shown = progress(value) if progress is not None else value
            if isinstance(shown, AddProgress):
                self.panel.set_progress(shown)
        task.on_progress(progressed).on_failure(self.failed.emit)
        task.on_finished(lambda: self._ended(task))
        self.workers.write(task)
        return task

    def _ended(self, task: BaseTask) -> None:
        if task in self.running:
            self.running.remove(task)
        if not self.running:
            self.panel.set_progress(None)

    def cancel(self) -> None:
        for task in self.running:
            task.cancel.set()
        if self.running:
            self.panel.set_cancelling()

    def change_embedding_model(self, name: str) -> Task[bool]:
        """Re-embed every passage for name; the library keeps its model until it is done."""
        def work(lib: Library, task: Task[bool]) -> bool:
            return lib.set_embedding_model(
                name, progress=lambda done, total: task.report((done, total), force=False),
                cancel=task.cancel)

        def line(value: object) -> AddProgress | None:
            if not isinstance(value, tuple):
                return None
            done, total = value
            return AddProgress(0, 1, f"Re-embedding for {name}", done, total, 0)
        task: Task[bool] = Task(work, "embedding-model", PROGRESS_INTERVAL_S, change=DOCUMENTS)
        task.on_success(lambda ok: self.message.emit(
            f"Embedding model: {name}." if ok else "Embedding model unchanged.", 10000))
        self.track(task, f"Loading {name}…", line)
        return task

    # --- removing -----------------------------------------------------------------------------

    def remove(self, doc_id: int) -> Task[Document]:
        task: Task[Document] = Task(lambda lib, _t: lib.remove(str(doc_id)), "remove",
                                    change=DOCUMENTS)
        task.on_success(self._on_removed).on_failure(self.failed.emit)
        self.workers.write(task)
        return task

    def _on_removed(self, doc: Document) -> None:
        self.message.emit(f"Removed {doc.title}.", 8000)
        self.removed.emit(doc)
