"""The window's first moments: one state at a time (issue 18, bug 5)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from core.library import Library
from core.paths import default_library_dir
from core.types import AddStatus
from desktop.app import make_window
from desktop.main_window import MainWindow
from tests.desktop.conftest import INGEST_TIMEOUT_MS, STARTUP_TIMEOUT_MS, set_library_setting
from tests.fixtures.docs import make_markdown
from tests.ollama_server import refused_host


def _window(qtbot: QtBot, settings_file: Path) -> MainWindow:
    """The window as `folio` starts it: shown, then the first-start guide asked for."""
    set_library_setting(default_library_dir(), "ollama-host", refused_host())
    settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
    window = make_window(settings)
    qtbot.addWidget(window)
    window.show()
    window.add_sample()  # what desktop.app.run does at every start
    return window


def test_a_library_with_documents_never_shows_empty_or_adding_the_guide(
        qtbot: QtBot, settings_file: Path, folio_home: Path, docs_dir: Path) -> None:
    with Library.open(folio_home) as library:  # documents, and the guide never added
        other = docs_dir / "tides.md"
        other.write_text("# Tide tables\n\nHigh water at the pier is an hour after the harbour.",
                         encoding="utf-8")
        library.add([make_markdown(docs_dir), other])
    shown: list[int] = []
    window = _window(qtbot, settings_file)
    panel = window.library_panel
    panel.stack.currentChanged.connect(shown.append)
    assert panel.stack.currentWidget() is not panel.empty  # "Your library is empty…"
    assert panel.progress_box.isHidden()  # "Adding the Folio guide…"
    assert window.statusBar().currentMessage() != "Ready"
    assert panel.stack.currentWidget() is panel.opening
    with qtbot.waitSignal(window.documents_loaded, timeout=STARTUP_TIMEOUT_MS):
        pass
    assert panel.stack.currentWidget() is panel.tree and len(shown) == 1
    qtbot.wait(300)
    assert panel.progress_box.isHidden() and window.ingest.running == []
    assert window.statusBar().currentMessage() == "Ready"
    with Library.open(folio_home) as library:
        assert len(library.documents()) == 2  # the guide was not added to a library in use


def test_a_really_empty_library_gets_the_guide(qtbot: QtBot, settings_file: Path,
                                               folio_home: Path) -> None:
    window = _window(qtbot, settings_file)
    panel = window.library_panel
    with qtbot.waitSignal(window.ingest_finished, timeout=INGEST_TIMEOUT_MS) as finished:
        # While the guide is added: that is said, not "Your library is empty" beside it.
        qtbot.waitUntil(lambda: panel.progress_box.isVisible(), timeout=INGEST_TIMEOUT_MS)
        assert panel.stack.currentWidget() is panel.opening
        assert "Adding the Folio guide" in panel.opening.text()
        assert window.statusBar().currentMessage() != "Ready"
    assert [o.status for o in finished.args[0]] == [AddStatus.ADDED]
    qtbot.waitUntil(lambda: panel.stack.currentWidget() is panel.tree, timeout=STARTUP_TIMEOUT_MS)
    assert [d.title for d in window.documents] == ["Folio user guide"]
