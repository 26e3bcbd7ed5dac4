"""Desktop tests: the real window, offscreen, with a tmp library, tmp QSettings and a fake Ollama."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent

from core.answer_types import Answer
from core.library import Library
from core.paths import default_library_dir
from desktop.app import make_window
from desktop.main_window import MainWindow
from desktop.qt_workarounds import keep_booleans_alive
from tests.ollama_server import refused_host

# What make_app does before its QApplication; pytest-qt makes its own (desktop/qt_workarounds.py).
keep_booleans_alive()

STARTUP_TIMEOUT_MS = 15_000
INGEST_TIMEOUT_MS = 60_000


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "settings" / "folio.ini"


WindowFactory = Callable[..., MainWindow]


def set_library_setting(root: Path, name: str, value: str) -> None:
    """Change a library setting from outside the app, as the CLI does."""
    with Library.open(root) as library:
        library.set_setting(name, value)


@pytest.fixture
def open_window(qtbot, settings_file: Path) -> WindowFactory:
    """Open the real window on the test's library (FOLIO_HOME); `ollama_host` is set in the
    library first, as `folio config ollama-host` does."""
    def factory(ollama_host: str | None = None) -> MainWindow:
        set_library_setting(default_library_dir(), "ollama-host", ollama_host or refused_host())
        settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
        window = make_window(settings)
        qtbot.addWidget(window)  # closed (and its workers stopped) at the end of the test
        with qtbot.waitSignals([window.documents_loaded, window.ollama_checked],
                               timeout=STARTUP_TIMEOUT_MS):
            window.show()
        return window
    return factory


def drop(window: MainWindow, paths: Sequence[Path]) -> None:
    """Drop file URLs on the window the way a file manager does (napari's test style)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(QPoint(400, 300)), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert event.isAccepted()


def add_and_wait(qtbot, window: MainWindow, paths: Sequence[Path]) -> list:
    with qtbot.waitSignal(window.ingest_finished, timeout=INGEST_TIMEOUT_MS) as blocker:
        drop(window, paths)
    with qtbot.waitSignal(window.documents_loaded, timeout=STARTUP_TIMEOUT_MS):
        window.refresh_documents()
    return list(blocker.args[0])


ANSWER_TIMEOUT_MS = 30_000


def ask_and_wait(qtbot, window: MainWindow, question: str) -> Answer:
    """Ask question in the window's panel, as a person types it, and wait for the answer."""
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_TIMEOUT_MS) as blocker:
        window.chat.input.setPlainText(question)
        window.chat._on_submit()
    answer = blocker.args[0]
    assert isinstance(answer, Answer), answer
    return answer
