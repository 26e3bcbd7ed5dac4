"""Picking an embedding model that cannot be loaded says why in the settings dialog, at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import STARTUP_TIMEOUT_MS, WindowFactory
from tests.ollama_server import refused_host

MODEL = "BAAI/bge-small-en-v1.5"


def test_a_model_that_cannot_be_downloaded_is_refused_where_it_was_chosen(
        qtbot: QtBot, open_window: WindowFactory, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 18, bug 8: 40 s of "Loading…", then the error only in the status bar.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # not the user's models
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", refused_host())  # the hub really refuses
    window = open_window()
    dialog = window.open_settings()
    qtbot.waitUntil(lambda: dialog.embedding.findData(MODEL) >= 0, timeout=STARTUP_TIMEOUT_MS)
    current = dialog.embedding.currentIndex()

    dialog.embedding.setCurrentIndex(dialog.embedding.findData(MODEL))
    assert dialog.embedding_problem.text() == f"Checking that {MODEL} can be loaded…"
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)  # before the answer
    assert not dialog.ok_button.isEnabled()
    qtbot.waitUntil(lambda: "cannot be downloaded now" in dialog.embedding_problem.text(),
                    timeout=10_000)
    assert dialog.embedding_problem.text() == (
        f"'{MODEL}' is not on this computer yet (a 67 MB download) and cannot be downloaded "
        "now: 127.0.0.1 refused the connection. Connect to the internet and choose it again; "
        "the library keeps its current model.")
    assert dialog.isVisible() and dialog.embedding_problem.isVisible()
    assert dialog.ok_button.isEnabled()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)  # still refused, no question
    assert dialog.isVisible()
    # No "Loading…" (a write) was started; a reader may still be listing Ollama's models.
    assert not window.ingest.running

    dialog.embedding.setCurrentIndex(current)  # back to the library's model: nothing to say
    assert not dialog.embedding_problem.isVisible()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
