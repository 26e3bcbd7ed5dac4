"""Asking: streaming from the fake Ollama, the extractive answer, citations into the viewer."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices

from core.answer_types import Answer, AnswerMode, Citation
from core.types import Rect
from tests.desktop.conftest import ANSWER_TIMEOUT_MS, add_and_wait, ask_and_wait
from tests.fixtures.docs import make_markdown, make_report_pdf
from tests.ollama_server import FakeOllama, Fault


def test_answer_streams_into_the_panel_in_order(qtbot, open_window, docs_dir: Path,
                                                fake_ollama: FakeOllama) -> None:
    fake_ollama.set_fault(Fault.SLOW_TOKENS)
    fake_ollama.token_delay = 0.01
    window = open_window(fake_ollama.host)
    assert "llama3.2:3b" in window.chat.status_label.text()  # connected, with the model
    report = make_report_pdf(docs_dir)
    add_and_wait(qtbot, window, [report.path])

    tokens: list[str] = []
    partial: list[str] = []
    original = window.chat.append_token

    def record(text: str) -> None:
        tokens.append(text)
        original(text)
        partial.append(window.chat.turns[-1].text)

    window.chat.append_token = record
    answer = ask_and_wait(qtbot, window, "What did the zorbicon survey find?")

    assert answer.mode is AnswerMode.GENERATED and answer.complete
    assert len(tokens) > 3
    assert "".join(tokens) == answer.text  # every token, in order
    assert partial[0] == tokens[0] and partial[-1] == answer.text
    shown = window.chat.transcript.toPlainText()
    assert "What did the zorbicon survey find?" in shown
    assert answer.text.split(" [")[0][:40] in shown
    assert answer.citations and "Sources" in shown
    assert f"[1] {report.title}" in shown
    assert "found by" in shown
    assert window.chat.stop_button.isHidden()


def test_without_ollama_the_answer_is_extractive_and_says_so(
        qtbot, open_window, docs_dir: Path) -> None:
    window = open_window()  # a host where nothing listens
    assert "not running" in window.chat.status_label.text()
    add_and_wait(qtbot, window, [make_report_pdf(docs_dir).path])
    answer = ask_and_wait(qtbot, window, "What did the zorbicon survey find?")
    assert answer.mode is AnswerMode.EXTRACTIVE
    assert answer.notice
    shown = window.chat.transcript.toPlainText()
    assert "no language model wrote this" in shown
    assert answer.notice in shown


def test_clicking_a_citation_shows_its_page_with_the_passage_highlighted(
        qtbot, open_window, docs_dir: Path, fake_ollama: FakeOllama) -> None:
    window = open_window(fake_ollama.host)
    report = make_report_pdf(docs_dir)
    add_and_wait(qtbot, window, [report.path])
    answer = ask_and_wait(qtbot, window, "What did the brimblewick collecting box pay for?")
    cited = answer.citations[0]
    assert cited.rects

    with qtbot.waitSignal(window.citation_shown, timeout=10_000):
        window.chat._on_link(QUrl(f"cite:0-{cited.n}"))  # what a click on [n] does

    viewer = window.viewer
    assert viewer.stack.currentWidget() is viewer.pdf_view
    assert viewer.title_label.text() == report.title
    assert viewer.current_page == cited.page
    assert viewer.pdf_view.highlights == list(cited.rects)
    drawn = viewer.pdf_view.highlight_viewport_rects()
    area = viewer.pdf_view.viewport().rect()
    on_page = [r for r, rect in zip(drawn, cited.rects, strict=True) if rect.page == cited.page]
    assert on_page and all(area.intersects(r.toRect()) for r in on_page)  # scrolled to it

    def highlight_painted() -> bool:
        image = viewer.pdf_view.viewport().grab().toImage()
        r = on_page[0]
        colors = [image.pixelColor(int(r.left() + r.width() * f), int(r.center().y()))
                  for f in (0.1, 0.3, 0.5, 0.7, 0.9)]
        # The translucent yellow fill: red well above blue, on paper (white) and ink (black).
        return all(c.red() - c.blue() > 60 for c in colors)
    qtbot.waitUntil(highlight_painted, timeout=5_000)


def test_citation_of_a_text_document_selects_the_passage(
        qtbot, open_window, docs_dir: Path) -> None:
    window = open_window()
    add_and_wait(qtbot, window, [make_markdown(docs_dir)])
    answer = ask_and_wait(qtbot, window, "Which side do red buoys mark?")
    cited = answer.citations[0]
    with qtbot.waitSignal(window.citation_shown, timeout=10_000):
        window.chat.click_citation(cited.n)
    viewer = window.viewer
    assert viewer.stack.currentWidget() is viewer.text_view
    selected = viewer.text_view.textCursor().selectedText().replace("\u2029", "\n")
    assert selected and selected.split()[:5] == cited.text.split()[:5]
    assert viewer.text_view.extraSelections()


def test_model_output_is_escaped_and_only_safe_links_act(qtbot, open_window,
                                                         monkeypatch) -> None:
    window = open_window()
    chat = window.chat
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()))
    citation = Citation(1, 7, 3, "Tide Tables", 12, "xii", "The tide turns at noon.",
                        (Rect(12, 10, 10, 100, 20),), "both")
    chat.begin_answer("q")
    chat.append_token("<b>bold</b> <img src='file:///etc/passwd'> [x](file:///etc/passwd) "
                      "[site](https://example.org) says so [1].")
    chat.turns[-1].citations = {1: citation}
    chat._render_last()
    rendered = chat.transcript.toHtml()
    assert "&lt;b&gt;bold&lt;/b&gt;" in rendered and "<img" not in rendered
    clicked: list[Citation] = []
    chat.citation_clicked.connect(clicked.append)
    chat.set_present_documents({3})  # the cited document is in the library (else: "removed")
    for link in ("file:///etc/passwd", "javascript:alert(1)", "https://example.org", "cite:0-1",
                 "cite:0-9"):
        chat._on_link(QUrl(link))
    assert opened == ["https://example.org"]
    assert clicked == [citation]
    chat._on_hover(QUrl("cite:0-1"))
    assert chat.hovered == citation


def test_escape_stops_the_answer(qtbot, open_window, docs_dir: Path,
                                 fake_ollama: FakeOllama) -> None:
    fake_ollama.set_fault(Fault.SLOW_TOKENS)
    fake_ollama.token_delay = 0.3
    window = open_window(fake_ollama.host)
    add_and_wait(qtbot, window, [make_report_pdf(docs_dir).path])
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_TIMEOUT_MS) as blocker:
        window.chat.input.setPlainText("What did the zorbicon survey find?")
        window.chat._on_submit()
        qtbot.waitUntil(lambda: bool(window.chat.turns[-1].text), timeout=ANSWER_TIMEOUT_MS)
        assert window.chat.stop_button.isVisible()
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    answer = blocker.args[0]
    assert isinstance(answer, Answer) and not answer.complete
    assert window.chat.ask_button.isVisible()
