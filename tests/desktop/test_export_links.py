"""Answers to take away: the actions under an answer, Markdown to copy or save, folio:// links."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl

from tests.desktop.conftest import add_and_wait, ask_and_wait
from tests.fixtures.docs import make_report_pdf


def test_this_is_wrong_asks_for_a_diagnosis_of_that_turn(qtbot, open_window,
                                                         docs_dir: Path) -> None:
    window = open_window()  # no Ollama: extractive answers have the action too
    add_and_wait(qtbot, window, [make_report_pdf(docs_dir).path])
    ask_and_wait(qtbot, window, "What did the zorbicon survey find?")
    ask_and_wait(qtbot, window, "Who ran the zorbicon survey?")
    chat = window.chat
    assert chat.conversation_id is not None
    assert chat.transcript.toPlainText().count("This is wrong…") == 2
    with qtbot.waitSignal(chat.diagnose_requested) as blocker:
        assert chat.trigger_action("diagnose", 1)
    assert blocker.args == [chat.conversation_id, 2]  # turns numbered from 1
    with qtbot.waitSignal(chat.diagnose_requested) as blocker:
        chat._on_link(QUrl("action:diagnose-0"))  # the link under the first answer
    assert blocker.args == [chat.conversation_id, 1]
