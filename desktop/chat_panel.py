"""The question panel: ask, watch the answer stream in, follow its citations, reopen conversations.

The panel keeps the turns and the signals to the window; transcript.py draws the turns,
citation_links.py makes and reads citation links, ollama_status.py is the Ollama line."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QCursor, QDesktopServices, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from core.answer_types import (
    Answer,
    AnswerMode,
    Citation,
    Conversation,
    OllamaStatus,
    PullProgress,
    Source,
    Span,
    Turn,
)
from core.citations import citation_of
from desktop.citation_links import link_target, plain_citation, with_span
from desktop.ollama_status import OllamaStatusRow
from desktop.scope_chip import ScopeChip
from desktop.span_find import SpanCitation
from desktop.transcript import Transcript, TurnView, tooltip_html

RENDER_INTERVAL_MS = 50  # re-render a streaming answer at most this often


class QuestionEdit(QPlainTextEdit):
    """Enter asks, Shift+Enter starts a new line."""

    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class ChatPanel(QWidget):
    """Shows turns and Ollama's state; asks the window (by signal) to do the work."""

    question_asked = Signal(str)
    stop_requested = Signal()
    citation_clicked = Signal(object)  # Citation
    removed_citation_clicked = Signal(object)  # Citation of a document no longer in the library
    conversation_selected = Signal(object)  # int, or None for a new conversation
    pull_requested = Signal(str)
    status_refresh_requested = Signal()
    diagnose_requested = Signal(int, int)  # conversation id, turn number (from 1)
    copy_markdown_requested = Signal(int, int)  # conversation id, turn number (from 1)
    save_markdown_requested = Signal(int)  # conversation id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.conversations = QComboBox(self)
        self.conversations.setToolTip("Reopen a past conversation")
        # The list of conversations may shrink to a few letters, so the panel's width is not
        # set by the longest title (the side panes give way first when the window narrows).
        self.conversations.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.conversations.setMinimumContentsLength(1)
        self.conversations.activated.connect(self._on_conversation_picked)
        new = QPushButton("New", self)
        new.setToolTip("Start a new conversation")
        new.clicked.connect(lambda: self.conversation_selected.emit(None))
        self.save_button = QPushButton("Save…", self)
        self.save_button.setToolTip("Save conversation as Markdown…, its sources as footnotes "
                                    "with links that open Folio at the page")
        self.save_button.clicked.connect(self._on_save)
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Ask</b>", self))
        top.addWidget(self.conversations, 1)
        top.addWidget(self.save_button)
        top.addWidget(new)

        self.transcript = Transcript(self)
        self.transcript.anchorClicked.connect(self._on_link)
        self.transcript.highlighted.connect(self._on_hover)

        self.input = QuestionEdit(self)
        self.input.setPlaceholderText("Ask a question (Enter to ask, Shift+Enter for a new line)")
        self.input.setAcceptDrops(False)
        self.input.setFixedHeight(72)
        self.input.submitted.connect(self._on_submit)
        self.scope_chip = ScopeChip(self)
        self.ask_button = QPushButton("Ask", self)
        self.ask_button.clicked.connect(self._on_submit)
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.clicked.connect(self.stop_requested)
        self.stop_button.hide()
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.ask_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        row.addLayout(buttons)

        self.ollama_row = OllamaStatusRow(self)
        self.ollama_row.pull_requested.connect(self.pull_requested)
        self.ollama_row.refresh_requested.connect(self.status_refresh_requested)
        self.status_label = self.ollama_row.label  # Ollama's state, as a test reads it

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.transcript, 1)
        layout.addWidget(self.scope_chip)
        layout.addLayout(row)
        layout.addWidget(self.ollama_row)

        self.turns: list[TurnView] = []
        self.conversation_id: int | None = None
        self.asking = False
        self.hovered: Citation | None = None
        self.hovered_span: Span | None = None  # the supporting sentence shown on hover
        self.present: set[int] | None = None  # the library's document ids, once known
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self._render_last)
        self.set_conversations([])
        self._update_save()
        self._render_all()

    # --- asking -------------------------------------------------------------------------------

    def _on_submit(self) -> None:
        question = self.input.toPlainText().strip()
        if question and not self.asking:
            self.input.clear()
            self.question_asked.emit(question)

    def focus_question(self) -> None:
        self.input.setFocus()

    def set_scope(self, ids: Sequence[int], titles: Sequence[str]) -> None:
        """Ask the next questions within these documents only (until the chip is removed)."""
        self.scope_chip.set_scope(ids, titles)

    def scope(self) -> list[int] | None:
        """The documents questions are asked within; None for the whole library."""
        return list(self.scope_chip.ids) or None

    def begin_answer(self, question: str) -> None:
        self.set_asking(True)
        self.turns.append(TurnView(question, status="Searching your library…", complete=False))
        self._render_all()

    def show_sources(self, sources: Sequence[Source]) -> None:
        turn = self.turns[-1]
        turn.citations = {s.n: citation_of(s) for s in sources}
        turn.status = (f"Found {len(sources)} passages; writing the answer…" if sources
                       else "Nothing found in the library.")
        self._schedule_render()

    def show_progress(self, message: str) -> None:
        """A step of a long answer ("Summarising: section 4 of 12"), shown until text comes."""
        turn = self.turns[-1]
        turn.status = message
        self._schedule_render()

    def append_token(self, text: str) -> None:
        turn = self.turns[-1]
        turn.text += text
        turn.status = None
        self._schedule_render()

    def finish_answer(self, answer: Answer) -> None:
        turn = self.turns[-1]
        turn.text = answer.text
        turn.mode = answer.mode
        turn.citations = {s.n: citation_of(s) for s in answer.sources}
        turn.citations.update({c.n: c for c in answer.citations})
        turn.cited = [c.n for c in answer.citations]
        turn.support = answer.support if answer.mode is AnswerMode.GENERATED else ()
        turn.notice = answer.notice
        turn.complete = answer.complete
        turn.status = None
        if answer.conversation_id is not None:
            self.conversation_id = answer.conversation_id
        self.set_asking(False)
        self._render_timer.stop()
        self._render_last()

    def fail_answer(self, message: str) -> None:
        if self.turns:
            turn = self.turns[-1]
            turn.status = None
            turn.notice = message
            turn.complete = False
        self.set_asking(False)
        self._render_timer.stop()
        self._render_last()

    def set_asking(self, asking: bool) -> None:
        self.asking = asking
        self.ask_button.setVisible(not asking)
        self.stop_button.setVisible(asking)
        self._update_save()

    def citation(self, turn: int, n: int) -> Citation | None:
        if 0 <= turn < len(self.turns):
            return self.turns[turn].citations.get(n)
        return None

    def span(self, turn: int, n: int, sentence: int | None) -> Span | None:
        """The sentence of source n that supports sentence (an index into the turn's support)."""
        return self.turns[turn].span(n, sentence) if 0 <= turn < len(self.turns) else None

    def click_citation(self, n: int, turn: int = -1, sentence: int | None = None) -> bool:
        """Act as if citation n of a turn (the last by default) was clicked, in sentence (an
        index into the turn's support; by default the first sentence that cites n)."""
        index = turn if turn >= 0 else len(self.turns) + turn
        found = self.citation(index, n)
        if found is not None:
            if sentence is None and 0 <= index < len(self.turns):
                sentence = self.turns[index].first_sentence_citing(n)
            self._clicked(with_span(found, self.span(index, n, sentence)))
        return found is not None

    def _clicked(self, citation: Citation) -> None:
        if self.is_removed(citation):
            self.removed_citation_clicked.emit(citation)
        else:
            self.citation_clicked.emit(citation)

    def has_actions(self, index: int) -> bool:
        """Whether turn index (from 0) is a stored answer its actions apply to."""
        if self.conversation_id is None or not 0 <= index < len(self.turns):
            return False
        turn = self.turns[index]
        return turn.mode is not None and bool(turn.text) and turn.status is None

    def trigger_action(self, name: str, index: int) -> bool:
        """Act as if an answer's action link ("diagnose") under turn index (from 0) was
        clicked; False when that turn has no such action."""
        if not self.has_actions(index) or self.conversation_id is None:
            return False
        signal = {"diagnose": self.diagnose_requested,
                  "copy": self.copy_markdown_requested}.get(name)
        if signal is None:
            return False
        signal.emit(self.conversation_id, index + 1)
        return True

    def _on_save(self) -> None:
        if self.conversation_id is not None and not self.asking:
            self.save_markdown_requested.emit(self.conversation_id)

    def _update_save(self) -> None:
        self.save_button.setEnabled(self.conversation_id is not None and not self.asking)

    # --- documents removed since an answer cited them -----------------------------------------

    def is_removed(self, citation: Citation) -> bool:
        return self.present is not None and citation.document_id not in self.present

    def set_present_documents(self, ids: set[int]) -> None:
        """The library's documents now: a citation of one no longer there shows "document
        removed" (its text stays); re-rendered only when that changes for a shown citation."""
        def removed_cited() -> set[int]:
            return {c.document_id for t in self.turns for c in t.citations.values()
                    if self.is_removed(c)}
        before = removed_cited()
        self.present = set(ids)
        if removed_cited() != before:
            self._render_all()

    # --- conversations ------------------------------------------------------------------------

    def set_conversations(self, conversations: Sequence[Conversation]) -> None:
        self.conversations.clear()
        self.conversations.addItem("New conversation", None)
        for c in conversations:
            label = c.title if len(c.title) <= 60 else c.title[:59] + "…"
            self.conversations.addItem(f"{label} ({c.turns})", c.id)
            self.conversations.setItemData(self.conversations.count() - 1, c.title,
                                           Qt.ItemDataRole.ToolTipRole)
        index = self.conversations.findData(self.conversation_id)
        self.conversations.setCurrentIndex(max(0, index))

    def _on_conversation_picked(self, index: int) -> None:
        self.conversation_selected.emit(self.conversations.itemData(index))

    def show_conversation(self, conversation_id: int | None, turns: Sequence[Turn]) -> None:
        self.conversation_id = conversation_id
        self.turns = [TurnView.from_turn(t) for t in turns]
        index = self.conversations.findData(conversation_id)
        self.conversations.setCurrentIndex(max(0, index))
        self._update_save()
        self._render_all()

    # --- Ollama -------------------------------------------------------------------------------

    def set_ollama_status(self, status: OllamaStatus) -> None:
        self.ollama_row.show_status(status)

    def set_pull_progress(self, progress: PullProgress | None, message: str | None = None) -> None:
        self.ollama_row.show_pull_progress(progress, message)

    # --- links --------------------------------------------------------------------------------

    def _cite_target(self, url: QUrl) -> Citation | None:
        """The citation a cite:TURN-N[-S] link names; a SpanCitation, with the source sentence
        that supports answer sentence S, where the turn has it."""
        target = link_target(url)
        if target is None:
            return None
        turn, n, sentence = target
        found = self.citation(turn, n)
        if found is None:
            return None
        return with_span(found, self.span(turn, n, sentence))

    def _on_link(self, url: QUrl) -> None:
        """Only citations and an answer's actions act inside the app; http(s) opens the browser;
        nothing else opens."""
        if url.scheme() in ("cite", "removed"):
            found = self._cite_target(url)
            if found is not None:
                self._clicked(found)
        elif url.scheme() == "action":
            name, _, turn = url.path().partition("-")
            if turn.isdigit():
                self.trigger_action(name, int(turn))
        elif url.scheme() in ("http", "https"):
            QDesktopServices.openUrl(url)

    def _on_hover(self, url: QUrl) -> None:
        target = self._cite_target(url)
        self.hovered_span = target.span if isinstance(target, SpanCitation) else None
        self.hovered = plain_citation(target) if target is not None else None
        if self.hovered is None:
            QToolTip.hideText()
            return
        QToolTip.showText(QCursor.pos(), tooltip_html(self.hovered, self.is_removed(self.hovered),
                                                      self.hovered_span), self.transcript)

    # --- rendering ----------------------------------------------------------------------------

    def _schedule_render(self) -> None:
        if not self._render_timer.isActive():
            self._render_timer.start()

    def _render_all(self) -> None:
        self.transcript.render_all(self.turns, self.is_removed, self.has_actions)

    def _render_last(self) -> None:
        """Re-render only the last turn: cheap enough to do while tokens stream in."""
        self.transcript.render_last(self.turns, self.is_removed, self.has_actions)
