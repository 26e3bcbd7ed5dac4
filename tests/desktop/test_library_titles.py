"""The library panel never shows two documents alike (issue 18, bug 12)."""

from __future__ import annotations

from pathlib import Path

import pymupdf
from pytestqt.qtbot import QtBot

from core.library import Library
from desktop.library_panel import LibraryPanel

TITLE = "Chapter 1: Battery Storage"


def _pdf(path: Path, body: str) -> Path:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 90), f"{TITLE}\n\n{body}", fontsize=12)
    doc.set_metadata({"title": TITLE})
    doc.save(path)
    doc.close()
    return path


def test_alike_titles_get_their_file_names(qtbot: QtBot, tmp_path: Path, docs_dir: Path) -> None:
    with Library.open(tmp_path / "lib") as library:
        library.add([_pdf(docs_dir / "storage-2023.pdf", "Lead-acid cells dominated."),
                     _pdf(docs_dir / "storage-2024.pdf", "Lithium cells took over.")])
        documents = library.documents()
    assert [d.title for d in documents] == [TITLE, TITLE]
    panel = LibraryPanel()
    qtbot.addWidget(panel)
    panel.set_documents(documents)
    items = [panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())]
    shown = [item.text(0) for item in items if item is not None]
    assert shown == [f"{TITLE} (storage-2023.pdf)", f"{TITLE} (storage-2024.pdf)"]
    assert panel.status_of(f"{TITLE} (storage-2024.pdf)") == "Indexed"
