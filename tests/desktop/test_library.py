"""Adding by drop, the statuses in the list, cancelling, removing."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from core.library import Library
from core.types import AddProgress, AddStage, AddStatus
from tests.desktop.conftest import INGEST_TIMEOUT_MS, WindowFactory, add_and_wait, drop
from tests.desktop.helpers import make_long_pdf
from tests.fixtures.docs import make_broken_pdf, make_markdown, make_report_pdf


def test_window_starts_with_an_empty_library(open_window: WindowFactory,
                                             folio_home: Path) -> None:
    window = open_window()
    panel = window.library_panel
    assert panel.stack.currentWidget() is panel.empty
    assert window.library_root == folio_home
    assert not window.chat.status_label.text().startswith("Checking")


def test_dropped_files_and_folder_end_in_the_list_with_their_status(
        qtbot: QtBot, open_window: WindowFactory, docs_dir: Path, tmp_path: Path) -> None:
    window = open_window()
    report = make_report_pdf(docs_dir)
    notes = make_markdown(docs_dir)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "diary.txt").write_text("The keeper's diary. The lamp was lit at six.\n" * 5)
    (folder / "more.md").write_text("# More\n\nThe fog bell rang twice at dawn.\n")
    broken = make_broken_pdf(tmp_path)

    with qtbot.waitSignal(window.ingest_finished, timeout=INGEST_TIMEOUT_MS) as blocker:
        drop(window, [report.path, notes, folder, broken])
        dialog = window.folder_sync.dialog  # a folder asks: add once, or keep in sync
        assert dialog is not None
        dialog.once_button.click()
    with qtbot.waitSignal(window.documents_loaded, timeout=INGEST_TIMEOUT_MS):
        window.refresh_documents()
    outcomes = list(blocker.args[0])

    assert {o.status for o in outcomes} == {AddStatus.ADDED, AddStatus.FAILED}
    panel = window.library_panel
    assert panel.stack.currentWidget() is panel.tree
    titles = {d.title: d for d in window.documents}
    assert len(titles) == 5
    assert panel.status_of(report.title) == "Indexed"
    assert panel.status_of("Harbour Notes") == "Indexed"
    assert titles[report.title].pages == report.page_count
    failed = [d for d in window.documents if d.status.value == "failed"]
    assert len(failed) == 1 and failed[0].error
    items = [panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())]
    item = next(i for i in items if i is not None and i.text(2) == "Failed")
    child = item.child(0)
    assert item.childCount() == 1 and child is not None
    assert child.text(0) == failed[0].error  # reason shown
    assert panel.progress_box.isHidden()


def test_cancelling_indexing_leaves_the_library_unchanged(
        qtbot: QtBot, open_window: WindowFactory, docs_dir: Path, folio_home: Path) -> None:
    window = open_window()
    add_and_wait(qtbot, window, [make_markdown(docs_dir)])
    before = [(d.id, d.title) for d in window.documents]
    long_pdf = make_long_pdf(docs_dir, 60)

    seen: list[AddProgress] = []

    def embedding_started() -> bool:
        return any(p.passages_total and p.passages_done for p in seen)

    original = window.library_panel.set_progress
    def spy(p: AddProgress | None) -> None:
        if p:
            seen.append(p)
        original(p)

    window.library_panel.set_progress = spy  # type: ignore[method-assign,assignment]
    with qtbot.waitSignal(window.ingest_finished, timeout=INGEST_TIMEOUT_MS) as finished:
        drop(window, [long_pdf])
        qtbot.waitUntil(embedding_started, timeout=INGEST_TIMEOUT_MS)
        assert window.library_panel.progress_box.isVisible()
        window.library_panel.cancel_button.click()
    assert [o.status for o in finished.args[0]] == [AddStatus.CANCELLED]
    with Library.open(folio_home) as library:
        assert [(d.id, d.title) for d in library.documents()] == before
    qtbot.waitUntil(lambda: [(d.id, d.title) for d in window.documents] == before)
    assert window.library_panel.progress_box.isHidden()


def test_delete_asks_then_removes(qtbot: QtBot, open_window: WindowFactory, docs_dir: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    window = open_window()
    add_and_wait(qtbot, window, [make_markdown(docs_dir)])
    panel = window.library_panel
    first = panel.tree.topLevelItem(0)
    assert first is not None
    panel.tree.setCurrentItem(first)
    asked: list[str] = []

    def answer(*args: object, **_kw: object) -> QMessageBox.StandardButton:
        asked.append(str(args[2]))
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    with qtbot.waitSignal(window.documents_loaded, timeout=10_000,
                          check_params_cb=lambda docs: docs == []):
        panel._confirm_remove()
    assert asked and "Harbour Notes" in asked[0]
    assert panel.stack.currentWidget() is panel.empty


def test_a_protected_pdf_asks_for_its_password(qtbot: QtBot, open_window: WindowFactory,
                                               docs_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QInputDialog

    from tests.fixtures.docs import ENCRYPTED_TEXT, make_encrypted_pdf

    window = open_window()
    locked = make_encrypted_pdf(docs_dir, user_password="secret")
    asked: list[str] = []

    def typed(_parent: QWidget, _title: str, label: str,
              _mode: object) -> tuple[str, bool]:  # the user types the password, presses OK
        asked.append(label)
        return "secret", True

    monkeypatch.setattr(QInputDialog, "getText", typed)
    outcomes = add_and_wait(qtbot, window, [locked])
    assert [o.status for o in outcomes] == [AddStatus.ADDED]
    assert len(asked) == 1 and locked.name in asked[0]
    with Library.open(window.library_root) as library:
        assert ENCRYPTED_TEXT.split()[3] in library.search(ENCRYPTED_TEXT, k=1).hits[0].text

    monkeypatch.setattr(QInputDialog, "getText", lambda *_: ("", False))  # Cancel: skip it
    other = make_encrypted_pdf(docs_dir, user_password="other", name="other.pdf")
    skipped = add_and_wait(qtbot, window, [other])
    assert skipped[0].status is AddStatus.FAILED and "password" in (skipped[0].reason or "")


def _scan(path: Path) -> Path:
    """A one-page PDF that is only a picture of text, as a scanner makes."""
    import pymupdf

    with pymupdf.open() as source:
        page = source.new_page(width=420, height=300)
        page.insert_textbox(pymupdf.Rect(36, 36, 384, 264), "The harbour lamp burns whale oil.\n"
                            "The keeper checks the wick at dusk.", fontsize=16)
        pixmap = page.get_pixmap(dpi=200)
    with pymupdf.open() as doc:
        scanned = doc.new_page(width=420, height=300)
        scanned.insert_image(scanned.rect, pixmap=pixmap)
        doc.save(path)
    return path


def test_a_document_read_by_ocr_says_so_in_the_list(qtbot: QtBot, open_window: WindowFactory,
                                                    docs_dir: Path) -> None:
    window = open_window()
    [outcome] = add_and_wait(qtbot, window, [_scan(docs_dir / "lamp-scan.pdf")])
    assert (outcome.status, outcome.ocr_pages) == (AddStatus.ADDED, 1)
    panel = window.library_panel
    assert panel.status_of(outcome.title) == "Indexed · OCR"
    assert "1 page(s) read by OCR" in (panel.tooltip_of(outcome.title, 2) or "")
    add_and_wait(qtbot, window, [make_markdown(docs_dir)])
    assert panel.status_of("Harbour Notes") == "Indexed"


def test_the_progress_line_names_the_page_being_read(open_window: WindowFactory) -> None:
    panel = open_window().library_panel
    panel.set_progress(AddProgress(0, 2, "/docs/scan.pdf", 0, 0, 0, 3, 40, AddStage.OCR))
    assert panel.progress_label.text() == "OCR page 3 of 40: scan.pdf (file 1 of 2)"
    # the bar is the job's: a fifth of file 1's share for reading 3 of its 40 pages
    bar = panel.progress_bar
    assert bar.value() / bar.maximum() == pytest.approx(0.2 * 3 / 40 / 2, abs=1e-3)
    panel.set_progress(AddProgress(1, 2, "/docs/10-K.pdf", 0, 0, 9, 120, 390, AddStage.READING))
    assert panel.progress_label.text() == "Reading page 120 of 390: 10-K.pdf (file 2 of 2)"
    assert bar.value() / bar.maximum() == pytest.approx((1 + 0.2 * 120 / 390) / 2, abs=1e-3)
