"""Propose checks… : questions Folio makes from a document's passages (core/check_proposals.py),
shown with a checkbox each; Keep selected saves the ticked ones as generated checks.

Proposing runs on a reader (it only reads; with the model, one short chat per passage), with
progress and Cancel; a cancelled run shows what it had. Nothing is saved until Keep selected,
which runs on the writer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import check_proposals
from core.check_proposals import Proposal, Proposals
from core.types import DocStatus, Document
from desktop.tasks import Task

if TYPE_CHECKING:
    from core.library import Library
    from desktop.workers import Workers

WITHOUT_CHECKS = "Every document without checks"
COLUMNS = ["Keep", "Question", "Expected place", "Made from"]
KEEP, QUESTION, PLACE, SOURCE = range(len(COLUMNS))


def made_from(proposal: Proposal, model: str | None) -> str:
    return f"written by {model}" if proposal.source == "model" and model else "the passage's terms"


class ProposalsDialog(QDialog):
    """Proposed checks for one document (or every document without checks), to keep or not."""

    loaded = Signal()  # the documents are read and offered
    proposed = Signal(object)  # list[Proposals], also a cancelled run's
    kept = Signal(list)  # the saved checks' ids
    failed = Signal(str)

    def __init__(self, workers: Workers, document_id: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.wanted = document_id
        self.results: list[Proposals] = []
        self.shown: list[tuple[Proposal, str | None]] = []  # each row's proposal and model
        self.task: Task[list[Proposals]] | None = None
        self.setWindowTitle("Propose checks")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(860, 520)

        self.document = QComboBox(self)
        self.document.setEnabled(False)
        self.count = QSpinBox(self)
        self.count.setRange(1, check_proposals.MAX_COUNT)
        self.count.setValue(check_proposals.DEFAULT_COUNT)
        self.count.setToolTip("Questions per document, from passages spread over its pages")
        self.use_model = QCheckBox("Written by the model", self)
        self.use_model.setChecked(True)
        self.use_model.setToolTip("The chat model writes each question from a passage; without "
                                  "it (or without Ollama), questions are made from the passage's "
                                  "distinctive words")
        self.propose_button = QPushButton("&Propose", self)
        self.propose_button.setEnabled(False)
        self.propose_button.setDefault(True)
        self.propose_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QUESTION, QHeaderView.ResizeMode.Stretch)
        for column in (KEEP, PLACE, SOURCE):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemChanged.connect(lambda _item: self._update_keep())
        self.keep_button = QPushButton("&Keep selected", self)
        self.keep_button.setEnabled(False)
        self.keep_button.setToolTip("Save the ticked questions as generated checks")
        self.keep_button.clicked.connect(self.keep)
        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Document:", self))
        controls.addWidget(self.document, 1)
        controls.addWidget(QLabel("Questions:", self))
        controls.addWidget(self.count)
        controls.addWidget(self.use_model)
        controls.addWidget(self.propose_button)
        controls.addWidget(self.cancel_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.keep_button)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addLayout(bottom)
        self.failed.connect(self.status.setText)
        self._load()

    # --- the documents ------------------------------------------------------------------------

    def _load(self) -> None:
        def read(lib: Library, _task: Task[tuple[list[Document], list[int]]]
                 ) -> tuple[list[Document], list[int]]:
            return lib.documents(), [d.id for d in check_proposals.documents_without_checks(lib)]

        task: Task[tuple[list[Document], list[int]]] = Task(read, "propose: read the documents")
        task.on_success(self._on_loaded).on_failure(self.failed.emit)
        self.workers.read(task)

    def _on_loaded(self, read: tuple[list[Document], list[int]]) -> None:
        documents, unchecked = read
        ready = [d for d in documents if d.status is DocStatus.INDEXED and d.passages]
        self.document.clear()
        if unchecked:
            self.document.addItem(f"{WITHOUT_CHECKS} ({len(unchecked)})", None)
        for doc in ready:
            self.document.addItem(doc.title, doc.id)
        if self.wanted is not None:
            index = self.document.findData(self.wanted)
            if index >= 0:
                self.document.setCurrentIndex(index)
        self.document.setEnabled(bool(ready))
        self.propose_button.setEnabled(bool(ready))
        if not ready:
            self.status.setText("The library has no indexed documents to make questions from.")
        self.loaded.emit()

    def choose(self, document_id: int | None) -> None:
        """Point at a document (None: every document without checks), as a person picks it."""
        index = self.document.findData(document_id)
        if index < 0:
            raise ValueError(f"document {document_id} is not offered")
        self.document.setCurrentIndex(index)

    # --- proposing ----------------------------------------------------------------------------

    def start(self) -> Task[list[Proposals]] | None:
        if self.task is not None:
            return None
        document_id = self.document.currentData()
        count, use_model = self.count.value(), self.use_model.isChecked()

        def work(lib: Library, task: Task[list[Proposals]]) -> list[Proposals]:
            if document_id is None:
                documents = check_proposals.documents_without_checks(lib)
            else:
                doc = lib.document(int(document_id))
                documents = [doc] if doc is not None else []
            found: list[Proposals] = []
            for n, doc in enumerate(documents):
                if task.cancel.is_set():
                    break

                def report(done: int, total: int, before: int = n) -> None:
                    task.report((before * total + done, len(documents) * total))

                found.append(check_proposals.propose(lib, doc, count, use_model,
                                                     progress=report, cancel=task.cancel))
            return found

        task: Task[list[Proposals]] = Task(work, "propose checks")
        self.task = task
        self._running(True)
        self.progress.setRange(0, 0)  # until the first question
        self.status.setText("Reading the passages and writing questions…")
        # Bound methods, not lambdas: a closed dialog (deleted on close) is disconnected.
        task.on_progress(self._on_progress)
        task.on_success(self._on_proposed)
        task.on_failure(self.failed.emit)
        task.on_finished(self._ended)
        self.workers.read(task)
        return task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel.set()
            self.status.setText("Cancelling…")

    def _on_progress(self, value: object) -> None:
        assert isinstance(value, tuple)  # (done, total): what start's task reports
        done, total = int(value[0]), int(value[1])
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.status.setText(f"{done} of {total} questions made…")

    def _on_proposed(self, found: list[Proposals]) -> None:
        cancelled = self.task is not None and self.task.cancel.is_set()
        self.results = found
        self.shown = [(p, r.model) for r in found for p in r.proposals]
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.shown))
        for row, (proposal, model) in enumerate(self.shown):
            tick = QTableWidgetItem()
            tick.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            tick.setCheckState(Qt.CheckState.Checked)
            self.table.setItem(row, KEEP, tick)
            cells = {QUESTION: proposal.question,
                     PLACE: f"{proposal.title}, page {proposal.page}",
                     SOURCE: made_from(proposal, model)}
            for column, text in cells.items():
                item = QTableWidgetItem(text)
                item.setToolTip(proposal.excerpt)
                self.table.setItem(row, column, item)
        self.table.blockSignals(False)
        self.table.resizeRowsToContents()
        notes = [r.notice for r in found if r.notice]
        refused = sum(len(r.refused) for r in found)
        parts = [f"{len(self.shown)} question(s) proposed: tick the ones to keep."]
        if cancelled:
            parts.insert(0, "Cancelled.")
        if refused:
            parts.append(f"{refused} of the model's replies were refused (not a question, too "
                         "long, or a copy of the passage).")
        parts += list(dict.fromkeys(notes))
        self.status.setText(" ".join(parts))
        self._update_keep()
        self.proposed.emit(found)

    def _ended(self) -> None:
        self.task = None
        self._running(False)

    def _running(self, running: bool) -> None:
        self.propose_button.setEnabled(not running and self.document.count() > 0)
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)
        self._update_keep()

    # --- keeping ------------------------------------------------------------------------------

    def ticked(self) -> list[Proposal]:
        return [proposal for row, (proposal, _) in enumerate(self.shown)
                if (item := self.table.item(row, KEEP)) is not None
                and item.checkState() == Qt.CheckState.Checked]

    def set_ticked(self, row: int, keep: bool) -> None:
        item = self.table.item(row, KEEP)
        assert item is not None
        item.setCheckState(Qt.CheckState.Checked if keep else Qt.CheckState.Unchecked)

    def _update_keep(self) -> None:
        self.keep_button.setEnabled(self.task is None and bool(self.ticked()))

    def keep(self) -> Task[list[int]] | None:
        chosen = self.ticked()
        if not chosen:
            return None
        task: Task[list[int]] = Task(lambda lib, _t: check_proposals.keep(lib, chosen),
                                     "keep proposed checks")
        self.keep_button.setEnabled(False)
        task.on_success(self._on_kept).on_failure(self.failed.emit)
        self.workers.write(task)
        return task

    def _on_kept(self, ids: list[int]) -> None:
        self.status.setText(f"Kept {len(ids)} generated check(s): the Checks view lists them, "
                            "marked generated.")
        self.kept.emit(ids)

    def reject(self) -> None:
        self.cancel()  # closing stops proposing
        super().reject()
