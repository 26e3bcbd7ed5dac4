"""The settings dialog says how many sources the model is sent: answer-sources passages, or
twice that many evidence briefs (core/prompt.py sources_wanted)."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from tests.desktop.conftest import STARTUP_TIMEOUT_MS, WindowFactory, set_library_setting


def test_the_dialog_shows_the_sources_sent_beside_sources_per_answer(
        qtbot: QtBot, open_window: WindowFactory, folio_home: Path) -> None:
    set_library_setting(folio_home, "answer-sources", "6")
    set_library_setting(folio_home, "prompt-sources", "brief")
    window = open_window()
    qtbot.waitUntil(lambda: window.library_settings.values is not None,
                    timeout=STARTUP_TIMEOUT_MS)
    dialog = window.open_settings()
    qtbot.waitUntil(lambda: dialog.sources.isEnabled(), timeout=STARTUP_TIMEOUT_MS)
    assert dialog.sources.value() == 6
    assert dialog.sources_sent.text() == "12 evidence briefs sent"
    dialog.prompt_sources.setCurrentIndex(dialog.prompt_sources.findData("passages"))
    assert dialog.sources_sent.text() == "6 passages sent"
    dialog.sources.setValue(1)
    assert dialog.sources_sent.text() == "1 passage sent"
    dialog.reject()
