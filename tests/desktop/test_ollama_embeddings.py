"""Embedding models from the library's Ollama in the settings dialog (issue 15, items 1-2).

The real window, a real library and the fake Ollama: the dialog lists the host's installed
embedding models, pulls one, switches to one (re-embedding on the writer), and says in the
dialog why one cannot be used; with Ollama gone, answers and adds say so.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from core.embedding import BUNDLED_MODEL
from core.library import Library
from desktop.embedding_models import label_of, ollama_options, pullable
from desktop.main_window import MainWindow
from desktop.settings_dialog import SettingsDialog
from tests.desktop.conftest import (
    INGEST_TIMEOUT_MS,
    STARTUP_TIMEOUT_MS,
    WindowFactory,
    add_and_wait,
    ask_and_wait,
)
from tests.ollama_server import FakeOllama

NOMIC = "ollama:nomic-embed-text"
NOTES = {
    "bees.txt": "Honey bees pollinate clover and orchards; a hive keeps its queen warm in winter.",
    "rust.txt": "Iron rusts when water and oxygen reach the bare metal of a bridge.",
}


def _model_of(root: Path) -> str:
    with Library.open(root) as library:  # as `folio config embedding-model` reads it
        return library.embedding_model


def _notes(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "notes"
    folder.mkdir()
    paths = []
    for name, text in NOTES.items():
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(folder / name)
    return paths


def _dialog_with_ollama(qtbot: QtBot, window: MainWindow, model: str) -> SettingsDialog:
    dialog = window.open_settings()
    qtbot.waitUntil(lambda: dialog.embedding.findData(model) >= 0, timeout=STARTUP_TIMEOUT_MS)
    qtbot.waitUntil(dialog.embedding.isEnabled, timeout=STARTUP_TIMEOUT_MS)
    return dialog


def _pick(qtbot: QtBot, dialog: SettingsDialog, model: str) -> None:
    """Pick model and wait for the dialog's check of it."""
    dialog.select_embedding_model(model)
    qtbot.waitUntil(lambda: not dialog.embedding_problem.text().startswith("Checking"),
                    timeout=STARTUP_TIMEOUT_MS)


@pytest.fixture
def say_yes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Answer Yes to the dialog's question before re-embedding; the questions asked."""
    asked: list[str] = []

    def question(_parent: object, _title: str, text: str, *args: object) -> object:
        asked.append(text)
        return QMessageBox.StandardButton.Yes
    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def test_labels_and_what_is_worth_pulling() -> None:
    from core.answer_types import ModelInfo

    models = [ModelInfo("llama3.2:3b", 1, "llama", "3B", True),
              ModelInfo("bge-m3:latest", 1, "bert", "567M", False),
              ModelInfo("granite-embedding:278m", 1, "bert", "278M", False),
              ModelInfo("someone/odd-embedder:v2", 1, "bert", "1M", False)]
    assert ollama_options(models) == [
        ("ollama:bge-m3", "bge-m3 (Ollama, multilingual)"),
        ("ollama:granite-embedding:278m", "granite-embedding:278m (Ollama, multilingual)"),
        ("ollama:someone/odd-embedder:v2", "someone/odd-embedder:v2 (Ollama)")]
    assert label_of("ollama:nomic-embed-text:latest") == "nomic-embed-text (Ollama, English)"
    assert pullable(models) == ["nomic-embed-text", "mxbai-embed-large",
                                "snowflake-arctic-embed2", "embeddinggemma", "qwen3-embedding"]


def test_the_dialog_lists_the_embedding_models_installed_in_ollama(
        qtbot: QtBot, open_window: WindowFactory) -> None:
    with FakeOllama(["llama3.2:3b", "nomic-embed-text", "bge-m3:latest"]) as ollama:
        window = open_window(ollama_host=ollama.host)
        dialog = _dialog_with_ollama(qtbot, window, "ollama:bge-m3")
        labels = {dialog.embedding.itemData(i): dialog.embedding.itemText(i)
                  for i in range(dialog.embedding.count())}
        assert labels["ollama:bge-m3"] == "bge-m3 (Ollama, multilingual)"
        assert labels[NOMIC] == "nomic-embed-text (Ollama, English)"
        assert "ollama:llama3.2:3b" not in labels  # a chat model embeds nothing here
        assert BUNDLED_MODEL in labels
        assert dialog.ollama_note.text() == (
            f"2 embedding models are installed in Ollama at {ollama.host}.")
        # What is worth pulling leaves out what is installed.
        offered = [dialog.pull_name.itemText(i) for i in range(dialog.pull_name.count())]
        assert "bge-m3" not in offered and "mxbai-embed-large" in offered
        # The list came from a reader: /api/tags was asked, nothing embedded yet.
        assert not [r for r in ollama.requests if r["path"] == "/api/embed"]
        dialog.reject()


def test_choosing_an_ollama_model_re_embeds_and_meaning_search_works(
        qtbot: QtBot, open_window: WindowFactory, fake_ollama: FakeOllama, folio_home: Path,
        tmp_path: Path, say_yes: list[str]) -> None:
    fake_ollama.models.append("nomic-embed-text")
    window = open_window(ollama_host=fake_ollama.host)
    add_and_wait(qtbot, window, _notes(tmp_path))
    dialog = _dialog_with_ollama(qtbot, window, NOMIC)
    _pick(qtbot, dialog, NOMIC)
    assert not dialog.embedding_problem.isVisible()  # Ollama gave a vector: it can embed

    with qtbot.waitSignal(window.ingest.message, timeout=INGEST_TIMEOUT_MS) as said:
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert said.args == [f"Embedding model: {NOMIC}.", 10000]
    assert len(say_yes) == 1 and "through Ollama at" in say_yes[0]
    assert _model_of(folio_home) == NOMIC
    with Library.open(folio_home) as library:
        assert library.embedding_dim == 768  # learned from the first vector
        found = library.search("pollinating bees in the orchards", mode="semantic", k=1)
    assert found.notice is None
    assert found.hits and found.hits[0].title.startswith("bees")
    # The next dialog shows the library's model by its Ollama label.
    again = window.open_settings()
    assert again.initial.embedding_model == NOMIC
    qtbot.waitUntil(lambda: again.embedding.currentText() == "nomic-embed-text (Ollama, English)",
                    timeout=STARTUP_TIMEOUT_MS)
    again.reject()


def test_with_ollama_stopped_choosing_one_says_why_and_the_library_keeps_its_model(
        qtbot: QtBot, open_window: WindowFactory, folio_home: Path, say_yes: list[str]) -> None:
    ollama = FakeOllama(["llama3.2:3b", "nomic-embed-text"])
    window = open_window(ollama_host=ollama.host)
    dialog = _dialog_with_ollama(qtbot, window, NOMIC)
    ollama.stop()  # between listing and choosing

    _pick(qtbot, dialog, NOMIC)
    problem = dialog.embedding_problem.text()
    assert dialog.embedding_problem.isVisible()
    assert problem == (f"Nothing answers at {ollama.host}, so Ollama cannot embed with "
                       "nomic-embed-text: start Ollama (or correct the host); the library "
                       "keeps its current model.")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and not say_yes  # refused where it was chosen, nothing asked
    assert not window.ingest.running  # no switch started
    dialog.reject()
    assert _model_of(folio_home) == BUNDLED_MODEL


def test_a_model_missing_from_ollama_is_said_in_the_dialog(
        qtbot: QtBot, open_window: WindowFactory, fake_ollama: FakeOllama) -> None:
    fake_ollama.models.append("nomic-embed-text")
    window = open_window(ollama_host=fake_ollama.host)
    dialog = _dialog_with_ollama(qtbot, window, NOMIC)
    fake_ollama.models.remove("nomic-embed-text")  # removed by `ollama rm` meanwhile
    _pick(qtbot, dialog, NOMIC)
    assert dialog.embedding_problem.text() == (
        f"The embedding model nomic-embed-text is not installed in Ollama at {fake_ollama.host} "
        "(`ollama pull nomic-embed-text`); the library keeps its current model.")
    fake_ollama.models.append("nomic-embed-text")  # pulled again: picking it asks again
    dialog.select_embedding_model(BUNDLED_MODEL)
    _pick(qtbot, dialog, NOMIC)
    assert not dialog.embedding_problem.isVisible()
    dialog.reject()


def test_a_switch_that_fails_on_the_writer_keeps_the_model_and_says_why(
        qtbot: QtBot, open_window: WindowFactory, folio_home: Path, tmp_path: Path,
        say_yes: list[str]) -> None:
    ollama = FakeOllama(["llama3.2:3b", "nomic-embed-text"])
    window = open_window(ollama_host=ollama.host)
    add_and_wait(qtbot, window, _notes(tmp_path))
    dialog = _dialog_with_ollama(qtbot, window, NOMIC)
    _pick(qtbot, dialog, NOMIC)
    assert not dialog.embedding_problem.isVisible()
    ollama.stop()  # after the check said yes, before OK
    with qtbot.waitSignal(window.ingest.failed, timeout=INGEST_TIMEOUT_MS) as failed:
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert str(failed.args[0]) == (f"Nothing answers at {ollama.host}, where the embedding "
                                   "model nomic-embed-text is served.")
    qtbot.waitUntil(lambda: not window.workers.busy, timeout=STARTUP_TIMEOUT_MS)
    assert _model_of(folio_home) == BUNDLED_MODEL


def test_pulling_an_embedding_model_from_the_dialog_lists_and_picks_it(
        qtbot: QtBot, open_window: WindowFactory, fake_ollama: FakeOllama) -> None:
    window = open_window(ollama_host=fake_ollama.host)
    dialog = window.open_settings()
    qtbot.waitUntil(lambda: "No embedding model is installed" in dialog.ollama_note.text(),
                    timeout=STARTUP_TIMEOUT_MS)
    fake_ollama.pull_delay = 0.02
    dialog.pull_name.setEditText("bge-m3")
    qtbot.mouseClick(dialog.pull_button, Qt.MouseButton.LeftButton)
    assert not dialog.pull_button.isEnabled() and dialog.pull_stop.isVisible()
    qtbot.waitUntil(lambda: dialog.embedding.currentData() == "ollama:bge-m3",
                    timeout=STARTUP_TIMEOUT_MS)
    assert dialog.pull_message.text() == "Pulled bge-m3."
    assert not dialog.pull_bar.isVisible() and dialog.pull_button.isEnabled()
    assert any(r["path"] == "/api/pull" and r["body"]["model"] == "bge-m3"
               for r in fake_ollama.requests)
    _pick(qtbot, dialog, "ollama:bge-m3")  # picked, so checked: it can embed
    assert not dialog.embedding_problem.isVisible()
    dialog.reject()


def test_a_pull_can_be_stopped_and_a_failed_one_says_why(
        qtbot: QtBot, open_window: WindowFactory, fake_ollama: FakeOllama) -> None:
    window = open_window(ollama_host=fake_ollama.host)
    dialog = window.open_settings()
    qtbot.waitUntil(lambda: dialog.ollama_note.text().startswith("No embedding model"),
                    timeout=STARTUP_TIMEOUT_MS)
    fake_ollama.pull_delay = 0.5
    dialog.pull_name.setEditText("mxbai-embed-large")
    qtbot.mouseClick(dialog.pull_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.pull_bar.format().startswith("pulling"),
                    timeout=STARTUP_TIMEOUT_MS)
    qtbot.mouseClick(dialog.pull_stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.pull_message.text() == "Stopped pulling mxbai-embed-large.",
                    timeout=STARTUP_TIMEOUT_MS)
    assert dialog.pull_button.isEnabled()

    fake_ollama.pull_delay = 0.0
    fake_ollama.pull_error = "pull model manifest: file does not exist"
    dialog.pull_name.setEditText("no-such-embedder")
    qtbot.mouseClick(dialog.pull_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.pull_button.isEnabled() and dialog.pull_message.isVisible(),
                    timeout=STARTUP_TIMEOUT_MS)
    assert "no-such-embedder" in dialog.pull_message.text() or \
        "does not exist" in dialog.pull_message.text()
    assert dialog.embedding.findData("ollama:no-such-embedder") < 0
    dialog.reject()


def test_with_ollama_gone_answers_and_adds_say_so(
        qtbot: QtBot, open_window: WindowFactory, folio_home: Path, tmp_path: Path) -> None:
    ollama = FakeOllama(["llama3.2:3b", "nomic-embed-text"])
    paths = _notes(tmp_path)
    with Library.open(folio_home) as library:
        library.set_setting("ollama-host", ollama.host)
        library.add(paths[:1])
        assert library.set_embedding_model(NOMIC)
    window = open_window(ollama_host=ollama.host)
    ollama.stop()

    # The answer (extractive: no language model either) carries the search's notice, shown.
    answer = ask_and_wait(qtbot, window, "Which insects pollinate clover?")
    assert answer.notice is not None and "keyword" in answer.notice.lower()
    assert answer.notice in window.chat.transcript.toPlainText()

    # An add fails cleanly with the reason in the status line, and keeps no failed row.
    outcomes = add_and_wait(qtbot, window, paths[1:])
    assert len(outcomes) == 1 and outcomes[0].transient
    line = window.statusBar().currentMessage()
    assert line.startswith("Could not add rust.txt: ")
    assert line.endswith("add it again (or sync) once Ollama is back.")
    assert [d.title for d in window.library_settings.documents.documents] == ["bees"]
