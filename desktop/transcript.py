"""The conversation as the question panel draws it: questions, answers, sources, action links.

TurnView is one turn's state; Transcript renders the turns (the last alone while it streams),
citations linked (citation_links) and what the sources do not support marked (support_marks);
tooltip_html is a citation's hover text."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QTextBlockFormat, QTextCharFormat, QTextCursor, QTextDocument
from PySide6.QtWidgets import QTextBrowser, QWidget

from core.answer_types import AnswerMode, Citation, SentenceSupport, Span, Turn
from desktop.citation_links import link_citations, mark_sentences
from desktop.support_marks import NOT_FOUND_COLOR, annotate_support

MARKDOWN = (QTextDocument.MarkdownFeature.MarkdownDialectGitHub
            | QTextDocument.MarkdownFeature.MarkdownNoHTML)  # model output is untrusted
TOOLTIP_CHARS = 600
TOOLTIP_REST_CHARS = 240  # of the passage, under its supporting sentence
# How a source was found, as a person reads it ("outline": a whole-document answer, which
# walks every section of the document: core/overview.py).
FOUND_BY = {"both": "keywords and meaning", "outline": "reading every section"}
INTRO = ("Ask a question about your documents (Ctrl+L). Every answer cites the passages it "
         "used: click a citation to see it in the document, hover over it to read the passage.")
REMOVED = "document removed"


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

    def span(self, n: int, sentence: int | None) -> Span | None:
        """The sentence of source n that supports answer sentence (an index into support)."""
        if sentence is None or not 0 <= sentence < len(self.support):
            return None
        return next((s for s in self.support[sentence].spans if s.n == n), None)

    def first_sentence_citing(self, n: int) -> int | None:
        """The first answer sentence (an index into support) that cites source n."""
        return next((i for i, s in enumerate(self.support) if any(span.n == n for span in s.spans)),
                    None)


class Transcript(QTextBrowser):
    """The conversation. Loads nothing by itself: no images, no files, no links followed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setAcceptDrops(False)
        self._last_turn_start = 0

    def loadResource(self, _type: int, _name: QUrl | str) -> Any:
        return None  # an answer could name file:///... as an image; never read it

    def render_all(self, turns: Sequence[TurnView], removed: Callable[[Citation], bool],
                   actions: Callable[[int], bool]) -> None:
        """Show turns (the introduction without any): removed tells a citation of a document
        no longer in the library, actions whether turn index (from 0) has its action links."""
        self.clear()
        cursor = QTextCursor(self.document())
        if not turns:
            cursor.insertHtml(f"<p style='color:gray'>{INTRO}</p>")
            return
        for index, turn in enumerate(turns):
            if index == len(turns) - 1:
                self._last_turn_start = cursor.position()
            render_turn(cursor, index, turn, removed, actions(index))
        self.scroll_to_end()

    def render_last(self, turns: Sequence[TurnView], removed: Callable[[Citation], bool],
                    actions: Callable[[int], bool]) -> None:
        """Re-render only the last turn: cheap enough to do while tokens stream in."""
        if not turns:
            return
        bar = self.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 4
        cursor = QTextCursor(self.document())
        cursor.setPosition(self._last_turn_start)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        render_turn(cursor, len(turns) - 1, turns[-1], removed, actions(len(turns) - 1))
        if at_end:
            self.scroll_to_end()

    def scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())


def render_turn(cursor: QTextCursor, index: int, turn: TurnView,
                removed: Callable[[Citation], bool], actions: bool) -> None:
    """Insert turn index (from 0) at cursor: the question, the answer, its status or notice,
    its sources, and (with actions) its action links."""
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
        gone = {n for n, c in turn.citations.items() if removed(c)}
        sentences = mark_sentences(turn.text, turn.support)
        start = cursor.position()
        cursor.insertMarkdown(link_citations(turn.text, index, set(turn.citations), gone,
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
                cursor.insertHtml(source_line(index, cited, removed(cited)))
    if actions:
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

