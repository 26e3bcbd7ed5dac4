"""The question panel: ask, watch the answer stream in, follow its citations, reopen conversations."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QCursor,
    QDesktopServices,
    QKeyEvent,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTextBrowser,
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
    SentenceSupport,
    Source,
    Span,
    Turn,
)
from core.citations import CITATION, citation_of, cited_numbers
from core.support import cited_sentences
from desktop.pull_bar import show_pull_progress
from desktop.scope_chip import ScopeChip
from desktop.span_find import SpanCitation

CITATION_MARKER = re.compile(CITATION.pattern + r"(?!\()", re.IGNORECASE)  # not a Markdown link
MARKDOWN = (QTextDocument.MarkdownFeature.MarkdownDialectGitHub
            | QTextDocument.MarkdownFeature.MarkdownNoHTML)  # model output is untrusted
RENDER_INTERVAL_MS = 50  # re-render a streaming answer at most this often
TOOLTIP_CHARS = 600
TOOLTIP_REST_CHARS = 240  # of the passage, under its supporting sentence
NOT_FOUND_COLOR = "#b35c5c"  # a muted red: what the sources do not say
# How a source was found, as a person reads it ("outline": a whole-document answer, which
# walks every section of the document: core/overview.py).
FOUND_BY = {"both": "keywords and meaning", "outline": "reading every section"}
INTRO = ("Ask a question about your documents (Ctrl+L). Every answer cites the passages it "
         "used: click a citation to see it in the document, hover over it to read the passage.")


REMOVED = "document removed"


def link_citations(text: str, turn: int, known: set[int], removed: set[int] | None = None,
                   sentences: Sequence[int | None] = ()) -> str:
    """Markdown with each known [n] (also [2, 3]) made a cite:TURN-N link (removed:TURN-N for a
    citation whose document is no longer in the library); unknown numbers stay. sentences gives,
    mark by mark, the answer sentence (an index into the turn's support) the mark cites from:
    its links are cite:TURN-N-S."""
    gone = removed or set()
    marks = iter(sentences)

    def replace(match: re.Match[str]) -> str:
        sentence = next(marks, None)
        numbers = cited_numbers(match.group(0))  # the forms core counts: [1], [2, 3], [4-6] ...
        if not any(n in known for n in numbers):
            return match.group(0)
        where = "" if sentence is None else f"-{sentence}"
        return "".join(f"[\\[{n}\\]]({'removed' if n in gone else 'cite'}:{turn}-{n}{where})"
                       if n in known else f"\\[{n}\\]" for n in numbers)
    return CITATION_MARKER.sub(replace, text)


def mark_sentences(text: str, support: Sequence[SentenceSupport]) -> list[int | None]:
    """For each citation mark of text, in order, the index in support of the sentence it
    belongs to (core.support.cited_sentences: a mark after the full stop belongs to the sentence
    before it); None for a mark of a sentence support does not list. [] without support.

    The sentences are those of the whole text, or, when that does not line up, of each line
    (a whole-document answer's support is aligned line by line: core/overview.py)."""
    return _marks(text, support, cited_sentences(text)) or _marks(
        text, support, [s for line in text.splitlines() for s in cited_sentences(line)])


def _marks(text: str, support: Sequence[SentenceSupport],
           sentences: Sequence[str]) -> list[int | None]:
    if not support:
        return []
    out: list[int | None] = []
    next_support = 0
    for sentence in sentences:
        index: int | None = None
        if next_support < len(support) and support[next_support].sentence == sentence:
            index, next_support = next_support, next_support + 1
        out.extend([index] * len(CITATION_MARKER.findall(sentence)))
    if len(out) != len(CITATION_MARKER.findall(text)) or next_support != len(support):
        return []  # the split did not line up with the answer's marks: no sentence is guessed
    return out


@dataclass
class TurnView:
    """One question and its answer as the panel shows it."""

    question: str
    text: str = ""
    mode: AnswerMode | None = None
    citations: dict[int, Citation] = field(default_factory=dict)  # every source by number
    cited: list[int] = field(default_factory=list)  # the numbers the answer cites, in order
    # Per answer sentence that cites: its supporting source sentences (kept with the turn; a
    # turn kept by an older Folio has none).
    support: tuple[SentenceSupport, ...] = ()
    notice: str | None = None
    status: str | None = None  # "Searching…" while there is nothing to show yet
    complete: bool = True

    @classmethod
    def from_turn(cls, turn: Turn) -> TurnView:
        return cls(turn.question, turn.answer, turn.mode, {c.n: c for c in turn.citations},
                   [c.n for c in turn.citations],
                   turn.support if turn.mode is AnswerMode.GENERATED else ())


class Transcript(QTextBrowser):
    """The conversation. Loads nothing by itself: no images, no files, no links followed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setAcceptDrops(False)

    def loadResource(self, _type: int, _name: QUrl | str) -> Any:
        return None  # an answer could name file:///... as an image; never read it


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

        self.status_label = QLabel("Checking Ollama…", self)
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                                  | Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.status_label.linkActivated.connect(self._on_status_link)
        self.suggested_model = ""
        self.pull_button = QPushButton("Pull a model", self)
        self.pull_button.clicked.connect(lambda: self.pull_requested.emit(self.suggested_model))
        self.pull_button.hide()
        self.pull_bar = QProgressBar(self)
        self.pull_bar.hide()
        status_row = QHBoxLayout()
        status_row.addWidget(self.status_label, 1)
        status_row.addWidget(self.pull_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.transcript, 1)
        layout.addWidget(self.scope_chip)
        layout.addLayout(row)
        layout.addLayout(status_row)
        layout.addWidget(self.pull_bar)

        self.turns: list[TurnView] = []
        self.conversation_id: int | None = None
        self.asking = False
        self.hovered: Citation | None = None
        self.hovered_span: Span | None = None  # the supporting sentence shown on hover
        self.present: set[int] | None = None  # the library's document ids, once known
        self.ollama: OllamaStatus | None = None
        self._last_turn_start = 0
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
        if sentence is None or not 0 <= turn < len(self.turns):
            return None
        support = self.turns[turn].support
        if not 0 <= sentence < len(support):
            return None
        return next((s for s in support[sentence].spans if s.n == n), None)

    def click_citation(self, n: int, turn: int = -1, sentence: int | None = None) -> bool:
        """Act as if citation n of a turn (the last by default) was clicked, in sentence (an
        index into the turn's support; by default the first sentence that cites n)."""
        index = turn if turn >= 0 else len(self.turns) + turn
        found = self.citation(index, n)
        if found is not None:
            if sentence is None and 0 <= index < len(self.turns):
                sentence = next((i for i, s in enumerate(self.turns[index].support)
                                 if any(span.n == n for span in s.spans)), None)
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
        # Imported here, not at the top: core.llm loads the ollama client (~0.6 s), and by the
        # time a status arrives a worker has imported it already.
        from core.llm import SUGGESTED_MODEL

        self.suggested_model = SUGGESTED_MODEL
        self.pull_button.setText(f"Pull {SUGGESTED_MODEL}")
        self.ollama = status
        if status.reachable and status.model:
            text = (f"<span style='color:#2e7d32'>●</span> Ollama {html.escape(status.version or '')}"
                    f" with <b>{html.escape(status.model)}</b>")
        else:
            text = (f"<span style='color:#c62828'>●</span> {html.escape(status.message)} "
                    "<a href='refresh:'>Check again</a>")
        self.status_label.setText(text)
        self.status_label.setToolTip(status.message)
        self.pull_button.setVisible(status.reachable and status.model is None)

    def set_pull_progress(self, progress: PullProgress | None, message: str | None = None) -> None:
        if progress is None:
            self.pull_bar.hide()
            self.pull_button.setEnabled(True)
            if message:
                self.status_label.setText(html.escape(message))
            return
        self.pull_button.setEnabled(False)
        show_pull_progress(self.pull_bar, progress)

    def _on_status_link(self, link: str) -> None:
        if link.startswith("refresh:"):
            self.status_label.setText("Checking Ollama…")
            self.status_refresh_requested.emit()

    # --- links --------------------------------------------------------------------------------

    def _cite_target(self, url: QUrl) -> Citation | None:
        """The citation a cite:TURN-N[-S] link names; a SpanCitation, with the source sentence
        that supports answer sentence S, where the turn has it."""
        if url.scheme() not in ("cite", "removed"):
            return None
        parts = url.path().split("-")
        if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
            return None
        turn, n = int(parts[0]), int(parts[1])
        found = self.citation(turn, n)
        if found is None:
            return None
        return with_span(found, self.span(turn, n, int(parts[2]) if len(parts) == 3 else None))

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
        self.transcript.clear()
        cursor = QTextCursor(self.transcript.document())
        if not self.turns:
            cursor.insertHtml(f"<p style='color:gray'>{INTRO}</p>")
            return
        for index, turn in enumerate(self.turns):
            if index == len(self.turns) - 1:
                self._last_turn_start = cursor.position()
            self._render_turn(cursor, index, turn)
        self._scroll_to_end()

    def _render_last(self) -> None:
        """Re-render only the last turn: cheap enough to do while tokens stream in."""
        if not self.turns:
            return
        bar = self.transcript.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 4
        cursor = QTextCursor(self.transcript.document())
        cursor.setPosition(self._last_turn_start)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._render_turn(cursor, len(self.turns) - 1, self.turns[-1])
        if at_end:
            self._scroll_to_end()

    def _scroll_to_end(self) -> None:
        bar = self.transcript.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _render_turn(self, cursor: QTextCursor, index: int, turn: TurnView) -> None:
        if index > 0:
            plain_block(cursor)
            cursor.insertHtml("<hr/>")
        plain_block(cursor)
        cursor.insertHtml(f"<b>You:</b> {html.escape(turn.question)}")
        if turn.mode is AnswerMode.EXTRACTIVE:
            plain_block(cursor)
            cursor.insertHtml("<i>From your documents (no language model wrote this):</i>")
        if turn.text:
            plain_block(cursor)
            removed = {n for n, c in turn.citations.items() if self.is_removed(c)}
            sentences = mark_sentences(turn.text, turn.support)
            start = cursor.position()
            cursor.insertMarkdown(link_citations(turn.text, index, set(turn.citations), removed,
                                                 sentences), MARKDOWN)
            if sentences:
                annotate_support(cursor, start, index, turn.support)
        for line in (turn.status, turn.notice):
            if line:
                plain_block(cursor)
                cursor.insertHtml(f"<i style='color:gray'>{html.escape(line)}</i>")
        shown = turn.cited or ([] if turn.status else sorted(turn.citations))
        if shown and not turn.status:
            plain_block(cursor)
            cursor.insertHtml("<b>Sources</b>")
            for n in shown:
                if n in turn.citations:
                    plain_block(cursor)
                    cited = turn.citations[n]
                    cursor.insertHtml(source_line(index, cited, self.is_removed(cited)))
        if self.has_actions(index):
            plain_block(cursor)
            cursor.insertHtml(actions_line(index))


def plain_block(cursor: QTextCursor) -> None:
    """Start a new paragraph outside any list or quote the Markdown before it left open."""
    if cursor.position() == 0 and cursor.block().length() <= 1:
        return
    cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
    current = cursor.currentList()
    if current is not None:
        current.remove(cursor.block())
    block_format = QTextBlockFormat()
    block_format.setTopMargin(6)
    cursor.setBlockFormat(block_format)


def source_line(turn: int, c: Citation, removed: bool = False) -> str:
    """One line of the sources list: [n] title, p. label, why it was found (HTML, escaped); a
    citation of a document no longer in the library says "document removed" instead."""
    page = f"p. {c.page_display}" if c.rects or c.page_label else f"page {c.page}"
    if removed:
        return (f"<a href='removed:{turn}-{c.n}'>[{c.n}]</a> "
                f"<span style='color:gray'>{html.escape(c.title)}, {html.escape(page)} — "
                f"<i>{REMOVED}</i></span>")
    return (f"<a href='cite:{turn}-{c.n}'>[{c.n}]</a> {html.escape(c.title)}, "
            f"{html.escape(page)} <span style='color:gray'>— found by "
            f"{html.escape(FOUND_BY.get(c.found_by, c.found_by))}"
            "</span>")


ACTIONS = (("copy", "Copy as Markdown",
            "Copy this question and answer, its sources as footnotes with links to the page"),
           ("diagnose", "This is wrong…",
            "Find out why: what the search found, and what it missed"),)


def actions_line(turn: int) -> str:
    """The small links under an answer, one per action (HTML)."""
    links = (f"<a href='action:{name}-{turn}' title='{html.escape(tip)}' "
             f"style='color:gray'>{html.escape(label)}</a>" for name, label, tip in ACTIONS)
    return f"<small>{' · '.join(links)}</small>"


def tooltip_html(c: Citation, removed: bool = False, span: Span | None = None) -> str:
    """The hover text of a citation: the source sentence that supports the answer's sentence
    where there is one (or that nothing in the source does), then the passage's start."""
    note = f" <i>({REMOVED})</i>" if removed else ""
    head = f"<p><b>[{c.n}] {html.escape(c.title)}, p. {html.escape(c.page_display)}</b>{note}</p>"
    if span is None:
        text = c.text if len(c.text) <= TOOLTIP_CHARS else c.text[:TOOLTIP_CHARS] + " …"
        return f"{head}<p>{html.escape(text)}</p>"
    sentence = span.text if len(span.text) <= TOOLTIP_CHARS else span.text[:TOOLTIP_CHARS] + " …"
    if span.supported:
        said = f"<p><b>“{html.escape(sentence)}”</b></p>"
    else:
        said = (f"<p style='color:{NOT_FOUND_COLOR}'>Not found in [{c.n}]: nothing in it supports "
                f"this sentence. Its closest sentence:</p><p>“{html.escape(sentence)}”</p>")
    rest = c.text if len(c.text) <= TOOLTIP_REST_CHARS else c.text[:TOOLTIP_REST_CHARS] + " …"
    return f"{head}{said}<p style='color:gray'>{html.escape(rest)}</p>"


def with_span(citation: Citation, span: Span | None) -> Citation:
    """citation as clicked in a sentence: a SpanCitation carrying span, or citation itself."""
    if span is None:
        return citation
    values = {f.name: getattr(citation, f.name) for f in fields(Citation)}
    return SpanCitation(**values, span=span)


def plain_citation(citation: Citation) -> Citation:
    if not isinstance(citation, SpanCitation):
        return citation
    return Citation(*(getattr(citation, f.name) for f in fields(Citation)))


SENTENCE_END = set(".!?…;:)\"'”’")
_CITE_HREF = re.compile(r"^(?:cite|removed):(\d+)-\d+-(\d+)$")
_NUMBER_IN_TEXT = re.compile(r"(?<![\w.\[])\d[\d,.]*\d%?|(?<![\w.\[])\d%?")


def annotate_support(cursor: QTextCursor, start: int, turn: int,
                     support: Sequence[SentenceSupport]) -> None:
    """Mark, in the answer just rendered from start to the cursor, each sentence a cited source
    does not support ("not found in [n]" after its last mark, muted red, plain text) and each
    number in it no cited source holds (a dotted red underline, and "48 — not in the sources")."""
    document = cursor.document()
    end = cursor.position()
    last_mark: dict[int, int] = {}  # sentence -> where its last citation link ends
    block = document.findBlock(start)
    while block.isValid() and block.position() < end:
        iterator = block.begin()
        while not iterator.atEnd():
            fragment = iterator.fragment()
            match = _CITE_HREF.match(fragment.charFormat().anchorHref())
            if fragment.isValid() and match is not None and int(match.group(1)) == turn:
                sentence = int(match.group(2))
                last_mark[sentence] = max(last_mark.get(sentence, 0),
                                          fragment.position() + fragment.length())
            iterator += 1
        block = block.next()
    ends = sorted((pos, s) for s, pos in last_mark.items())
    notes: list[tuple[int, str]] = []
    previous = start
    for pos, s in ends:
        if s < len(support):
            missing = support[s].unsupported_numbers
            if missing:
                _underline_numbers(cursor, previous, pos, set(missing))
            parts = []
            if support[s].not_found_in:
                parts.append("not found in " + ", ".join(f"[{n}]" for n in
                                                         support[s].not_found_in))
            parts.extend(f"{number} — not in the sources" for number in missing)
            if parts:  # after the sentence's full stop where the mark stands before it
                after = pos
                while after < end and document.characterAt(after) in SENTENCE_END:
                    after += 1
                notes.append((after, " (" + "; ".join(parts) + ")"))
        previous = pos
    note_format = QTextCharFormat()
    note_format.setForeground(QColor(NOT_FOUND_COLOR))
    note_format.setFontItalic(True)
    note_format.setProperty(QTextFormat.Property.FontSizeAdjustment, -1)
    note_format.setToolTip("Nothing in the cited source says this: check it before you rely on "
                           "it.")
    for pos, note in reversed(notes):  # from the end, so the earlier positions stay right
        cursor.setPosition(pos)
        cursor.insertText(note, note_format)
    cursor.setPosition(end + sum(len(note) for _, note in notes))  # where the answer ends now


def _underline_numbers(cursor: QTextCursor, start: int, end: int, numbers: set[str]) -> None:
    cursor.setPosition(start)
    cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    text = cursor.selectedText()
    marked = QTextCharFormat()
    marked.setUnderlineStyle(QTextCharFormat.UnderlineStyle.DotLine)
    marked.setUnderlineColor(QColor(NOT_FOUND_COLOR))
    marked.setToolTip("This number is in none of the cited sources.")
    for match in _NUMBER_IN_TEXT.finditer(text):
        if match.group(0).replace(",", "").rstrip(".") in numbers:
            cursor.setPosition(start + match.start())
            cursor.setPosition(start + match.end(), QTextCursor.MoveMode.KeepAnchor)
            cursor.mergeCharFormat(marked)
