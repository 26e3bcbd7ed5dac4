"""Issue 18, bug 10: the progress bar is the whole job's; the embedding-model list offers text
models only, each with its download size and languages."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from core.embedding import BUNDLED_MODEL, catalog_models
from core.types import AddProgress, AddStage
from desktop.library_panel import LibraryPanel
from desktop.settings_dialog import SettingsDialog, SettingsValues, embedding_options


def _percent(panel: LibraryPanel) -> int:
    bar = panel.progress_bar
    assert bar.maximum() > 0, "the bar is busy, not a percentage"
    return round(100 * bar.value() / bar.maximum())


def test_the_bar_is_the_jobs_percentage_not_the_current_files(qtbot: QtBot) -> None:
    panel = LibraryPanel()
    qtbot.addWidget(panel)
    seen: list[int] = []
    # Four files: the second one is read, split, then embedded to the end; then the third.
    for progress in (
        AddProgress(1, 4, "b.pdf", 0, 0, 0, 5, 10, AddStage.READING),
        AddProgress(1, 4, "b.pdf", 0, 0, 0, 10, 10, AddStage.READING),
        AddProgress(1, 4, "b.pdf", 0, 0, 0, 10, 10, AddStage.CHUNKING),
        AddProgress(1, 4, "b.pdf", 50, 100, 50, 10, 10, AddStage.EMBEDDING),
        AddProgress(1, 4, "b.pdf", 100, 100, 100, 10, 10, AddStage.EMBEDDING),
        AddProgress(2, 4, "c.pdf", 0, 0, 100, 1, 30, AddStage.READING),
    ):
        panel.set_progress(progress)
        seen.append(_percent(panel))
    assert seen == [28, 30, 30, 40, 50, 50]
    # The label still says where the current file is.
    assert panel.progress_label.text() == "Reading page 1 of 30: c.pdf (file 3 of 4)"
    panel.set_progress(AddProgress(0, 1, "a.pdf", 30, 60, 30, 4, 4, AddStage.EMBEDDING))
    assert _percent(panel) == 60
    assert panel.progress_label.text() == "Indexing a.pdf (file 1 of 1): 30/60 passages"
    assert panel.progress_bar.text() == "60%"


def test_no_image_models_and_each_with_its_size_and_languages() -> None:
    options = dict(embedding_options(catalog_models(), BUNDLED_MODEL))
    names = list(options)
    assert names[0] == BUNDLED_MODEL and names.count(BUNDLED_MODEL) == 1
    for name in names:
        lowered = name.lower()
        assert "clip" not in lowered and "siglip" not in lowered, name
    assert "BAAI/bge-small-en-v1.5" in options
    assert options["BAAI/bge-small-en-v1.5"] == "BAAI/bge-small-en-v1.5 — 67 MB, English"
    multilingual = options["sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"]
    assert multilingual.endswith("220 MB, Multilingual (~50 languages)")
    assert options["jinaai/jina-embeddings-v2-base-zh"].endswith("Chinese and English")
    assert options["intfloat/multilingual-e5-large"].split(" — ")[1].startswith("2.2 GB")


def test_the_dialog_shows_the_labels_and_keeps_the_names(qtbot: QtBot, tmp_path: Path) -> None:
    values = SettingsValues("", "", "", 6, BUNDLED_MODEL)
    dialog = SettingsDialog(values, tmp_path, [], 10)
    qtbot.addWidget(dialog)
    dialog.set_embedding_models(embedding_options(catalog_models(), BUNDLED_MODEL))
    labels = [dialog.embedding.itemText(i) for i in range(dialog.embedding.count())]
    assert labels[0] == f"{BUNDLED_MODEL} — bundled, English"
    assert not any("clip" in label.lower() or "siglip" in label.lower() for label in labels)
    dialog.embedding.setCurrentIndex(labels.index("BAAI/bge-small-en-v1.5 — 67 MB, English"))
    assert dialog.values().embedding_model == "BAAI/bge-small-en-v1.5"
