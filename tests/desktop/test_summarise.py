"""Summarise in the app: the library panel's action walks the document section by section with
its progress in the question panel, Stop keeps only whole sections, the next run goes on, the
one after is instant, and a citation opens its section's page."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from pytestqt.qtbot import QtBot

from core.answer_types import Answer, AnswerMode
from core.library import Library
from core.paths import default_library_dir
from core.store import summaries
from desktop.citation_links import mark_sentences
from desktop.main_window import MainWindow
from tests.core.test_overview import Chapter, Recorder, chapter_of, survey_pdf
from tests.desktop.conftest import ANSWER_TIMEOUT_MS, WindowFactory, add_and_wait
from tests.ollama_server import FakeOllama, Fault


def _summarise_action(window: MainWindow, doc_id: int) -> QAction:
    window.library_panel.select([doc_id])
    menu = window.library_panel.context_menu()
    assert menu is not None
    return next(a for a in menu.actions() if a.text() == "Summarise")


def _kinds(doc_id: int) -> list[str]:
    with Library.open(default_library_dir()) as library:
        return [s.kind for s in summaries.of_document(library.db, doc_id)]


def test_summarise_shows_progress_stops_and_is_instant_the_second_time(
        qtbot: QtBot, open_window: WindowFactory, docs_dir: Path,
        fake_ollama: FakeOllama) -> None:
    fake_ollama.set_fault(Fault.SLOW_TOKENS)  # each section takes a moment: progress shows
    fake_ollama.token_delay = 0.03
    window = open_window(fake_ollama.host)
    chapters: list[Chapter] = survey_pdf(docs_dir / "survey.pdf")
    outcome, = add_and_wait(qtbot, window, [docs_dir / "survey.pdf"])
    doc_id = outcome.document_id
    chat = window.chat
    recorder = Recorder([])
    fake_ollama.responder = recorder

    # Stop while section 3 is being summarised: the two sections done are kept, nothing else.
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_TIMEOUT_MS) as stopped:
        _summarise_action(window, doc_id).trigger()
        qtbot.waitUntil(lambda: "Summarising: section 3 of 10" in chat.transcript.toPlainText(),
                        timeout=ANSWER_TIMEOUT_MS)
        assert chat.scope_chip.isVisible() and chat.stop_button.isVisible()
        chat.stop_button.click()
    answer = stopped.args[0]
    assert isinstance(answer, Answer) and not answer.complete
    assert "Stopped after 2 of 10 sections" in chat.transcript.toPlainText()
    assert chat.stop_button.isHidden()
    assert "document" not in _kinds(doc_id) and _kinds(doc_id).count("section") == 2
    fake_ollama.set_fault(Fault.NONE)  # the rest at full speed

    # Again: from section 3 on, to the end, every chapter cited on its pages.
    recorder.sections.clear()
    shown: list[str] = []
    original = chat.show_progress

    def record(message: str) -> None:
        shown.append(message)
        original(message)

    chat.show_progress = record  # type: ignore[method-assign]
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_TIMEOUT_MS) as finished:
        _summarise_action(window, doc_id).trigger()
    answer = finished.args[0]
    assert isinstance(answer, Answer) and answer.complete
    assert answer.mode is AnswerMode.GENERATED
    assert recorder.sections == [c.heading for c in chapters[2:]]
    assert [m for m in shown if m.startswith("Summarising")] == [
        f"Summarising: section {i} of 10" for i in range(3, 11)]
    assert {chapter_of(c.page, chapters).heading for c in answer.citations} == {
        c.heading for c in chapters}
    text = chat.transcript.toPlainText()
    assert chapters[6].fact in text and "found by reading every section" in text
    assert "not found in" not in text
    marks = mark_sentences(answer.text, answer.support)  # each line's mark: its own sentence
    assert marks == list(range(10))
    assert "document" in _kinds(doc_id)

    # The third time is instant: the model is not asked, nothing is summarised.
    asked = len(fake_ollama.chat_requests)
    shown.clear()
    with qtbot.waitSignal(window.answer_finished, timeout=10_000) as again:
        _summarise_action(window, doc_id).trigger()
    assert isinstance(again.args[0], Answer) and again.args[0].text == answer.text
    assert len(fake_ollama.chat_requests) == asked
    assert not [m for m in shown if m.startswith("Summarising")]

    # A citation of chapter 7 opens the viewer at that chapter's page.
    cited = next(c for c in answer.citations if chapters[6].fact in c.text)
    with qtbot.waitSignal(window.citation_shown, timeout=10_000):
        assert chat.click_citation(cited.n)
    assert chapters[6].first_page <= window.viewer.current_page <= chapters[6].last_page
    assert window.viewer.current_page == cited.page
