""""This is wrong…": the user names the right place, and Folio says whether retrieval or the
model missed it (core/diagnosis.py), on a reader; the question can then be kept as a check.

The dialog reads the turn and the library's documents once (the answer's cited documents come
first in the choice); the person may narrow the place to one passage, found by a search within
the chosen document in the dialog. It runs `diagnosing.diagnose_turn` for the chosen document,
page or passage, and shows its ranks on both sides of the search and fused (as typed and as
rewritten, when a follow-up was), whether the place was sent and as which [n], whether the
answer cited it, the verdict sentence, and for a factual verdict the settings tried on the spot
(other embedding models installed among them, their ranks estimated over the candidates).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core import diagnosing
from core.answer_types import Turn
from core.diagnosis import DEPTH, Diagnosis, Ranks
from core.types import DocStatus, Document, Hit
from desktop.tasks import Task

if TYPE_CHECKING:
    from core.library import Library
    from desktop.workers import Workers

ANY_PAGE = "Any page"
FOUND_PASSAGES = 8  # search results offered as the place
PASSAGE_ROLE = Qt.ItemDataRole.UserRole
VERDICTS = {"found": "found", "behavioural": "behavioural (the model)",
            "factual": "factual (retrieval)", "absent": "the document does not say it"}


def expect_of(document_id: int, page: int | None, passage: int | None = None) -> str:
    """The place in the form the core reads ('DOC', 'DOC:PAGE' or 'DOC:PAGE#PASSAGE')."""
    return diagnosing.expect_of(document_id, page, passage)


def hit_label(hit: Hit) -> str:
    """A found passage as the list offers it: its page and its beginning."""
    text = " ".join(hit.text.split())
    text = text if len(text) <= 110 else text[:110].rsplit(" ", 1)[0] + "…"
    page = hit.page_label or str(hit.page)
    return f"p. {page}: {text}"


def ordered_documents(turn: Turn, documents: list[Document]) -> list[tuple[Document, bool]]:
    """(document, cited) of the documents a place can be in: those the answer cited first, in
    citation order, then the rest in the library's order."""
    ready = [d for d in documents if d.status is DocStatus.INDEXED]
    by_id = {d.id: d for d in ready}
    cited: list[int] = []
    for citation in turn.citations:
        if citation.document_id in by_id and citation.document_id not in cited:
            cited.append(citation.document_id)
    return ([(by_id[i], True) for i in cited]
            + [(d, False) for d in ready if d.id not in cited])


def rank_text(rank: int | None, side: str) -> str:
    if rank is not None:
        return str(rank)
    return "not fused (outside both sides' candidates)" if side == "fused" else (
        f"not in the top {DEPTH}")


def ranks_rows(diagnosis: Diagnosis) -> list[tuple[str, str, str | None]]:
    """(side, rank as searched, rank as typed or None) for keyword, meaning and fused."""
    asked: Ranks | None = diagnosis.asked_ranks
    rows = []
    for label, side in (("Keyword rank", "keyword"), ("Meaning rank", "semantic"),
                        ("Fused rank", "fused")):
        searched = rank_text(getattr(diagnosis.ranks, side), side)
        typed = None if asked is None else rank_text(getattr(asked, side), side)
        rows.append((label, searched, typed))
    return rows


def diagnosis_html(diagnosis: Diagnosis) -> str:
    """What the dialog shows of a diagnosis, as rich text (escaped)."""
    e = html.escape
    verdict = VERDICTS.get(diagnosis.verdict, diagnosis.verdict)
    if diagnosis.verdict == "absent" and diagnosis.place.passage is not None:
        verdict = "the passage does not say it"
    parts = [f"<p>Verdict: <b>{e(verdict)}</b></p>",
             f"<p><b>{e(diagnosis.sentence)}</b></p>"]
    rewritten = diagnosis.asked_ranks is not None
    head = ("<tr><th></th><th>as rewritten</th><th>as typed</th></tr>" if rewritten else "")
    rows = "".join(
        f"<tr><td>{e(label)}</td><td>&nbsp;{e(searched)}</td>"
        + (f"<td>&nbsp;{e(typed)}</td>" if typed is not None else "") + "</tr>"
        for label, searched, typed in ranks_rows(diagnosis))
    parts.append(f"<table>{head}{rows}</table>")
    if rewritten:
        parts.append(f"<p>The follow-up was searched as “{e(diagnosis.searched)}”.</p>")
    if diagnosis.source_number is not None:
        sent = (f"It was sent to the model as source [{diagnosis.source_number}] "
                f"(of {diagnosis.sources}).")
    else:
        sent = f"It was not among the {diagnosis.sources} sources sent to the model."
    cited = {None: "There is no answer to look at.", True: "The answer cited it.",
             False: "The answer did not cite it."}[diagnosis.cited]
    parts.append(f"<p>{e(sent)} {e(cited)}</p>")
    if diagnosis.trials:
        tried = "".join(
            f"<li>{e(t.setting)}: rank {e(str(t.rank) if t.rank is not None else 'none')}, "
            + ("<b>would have found it</b>" if t.finds_it else "would not have found it")
            + (f" <i>({e(t.note)})</i>" if t.note else "")
            + "</li>" for t in diagnosis.trials)
        parts.append(f"<p>Tried on the spot:</p><ul>{tried}</ul>")
    return "".join(parts)


class DiagnoseDialog(QDialog):
    """For one turn of a kept conversation: where the right place ranked, and why it was missed."""

    loaded = Signal()  # the turn and the documents are read; the choice is filled
    diagnosed = Signal(object)  # Diagnosis
    check_kept = Signal(int)  # the saved check's id
    failed = Signal(str)

    def __init__(self, workers: Workers, conversation_id: int, turn: int,
                 parent: QWidget | None = None,
                 on_error: Callable[[str], object] | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.conversation_id = conversation_id
        self.turn_number = turn
        self.turn: Turn | None = None
        self.diagnosis: Diagnosis | None = None
        self._diagnosed_expect: str | None = None
        self._task: Task[Diagnosis] | None = None
        self.passage: tuple[int, int] | None = None  # (passage id, its page) chosen, if any
        self._search: Task[list[Hit]] | None = None
        self.setWindowTitle("Why was this answer wrong?")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(560, 520)

        self.question = QLabel("Reading the answer…", self)
        self.question.setWordWrap(True)
        self.question.setTextFormat(Qt.TextFormat.PlainText)
        self.document = QComboBox(self)
        self.document.setEnabled(False)
        self.document.currentIndexChanged.connect(self._on_document)
        self.page = QSpinBox(self)
        self.page.setRange(0, 0)
        self.page.setSpecialValueText(ANY_PAGE)
        self.page.setToolTip("The page that holds the answer, or any page of the document")
        self.page.valueChanged.connect(self._on_page)
        self.find_box = QLineEdit(self)
        self.find_box.setPlaceholderText("Words of the passage that answers it")
        self.find_box.setToolTip("Search the chosen document, then pick the passage in the list")
        self.find_box.returnPressed.connect(lambda: self.search())
        self.find_button = QPushButton("&Find", self)
        self.find_button.setEnabled(False)
        self.find_button.clicked.connect(lambda: self.search())
        self.found = QListWidget(self)
        self.found.setMaximumHeight(120)
        self.found.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.found.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.found.setToolTip("Pick a passage to diagnose it alone; the page is then its page")
        self.found.currentItemChanged.connect(self._on_found_item)
        self.diagnose_button = QPushButton("&Diagnose", self)
        self.diagnose_button.setDefault(True)
        self.diagnose_button.setEnabled(False)
        self.diagnose_button.clicked.connect(self.run)
        self.findings = QLabel("", self)
        self.findings.setWordWrap(True)
        self.findings.setTextFormat(Qt.TextFormat.RichText)
        self.findings.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.findings.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.keep_button = QPushButton("&Keep as a check", self)
        self.keep_button.setToolTip("Save the question and this place; Tools ▸ Checks runs them")
        self.keep_button.setEnabled(False)
        self.keep_button.clicked.connect(self.keep)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.addButton(self.keep_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)

        finding = QHBoxLayout()
        finding.addWidget(self.find_box, 1)
        finding.addWidget(self.find_button)
        form = QFormLayout()
        form.addRow("The right document:", self.document)
        form.addRow("Page:", self.page)
        form.addRow("Passage (optional):", finding)
        form.addRow("", self.found)
        layout = QVBoxLayout(self)
        layout.addWidget(self.question)
        layout.addLayout(form)
        layout.addWidget(self.diagnose_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.findings, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.failed.connect(self._on_failed)
        if on_error is not None:
            self.failed.connect(on_error)
        self._load()

    # --- reading the turn and the documents ---------------------------------------------------

    def _load(self) -> None:
        conversation_id = self.conversation_id

        def read(lib: Library, _task: Task[tuple[list[Turn], list[Document]]]
                 ) -> tuple[list[Turn], list[Document]]:
            return lib.turns(conversation_id), lib.documents()

        task: Task[tuple[list[Turn], list[Document]]] = Task(read, "diagnose: read the turn")
        task.on_success(self._on_loaded).on_failure(self.failed.emit)
        self.workers.read(task)

    def _on_loaded(self, read: tuple[list[Turn], list[Document]]) -> None:
        turns, documents = read
        if not 1 <= self.turn_number <= len(turns):
            self.failed.emit(f"Conversation {self.conversation_id} has no turn "
                             f"{self.turn_number}.")
            return
        self.turn = turns[self.turn_number - 1]
        self.question.setText(f"Question: {self.turn.question}")
        self.document.blockSignals(True)
        self.document.clear()
        for doc, cited in ordered_documents(self.turn, documents):
            label = f"{doc.title} (cited)" if cited else doc.title
            self.document.addItem(label, (doc.id, doc.pages))
        self.document.blockSignals(False)
        ready = self.document.count() > 0
        self.document.setEnabled(ready)
        self.diagnose_button.setEnabled(ready)
        self.find_button.setEnabled(ready)
        if ready:
            self.document.setCurrentIndex(0)
            self._on_document(0)
        else:
            self.status.setText("The library has no documents to point at.")
        self.loaded.emit()

    # --- the place ----------------------------------------------------------------------------

    def choose(self, document_id: int, page: int | None = None) -> None:
        """Point at document_id (and page), as a person picks them."""
        for index in range(self.document.count()):
            if self.document.itemData(index)[0] == document_id:
                self.document.setCurrentIndex(index)
                self.page.setValue(page or 0)
                return
        raise ValueError(f"document {document_id} is not offered")

    def expect(self) -> str | None:
        data = self.document.currentData()
        if data is None:
            return None
        passage = self.passage[0] if self.passage is not None else None
        return expect_of(int(data[0]), self.page.value() or None, passage)

    def _on_document(self, _index: int) -> None:
        data = self.document.currentData()
        pages = int(data[1]) if data is not None else 0
        self.passage = None
        self.found.clear()
        self.page.setRange(0, max(0, pages))
        self.page.setValue(0)
        self._place_changed()

    def _on_page(self, page: int) -> None:
        if self.passage is not None and page != self.passage[1]:  # another page: any passage
            self.passage = None
            self.found.setCurrentRow(-1)
        self._place_changed()

    # --- a passage, from a search within the document -----------------------------------------

    def search(self, query: str | None = None) -> Task[list[Hit]] | None:
        """Search the chosen document for the passage (query: the find box's text)."""
        data = self.document.currentData()
        text = (self.find_box.text() if query is None else query).strip()
        if data is None or not text:
            return None
        if query is not None:
            self.find_box.setText(query)
        document_id = int(data[0])
        if self._search is not None:
            self._search.cancel.set()
        task: Task[list[Hit]] = Task(
            lambda lib, _t: lib.search(text, k=FOUND_PASSAGES, scope=[document_id]).hits,
            "diagnose: find the passage")
        self._search = task
        task.on_success(self._on_found)  # a bound method: a closed dialog is disconnected
        task.on_failure(self.failed.emit)
        self.workers.read(task)
        return task

    def _on_found(self, hits: list[Hit]) -> None:
        data = self.document.currentData()
        if self.sender() is not self._search:
            return  # a newer search was started
        self._search = None
        if data is None or any(h.document_id != int(data[0]) for h in hits):
            return  # another document was chosen meanwhile
        self.found.blockSignals(True)
        self.found.clear()
        for hit in hits:
            item = QListWidgetItem(hit_label(hit))
            item.setData(PASSAGE_ROLE, (hit.passage_id, hit.page))
            item.setToolTip(hit.text[:600])
            self.found.addItem(item)
        self.found.blockSignals(False)
        self.status.setText("" if hits else "No passage of this document matches those words.")

    def choose_passage(self, row: int) -> None:
        """Pick the row-th passage found, as a person clicks it."""
        self.found.setCurrentRow(row)

    def _on_found_item(self, item: QListWidgetItem | None,
                       _previous: QListWidgetItem | None = None) -> None:
        if item is None:
            return
        passage_id, page = item.data(PASSAGE_ROLE)
        self.passage = (int(passage_id), int(page))
        self.page.blockSignals(True)
        self.page.setValue(int(page))
        self.page.blockSignals(False)
        self._place_changed()

    def _place_changed(self) -> None:
        # A check keeps the place that was diagnosed: another place must be diagnosed first.
        self.keep_button.setEnabled(self.diagnosis is not None
                                    and self._diagnosed_expect == self.expect())

    # --- the diagnosis ------------------------------------------------------------------------

    def run(self) -> Task[Diagnosis] | None:
        expect = self.expect()
        if expect is None:
            return None
        if self._task is not None:
            self._task.cancel.set()
        conversation_id, turn = self.conversation_id, self.turn_number
        task: Task[Diagnosis] = Task(
            lambda lib, _t: diagnosing.diagnose_turn(lib, conversation_id, turn, expect),
            "diagnose")
        self._task = task
        self.diagnose_button.setEnabled(False)
        self.status.setText("Ranking the place on both sides of the search…")
        task.on_success(lambda found: self._on_diagnosed(task, expect, found))
        task.on_failure(self.failed.emit)
        task.on_finished(lambda: self._ended(task))
        self.workers.read(task)
        return task

    def _on_diagnosed(self, task: Task[Diagnosis], expect: str, found: Diagnosis) -> None:
        if task is not self._task:
            return
        self.diagnosis = found
        self._diagnosed_expect = expect
        self.findings.setText(diagnosis_html(found))
        self.status.setText("")
        self._place_changed()
        self.diagnosed.emit(found)

    def _ended(self, task: Task[Diagnosis]) -> None:
        if task is self._task:
            self._task = None
            self.diagnose_button.setEnabled(self.document.count() > 0)

    def _on_failed(self, message: str) -> None:
        self.status.setText(message)

    # --- keeping it ---------------------------------------------------------------------------

    def keep(self) -> Task[int] | None:
        """Keep the question (as searched: a follow-up's self-contained form, which a check
        runs alone) and the diagnosed place as a saved check, on the writer (a check names a
        document or a page: a passage is kept as its page)."""
        if self.diagnosis is None or self._diagnosed_expect is None:
            return None
        question = self.diagnosis.searched
        expect = self._diagnosed_expect.partition("#")[0]
        task: Task[int] = Task(lambda lib, _t: lib.add_check(question, expect), "keep a check")
        self.keep_button.setEnabled(False)
        task.on_success(self._on_kept).on_failure(self.failed.emit)
        self.workers.write(task)
        return task

    def _on_kept(self, check_id: int) -> None:
        self.status.setText(f"Kept as check {check_id}: Tools ▸ Checks… runs it with the others.")
        self.check_kept.emit(check_id)
