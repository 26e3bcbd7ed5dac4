"""The settings dialog's control of prompt-sources (what each source in the prompt carries)."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from core.library import Library
from tests.desktop.conftest import STARTUP_TIMEOUT_MS, WindowFactory, set_library_setting


def _prompt_sources(root: Path) -> str:
    with Library.open(root) as library:  # as `folio config prompt-sources` reads it
        return library.settings()["prompt-sources"]


def test_the_dialog_shows_and_saves_prompt_sources(qtbot: QtBot, open_window: WindowFactory,
                                                   folio_home: Path) -> None:
    set_library_setting(folio_home, "prompt-sources", "brief")  # `folio config prompt-sources brief`
    window = open_window()
    qtbot.waitUntil(lambda: window.library_settings.values is not None,
                    timeout=STARTUP_TIMEOUT_MS)
    dialog = window.open_settings()
    assert dialog.prompt_sources.currentData() == "brief"
    assert dialog.prompt_sources.currentText().startswith("Evidence brief")
    dialog.prompt_sources.setCurrentIndex(dialog.prompt_sources.findData("passages"))
    dialog.accept()
    qtbot.waitUntil(lambda: _prompt_sources(folio_home) == "passages", timeout=STARTUP_TIMEOUT_MS)
    reopened = window.open_settings()
    assert reopened.prompt_sources.currentData() == "passages"
    reopened.reject()
