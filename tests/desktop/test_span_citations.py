"""Span-exact citations in the window (issue 17, item 1): a click on [n] highlights the passage
lightly and its supporting sentence strongly; hover shows that sentence; sentences and numbers
the sources do not hold are marked in the answer; kept conversations fall back to the passage."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QTextCharFormat, QTextCursor

from core.answer_types import Answer
from core.types import Rect
from desktop.main_window import MainWindow
from desktop.span_find import SpanCitation, find_all, fold
from tests.desktop.conftest import add_and_wait, ask_and_wait
from tests.fixtures.docs import make_markdown, make_report_pdf
from tests.ollama_server import FakeOllama

QUOTED = ("The brimblewick collecting box at the foot of the tower alone raised enough to pay "
          "for the new lantern glazing, and the committee has decided to keep it in place all "
          "winter.")
INVENTED = "The manufacturer was founded in Lisbon by two sisters."
NUMBER = "Donations from visitors reached 4817 pounds this year."
REPLY = f"{QUOTED[:-1]} [1]. {INVENTED[:-1]} [1]. {NUMBER} [1]"  # the last mark after the stop
QUESTION = "What did the brimblewick collecting box pay for?"


def ask_report(qtbot, window: MainWindow, docs_dir: Path, fake_ollama: FakeOllama) -> Answer:
    fake_ollama.reply = REPLY
    add_and_wait(qtbot, window, [make_report_pdf(docs_dir).path])
    answer = ask_and_wait(qtbot, window, QUESTION)
    assert "brimblewick" in answer.sources[0].hit.text
    assert len(answer.support) == 3
    return answer


def links(window: MainWindow) -> list[str]:
    return re.findall(r'href="(cite:[\d-]+)"', window.chat.transcript.toHtml())


def click(qtbot, window: MainWindow, link: str) -> None:
    with qtbot.waitSignal(window.citation_shown, timeout=10_000):
        window.chat._on_link(QUrl(link))


def within(inner: Rect, outer: Rect, slack: float = 1.0) -> bool:
    return (inner.page == outer.page and inner.x0 >= outer.x0 - slack
            and inner.x1 <= outer.x1 + slack and inner.y0 >= outer.y0 - slack
            and inner.y1 <= outer.y1 + slack)


def area(rects: list[Rect]) -> float:
    return sum((r.x1 - r.x0) * (r.y1 - r.y0) for r in rects)


def test_clicking_a_citation_highlights_its_supporting_sentence_within_the_passage(
        qtbot, open_window, docs_dir: Path, fake_ollama: FakeOllama) -> None:
    window = open_window(fake_ollama.host)
    answer = ask_report(qtbot, window, docs_dir, fake_ollama)
    first = answer.support[0]
    assert first.spans[0].supported and "brimblewick" in first.spans[0].text
    assert links(window)[:3] == ["cite:0-1-0", "cite:0-1-1", "cite:0-1-2"]

    shown: list[object] = []
    window.citation_shown.connect(shown.append)
    click(qtbot, window, "cite:0-1-0")
    assert isinstance(shown[-1], SpanCitation) and shown[-1].span == first.spans[0]
    view = window.viewer.pdf_view
    cited = answer.sources[0]
    assert window.viewer.current_page == cited.hit.page
    passage = list(view.highlights)
    strong = list(view.strong)
    assert passage and strong
    assert {r.page for r in strong} == {first.spans[0].page}
    assert all(any(within(s, p) for p in passage) for s in strong)  # inside the passage
    assert len(strong) < len(passage) or area(strong) < area(passage)
    assert len(strong) == 3  # the sentence's three lines (tests/fixtures/docs: _DONATIONS)

    def sentence_painted() -> bool:  # the strong orange fill, over the light passage
        image = view.viewport().grab().toImage()
        r = view.strong_viewport_rects()[1]
        color = image.pixelColor(int(r.left() + r.width() * 0.5), int(r.center().y()))
        return color.red() - color.blue() > 60
    qtbot.waitUntil(sentence_painted, timeout=5_000)

    # The same source cited by another sentence: that sentence's span, not the first's.
    click(qtbot, window, "cite:0-1-1")
    assert shown[-1].span == answer.support[1].spans[0]  # type: ignore[attr-defined]
    assert shown[-1].span != first.spans[0]  # type: ignore[attr-defined]


def test_hover_shows_the_supporting_sentence(qtbot, open_window, docs_dir: Path,
                                             fake_ollama: FakeOllama) -> None:
    window = open_window(fake_ollama.host)
    answer = ask_report(qtbot, window, docs_dir, fake_ollama)
    window.chat._on_hover(QUrl("cite:0-1-0"))
    assert window.chat.hovered == answer.citations[0]
    assert window.chat.hovered_span == answer.support[0].spans[0]
    from desktop.transcript import tooltip_html
    tip = tooltip_html(window.chat.hovered, False, window.chat.hovered_span)
    assert "brimblewick collecting box" in tip.split("</p>", 2)[1]  # before the passage
    tip = tooltip_html(window.chat.hovered, False, answer.support[1].spans[0])
    assert "Not found in [1]" in tip


def test_unsupported_sentences_and_numbers_are_marked(qtbot, open_window, docs_dir: Path,
                                                      fake_ollama: FakeOllama) -> None:
    window = open_window(fake_ollama.host)
    answer = ask_report(qtbot, window, docs_dir, fake_ollama)
    assert answer.support[1].not_found_in == (1,)
    assert answer.support[0].not_found_in == ()
    assert "4817" in answer.support[2].unsupported_numbers
    shown = window.chat.transcript.toPlainText()
    assert shown.count("not found in [1]") == 1 + ("not found in [1]" in shown.split("4817")[1])
    invented = shown.index("Lisbon by two sisters")
    assert shown.index("not found in [1]") > invented  # after the invented sentence
    assert shown.index("not found in [1]") < shown.index("Donations from visitors")
    assert "4817 — not in the sources" in shown
    assert "two sisters [1]. (not found in [1])" in shown  # after the sentence's full stop
    assert "(not found" not in shown.split("Lisbon")[0]  # the quoted sentence is not marked

    document = window.chat.transcript.document()
    at = document.toPlainText().index("4817")
    cursor = QTextCursor(document)
    cursor.setPosition(at + 2)
    assert cursor.charFormat().underlineStyle() is QTextCharFormat.UnderlineStyle.DotLine
    note = document.toPlainText().index("not found in [1]")
    cursor.setPosition(note + 3)
    assert not cursor.charFormat().isAnchor()  # plain text, not a link
    assert links(window)[:3] == ["cite:0-1-0", "cite:0-1-1", "cite:0-1-2"]  # marks still link


def test_extractive_answers_are_not_marked(qtbot, open_window, docs_dir: Path) -> None:
    window = open_window()  # no Ollama: the answer quotes the sources
    add_and_wait(qtbot, window, [make_report_pdf(docs_dir).path])
    answer = ask_and_wait(qtbot, window, QUESTION)
    assert answer.support == ()
    shown = window.chat.transcript.toPlainText()
    assert "not found in" not in shown and "not in the sources" not in shown
    click(qtbot, window, f"cite:0-{answer.citations[0].n}")
    assert window.viewer.pdf_view.highlights and window.viewer.pdf_view.strong == []


def test_a_reopened_conversation_keeps_its_support(
        qtbot, open_window, docs_dir: Path, fake_ollama: FakeOllama) -> None:
    """The support is kept with the turn: reopened, the answer shows the same marks and a
    citation lights up the same sentence."""
    window = open_window(fake_ollama.host)
    answer = ask_report(qtbot, window, docs_dir, fake_ollama)
    assert answer.conversation_id is not None
    fresh = window.chat.transcript.toPlainText()
    window.chat.show_conversation(None, [])
    window.asking.open_conversation(answer.conversation_id)
    qtbot.waitUntil(lambda: len(window.chat.turns) == 1, timeout=10_000)
    assert window.chat.turns[0].support == answer.support
    shown = window.chat.transcript.toPlainText()
    assert "not found in [1]" in shown and "not found in [1]" in fresh
    shown_citations: list[object] = []
    window.citation_shown.connect(shown_citations.append)
    assert window.chat.click_citation(1, 0)
    qtbot.waitUntil(lambda: bool(shown_citations), timeout=10_000)
    assert isinstance(shown_citations[0], SpanCitation)
    view = window.viewer.pdf_view
    assert view.highlights == list(answer.citations[0].rects) and view.strong


def test_a_text_document_selects_the_supporting_sentence(
        qtbot, open_window, docs_dir: Path, fake_ollama: FakeOllama) -> None:
    fake_ollama.reply = ("Visitors should ask at the office before taking a mooring, because "
                         "several of the buoys are private [1].")
    window = open_window(fake_ollama.host)
    add_and_wait(qtbot, window, [make_markdown(docs_dir)])
    answer = ask_and_wait(qtbot, window, "Should visitors ask before taking a mooring?")
    assert answer.support and answer.support[0].spans[0].supported
    click(qtbot, window, "cite:0-1-0")
    viewer = window.viewer
    assert viewer.stack.currentWidget() is viewer.text_view
    selected = " ".join(viewer.text_view.textCursor().selectedText().split())
    assert selected.startswith("Visitors should ask at the office")
    assert "owners return without warning" in selected
    assert len(viewer.text_view.extraSelections()) == 2  # the passage, and its sentence


def test_find_all_folds_line_breaks_hyphens_and_finds_a_sentence_by_its_ends() -> None:
    page = "The lantern was\r\nre-glazed in the spring, and the main-\r\ntenance crew left."
    [(start, end)] = find_all(page, "The lantern was re-glazed in the spring, and the "
                                    "maintenance crew left.")
    assert page[start:end].startswith("The lantern") and page[start:end].endswith("left.")
    # A sentence the PDF's text breaks with a footnote mark is found by its first and last words.
    page = "The gifts of visitors rose sharply³ over the year, said the treasurer in her speech."
    [(start, end)] = find_all(page, "The gifts of visitors rose sharply over the year, said the "
                                    "treasurer in her speech.")
    assert page[start:end] == page
    assert fold("ﬁne  LINE")[0] == "fine line"
    assert find_all("nothing like it", "The manufacturer was founded in Lisbon") == []
