"""One settings store: the library's settings are the app's, the window's layout is QSettings'."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from core.library import Library
from desktop.app import make_window
from desktop.settings_dialog import AUTOMATIC_MODEL
from tests.desktop.conftest import (
    STARTUP_TIMEOUT_MS,
    WindowFactory,
    add_and_wait,
    ask_and_wait,
    set_library_setting,
)
from tests.desktop.helpers import make_long_pdf
from tests.ollama_server import FakeOllama, parse_sources


def _library_settings(root: Path) -> dict[str, str]:
    with Library.open(root) as library:  # as `folio config` reads them
        return library.settings()


def test_settings_survive_a_restart(qtbot: QtBot, open_window: WindowFactory,
                                    tmp_path: Path, settings_file: Path) -> None:
    window = open_window()
    dialog = window.open_settings()
    other_library = tmp_path / "other-library"
    dialog.library.setText(str(other_library))
    dialog.host.setText("http://127.0.0.1:1")
    dialog.model.setEditText("qwen2.5:7b")
    dialog.sources.setValue(9)
    assert dialog.model.itemText(0) == AUTOMATIC_MODEL
    dialog.accept()
    qtbot.waitUntil(lambda: getattr(window.library_settings.values, "sources", 0) == 9,
                    timeout=STARTUP_TIMEOUT_MS)
    assert window.library_root == other_library
    window.resize(760, 540)  # inside the offscreen screen (800 x 600), or it is clamped
    window.splitter.setSizes([150, 330, 270])
    sizes = window.splitter.sizes()
    size = window.size()
    window.close()

    # The values went into the library now in use, where the CLI reads them too; QSettings
    # keeps only the folder and the layout.
    kept = _library_settings(other_library)
    assert (kept["ollama-host"], kept["ollama-model"], kept["answer-sources"]) == (
        "http://127.0.0.1:1", "qwen2.5:7b", "9")
    stored = QSettings(str(settings_file), QSettings.Format.IniFormat)
    assert not [k for k in stored.allKeys() if k.startswith(("ollama/", "answer/"))]

    again = open_window(ollama_host="http://127.0.0.1:1")
    assert again.library_root == other_library
    assert again.size() == size
    assert again.splitter.sizes() == sizes
    reopened = again.open_settings()
    qtbot.waitUntil(lambda: reopened.sources.isEnabled(), timeout=STARTUP_TIMEOUT_MS)
    assert reopened.library.text() == str(other_library)
    assert reopened.model.currentText() == "qwen2.5:7b"
    assert reopened.sources.value() == 9
    reopened.reject()


def test_the_dialog_shows_and_saves_the_librarys_values(
        qtbot: QtBot, open_window: WindowFactory, folio_home: Path) -> None:
    set_library_setting(folio_home, "answer-sources", "4")
    set_library_setting(folio_home, "ollama-model", "mistral:7b")
    window = open_window()
    qtbot.waitUntil(lambda: window.library_settings.values is not None,
                    timeout=STARTUP_TIMEOUT_MS)
    dialog = window.open_settings()
    assert dialog.sources.value() == 4
    assert dialog.model.currentText() == "mistral:7b"
    dialog.sources.setValue(11)
    dialog.accept()
    qtbot.waitUntil(lambda: _library_settings(folio_home)["answer-sources"] == "11",
                    timeout=STARTUP_TIMEOUT_MS)
    assert _library_settings(folio_home)["ollama-model"] == "mistral:7b"  # untouched
    assert window.open_settings().sources.value() == 11


def test_a_setting_changed_outside_reaches_the_app(
        qtbot: QtBot, open_window: WindowFactory, docs_dir: Path, folio_home: Path,
        fake_ollama: FakeOllama) -> None:
    set_library_setting(folio_home, "prompt-sources", "passages")  # a source per answer-source
    window = open_window(fake_ollama.host)
    add_and_wait(qtbot, window, [make_long_pdf(docs_dir, 6)])
    assert len(ask_and_wait(qtbot, window, "When was the lamp trimmed?").sources) == 6

    set_library_setting(folio_home, "answer-sources", "3")  # `folio config answer-sources 3`
    answer = ask_and_wait(qtbot, window, "How often did the fog signal sound?")
    assert len(answer.sources) == 3
    prompt = "\n".join(m["content"] for m in fake_ollama.requests_to("/api/chat")[-1]["messages"])
    assert len(parse_sources(prompt)) == 3  # what the model was given
    # The open dialog's values follow too (the watcher saw the change).
    qtbot.waitUntil(lambda: window.open_settings().sources.value() == 3,
                    timeout=STARTUP_TIMEOUT_MS)


def test_an_older_folios_settings_move_into_the_library_once(
        qtbot: QtBot, settings_file: Path, folio_home: Path, fake_ollama: FakeOllama) -> None:
    set_library_setting(folio_home, "ollama-model", "mine:1b")  # already set in the library
    settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
    settings.setValue("ollama/host", fake_ollama.host)
    settings.setValue("ollama/model", "theirs:1b")
    settings.setValue("answer/sources", 4)
    settings.sync()
    window = make_window(settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.ollama_checked, timeout=STARTUP_TIMEOUT_MS,
                          check_params_cb=lambda status: status.reachable):
        window.show()
    kept = _library_settings(folio_home)
    assert kept["ollama-host"] == fake_ollama.host
    assert kept["answer-sources"] == "4"
    assert kept["ollama-model"] == "mine:1b"  # the library's own value wins
    assert not [k for k in settings.allKeys() if k.startswith(("ollama/", "answer/"))]


# The dialog says how many sources the model is sent: answer-sources passages, or twice that
# many evidence briefs (core/prompt.py sources_wanted).
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
