"""Saved checks in the app (Tools ▸ Checks…): the table, a run with progress and Cancel, and the
totals of this session's runs side by side, so a change of settings shows before and after.

A run is `Library.run_checks` on a reader (it only reads; with the model, each question is
answered and not kept). Each check's row gets the place's rank in the mode run, hit@1/3/5/10,
whether the answer cited it (with the model) and the verdict; the table ends with the run's
totals, and the totals table below keeps one row per finished run. "Propose checks…" opens
desktop/proposals_dialog.py (questions made from the documents, kept as generated checks).
`Checking` builds the menu and owns the dialogs: the Checks view, the proposals (also from a
document's menu in the library panel) and the diagnosis of an answer ("This is wrong…").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.diagnosis import HITS_AT, CheckRun, Place
from core.errors import FolioError
from core.search import SearchMode
from core.store.checks import SavedCheck
from desktop.app_events import AppEvents, Change
from desktop.diagnose_dialog import DiagnoseDialog
from desktop.proposals_dialog import ProposalsDialog
from desktop.tasks import Task

if TYPE_CHECKING:
    from core.library import Library
    from desktop.workers import Workers

MODES = {"Hybrid": SearchMode.HYBRID, "Keyword": SearchMode.KEYWORD,
         "Meaning": SearchMode.SEMANTIC}
MODE_NAMES = {mode: name.lower() for name, mode in MODES.items()}
COLUMNS = ["Question", "Expected place", "Generated", "Rank",
           *[f"hit@{k}" for k in HITS_AT], "Cited", "Verdict"]
QUESTION, PLACE, GENERATED, RANK, FIRST_HIT = 0, 1, 2, 3, 4
CITED, VERDICT = FIRST_HIT + len(HITS_AT), FIRST_HIT + len(HITS_AT) + 1
TOTAL_COLUMNS = ["Run", *[f"hit@{k}" for k in HITS_AT], "Cited"]
CHECK_ID_ROLE = Qt.ItemDataRole.UserRole
Checks = list[tuple[SavedCheck, Place]]


def run_label(run: CheckRun) -> str:
    label = f"{MODE_NAMES[run.mode]}, {run.sources} source{'s' if run.sources != 1 else ''} sent"
    return f"{label}, {run.model}" if run.model else label


def share(hits: int, total: int) -> str:
    return f"{hits}/{total} ({round(100 * hits / total)}%)" if total else "0/0"


def change(before: int, of_before: int, after: int, of_after: int) -> str:
    """The change of a hit rate in percentage points ("+20 pt", "0 pt", "-10 pt")."""
    points = (round(100 * after / of_after) if of_after else 0) - (
        round(100 * before / of_before) if of_before else 0)
    return f"{points:+d} pt" if points else "0 pt"


def place_text(place: Place) -> str:
    return f"{place.title}, page {place.page}" if place.page else place.title


class ChecksView(QDialog):
    """The saved checks, their last run, and every finished run's totals."""

    loaded = Signal()  # the checks were read and the table filled
    run_finished = Signal(object)  # CheckRun (a cancelled run's too: fewer results)
    propose_requested = Signal()
    failed = Signal(str)

    def __init__(self, workers: Workers, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.checks: Checks = []
        self.run: CheckRun | None = None  # the last run, whose results the table shows
        self.runs: list[CheckRun] = []  # every finished (not cancelled) run, oldest first
        self.task: Task[CheckRun] | None = None
        self._sources_read = False
        self.setWindowTitle("Checks")
        self.resize(980, 560)

        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QUESTION, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.totals = QTableWidget(0, len(TOTAL_COLUMNS), self)
        self.totals.setHorizontalHeaderLabels(TOTAL_COLUMNS)
        self.totals.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.totals.verticalHeader().setVisible(False)
        self.totals.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.totals.setMaximumHeight(130)

        self.mode = QComboBox(self)
        self.mode.addItems(list(MODES))
        self.mode.setToolTip("Which side of the search ranks the places")
        self.sources = QSpinBox(self)
        self.sources.setRange(1, 50)
        self.sources.setValue(6)
        self.sources.setToolTip("Sources per answer: a check is found when its place ranks "
                                "within them")
        self.with_model = QCheckBox("Answer with the model", self)
        self.with_model.setToolTip("Ask each question (answers are not kept) and see whether "
                                   "the answer cites the place: slower")
        self.run_button = QPushButton("&Run", self)
        self.run_button.clicked.connect(self.start_run)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_run)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setEnabled(False)
        self.remove_button.setToolTip("Remove the selected checks")
        self.remove_button.clicked.connect(self.remove_selected)
        self.propose_button = QPushButton("&Propose checks…", self)
        self.propose_button.setToolTip("Questions made from a document's passages, each with the "
                                       "page that answers it: keep the ones you like")
        self.propose_button.clicked.connect(self.propose_requested.emit)
        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Mode:", self))
        controls.addWidget(self.mode)
        controls.addWidget(QLabel("Sources per answer:", self))
        controls.addWidget(self.sources)
        controls.addWidget(self.with_model)
        controls.addStretch(1)
        controls.addWidget(self.run_button)
        controls.addWidget(self.cancel_button)
        controls.addWidget(self.remove_button)
        controls.addWidget(self.propose_button)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.table, 1)
        layout.addWidget(QLabel("Totals of this session's runs (the latest last):", self))
        layout.addWidget(self.totals)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.failed.connect(self.status.setText)

    # --- the list -----------------------------------------------------------------------------

    def refresh(self) -> Task[tuple[Checks, str]]:
        def read(lib: Library, _task: Task[tuple[Checks, str]]) -> tuple[Checks, str]:
            return lib.checks(), lib.settings()["answer-sources"]

        task: Task[tuple[Checks, str]] = Task(read, "checks")
        task.on_success(self._on_checks).on_failure(self.failed.emit)
        self.workers.read(task)
        return task

    def _on_checks(self, read: tuple[Checks, str]) -> None:
        self.checks, sources = read
        if not self._sources_read:  # the library's setting, until the person changes it here
            self._sources_read = True
            self.sources.setValue(int(sources))
        self._fill()
        if not self.checks:
            self.status.setText("No checks yet. Under an answer, “This is wrong…” diagnoses it "
                                "and can keep the question as a check; so does `folio checks "
                                "add`.")
        self.loaded.emit()

    def _fill(self) -> None:
        results = {r.check.id: r for r in self.run.results} if self.run else {}
        self.table.setRowCount(len(self.checks) + (1 if self.run else 0))
        for row, (check, place) in enumerate(self.checks):
            cells = [check.question, place_text(place), "generated" if check.generated else ""]
            result = results.get(check.id)
            if result is not None:
                cells.append(str(result.rank) if result.rank is not None else "—")
                cells += ["✓" if result.hit_at(k) else "" for k in HITS_AT]
                cited = result.diagnosis.cited
                cells.append("" if cited is None else ("yes" if cited else "no"))
                cells.append(result.diagnosis.verdict)
            else:
                cells += [""] * (len(COLUMNS) - len(cells))
            self._set_row(row, cells, check.id, result.diagnosis.sentence if result else None)
        if self.run is not None:
            run, total = self.run, len(self.run.results)
            cited_count = run.cited()
            cells = [f"Total ({run_label(run)})", "", "", "",
                     *[share(run.hits(k), total) for k in HITS_AT],
                     "" if cited_count is None else share(cited_count, total), ""]
            self._set_row(len(self.checks), cells, None, None, bold=True)

    def _set_row(self, row: int, cells: list[str], check_id: int | None, tip: str | None,
                 bold: bool = False) -> None:
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setData(CHECK_ID_ROLE, check_id)
            if tip:
                item.setToolTip(tip)
            if column > PLACE:
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            if bold:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
            self.table.setItem(row, column, item)

    def _fill_totals(self) -> None:
        rows = [[f"{n}. {run_label(run)}", *[share(run.hits(k), len(run.results))
                                             for k in HITS_AT],
                 "" if run.cited() is None else share(run.cited() or 0, len(run.results))]
                for n, run in enumerate(self.runs, start=1)]
        if len(self.runs) >= 2:  # what the last change of settings did
            before, after = self.runs[-2], self.runs[-1]
            cited = ("" if before.cited() is None or after.cited() is None
                     else change(before.cited() or 0, len(before.results),
                                 after.cited() or 0, len(after.results)))
            rows.append([f"Change, {len(self.runs)} against {len(self.runs) - 1}",
                         *[change(before.hits(k), len(before.results), after.hits(k),
                                  len(after.results)) for k in HITS_AT], cited])
        self.totals.setRowCount(len(rows))
        for row, cells in enumerate(rows):
            for column, text in enumerate(cells):
                self.totals.setItem(row, column, QTableWidgetItem(text))

    def selected_ids(self) -> list[int]:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        items = [self.table.item(row, 0) for row in sorted(rows)]
        ids = [item.data(CHECK_ID_ROLE) for item in items if item is not None]
        return [int(i) for i in ids if i is not None]

    def _on_selection(self) -> None:
        self.remove_button.setEnabled(bool(self.selected_ids()) and self.task is None)

    def remove_selected(self) -> Task[None] | None:
        ids = self.selected_ids()
        if not ids:
            return None

        def remove(lib: Library, _task: Task[None]) -> None:
            for check_id in ids:
                lib.remove_check(check_id)

        task: Task[None] = Task(remove, "remove checks")
        task.on_failure(self.failed.emit).on_finished(self.refresh)
        self.workers.write(task)
        return task

    # --- a run --------------------------------------------------------------------------------

    def start_run(self) -> Task[CheckRun] | None:
        if self.task is not None:
            return None
        mode = MODES[self.mode.currentText()]
        sources = self.sources.value()
        with_model = self.with_model.isChecked()

        def work(lib: Library, task: Task[CheckRun]) -> CheckRun:
            model = None
            if with_model:
                status = lib.ollama_status()
                if status.model is None:
                    raise FolioError(f"No model to answer with: {status.message}")
                model = status.model
            return lib.run_checks(k=sources, mode=mode, model=model,
                                  progress=lambda done, total: task.report((done, total)),
                                  cancel=task.cancel)

        task: Task[CheckRun] = Task(work, "run checks")
        self.task = task
        self._running(True)
        self.progress.setRange(0, 0)  # until the first check is done
        self.status.setText("Running the checks…")
        task.on_progress(self._on_progress)
        task.on_success(lambda run: self._on_run(task, run))
        task.on_failure(self.failed.emit)
        task.on_finished(lambda: self._ended(task))
        self.workers.read(task)
        return task

    def cancel_run(self) -> None:
        if self.task is not None:
            self.task.cancel.set()
            self.status.setText("Cancelling…")

    def _on_progress(self, value: object) -> None:
        assert isinstance(value, tuple)  # (done, total): what start_run's task reports
        done, total = int(value[0]), int(value[1])
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.status.setText(f"{done} of {total} checks run…")

    def _on_run(self, task: Task[CheckRun], run: CheckRun) -> None:
        self.run = run
        expected = sum(1 for c, p in self.checks if p.title != "document removed")
        if task.cancel.is_set() and len(run.results) < expected:
            self.status.setText(f"Cancelled: {len(run.results)} of {expected} checks run "
                                "(this run's totals are not kept for comparison).")
        else:
            self.runs.append(run)
            self.status.setText(f"{len(run.results)} checks run ({run_label(run)}).")
        self._fill()
        self._fill_totals()
        self.run_finished.emit(run)

    def _ended(self, task: Task[CheckRun]) -> None:
        if task is self.task:
            self.task = None
            self._running(False)
            if task.cancel.is_set() and not task.done:
                self.status.setText("Cancelled.")

    def _running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)
        self._on_selection()

    def reject(self) -> None:
        self.cancel_run()  # closing the view stops its run
        super().reject()


class Checking(QObject):
    """Tools ▸ Checks… and "This is wrong…": opens the Checks view and the diagnosis dialogs."""

    def __init__(self, window: QMainWindow, workers: Workers, events: AppEvents,
                 on_error: Callable[[str], object]) -> None:
        super().__init__(window)
        self.window = window
        self.workers = workers
        self.on_error = on_error
        self.view: ChecksView | None = None
        self.dialog: DiagnoseDialog | None = None
        self.proposals: ProposalsDialog | None = None
        menu = window.menuBar().addMenu("&Tools")
        checks = QAction("&Checks…", window)
        checks.setToolTip("Saved questions and the places that answer them: how often search "
                          "finds them")
        checks.triggered.connect(self.open_checks)
        menu.addAction(checks)
        propose = QAction("&Propose checks…", window)
        propose.setToolTip("Questions made from the documents, to keep as checks")
        propose.triggered.connect(lambda: self.propose())
        menu.addAction(propose)
        events.library_changed.connect(self._on_library_changed)
        # A document's menu in the library panel offers "Propose checks…" too.
        panel = getattr(window, "library_panel", None)
        if panel is not None and hasattr(panel, "propose_checks_requested"):
            panel.propose_checks_requested.connect(self.propose)

    def open_checks(self) -> ChecksView:
        if self.view is None:
            self.view = ChecksView(self.workers, self.window)
            self.view.propose_requested.connect(lambda: self.propose())
        self.view.refresh()
        self.view.show()
        self.view.raise_()
        return self.view

    def diagnose(self, conversation_id: int, turn: int) -> DiagnoseDialog:
        """The diagnosis of one answer (one dialog at a time: a new one replaces the last)."""
        if self.dialog is not None:
            self.dialog.close()
        dialog = DiagnoseDialog(self.workers, conversation_id, turn, self.window)
        dialog.check_kept.connect(self._on_check_kept)
        dialog.destroyed.connect(lambda: self._forget(dialog))
        self.dialog = dialog
        dialog.show()
        return dialog

    def _forget(self, dialog: DiagnoseDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None

    def propose(self, document_id: int | None = None) -> ProposalsDialog:
        """Proposed checks for a document (None: every document without checks, or a choice);
        one such dialog at a time."""
        if self.proposals is not None:
            self.proposals.close()
        parent = self.view if self.view is not None and self.view.isVisible() else self.window
        dialog = ProposalsDialog(self.workers, document_id, parent)
        dialog.kept.connect(lambda _ids: self._on_check_kept(0))
        dialog.destroyed.connect(lambda: self._forget_proposals(dialog))
        self.proposals = dialog
        dialog.show()
        return dialog

    def _forget_proposals(self, dialog: ProposalsDialog) -> None:
        if self.proposals is dialog:
            self.proposals = None

    def _on_check_kept(self, _check_id: int) -> None:
        if self.view is not None and self.view.isVisible():
            self.view.refresh()

    def _on_library_changed(self, change: Change) -> None:
        # Proposals name the documents of the library they were made in: not another's.
        if change.switched and self.proposals is not None:
            self.proposals.close()
        # Checks are not among the changes the app announces; a switch of library or a
        # removed document (its checks read 'document removed') changes what the view shows.
        if self.view is not None and self.view.isVisible() and (
                change.switched or change.documents):
            if change.switched:
                self.view.cancel_run()
                self.view.run = None
                self.view.runs = []
                self.view._fill_totals()
            self.view.refresh()
