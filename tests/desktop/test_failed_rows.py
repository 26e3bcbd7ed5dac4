"""A failed document's row offers Retry (the file read again by the writer) and Remove."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTreeWidgetItem
from pytestqt.qtbot import QtBot

from core.types import AddStatus, DocStatus
from desktop.failed_actions import STATUS_COLUMN, FailedActions
from desktop.main_window import MainWindow
from tests.desktop.conftest import (
    INGEST_TIMEOUT_MS,
    STARTUP_TIMEOUT_MS,
    WindowFactory,
    add_and_wait,
)
from tests.fixtures.docs import make_report_pdf

NOTE = "# Rope care\n\nDry a wet rope before you coil it, or it will rot from the inside.\n"


def _item(window: MainWindow, title: str) -> QTreeWidgetItem:
    tree = window.library_panel.tree
    items = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    found = [i for i in items if i is not None and i.text(0) == title]
    assert len(found) == 1, [i.text(0) for i in items if i is not None]
    return found[0]


def _actions(window: MainWindow, title: str) -> FailedActions:
    widget = window.library_panel.tree.itemWidget(_item(window, title), STATUS_COLUMN)
    assert isinstance(widget, FailedActions)
    return widget


def test_retry_reads_the_fixed_file_again_and_the_row_becomes_indexed(
        qtbot: QtBot, open_window: WindowFactory, docs_dir: Path, tmp_path: Path) -> None:
    window = open_window()
    fake = docs_dir / "minutes.pdf"
    fake.write_text(NOTE, encoding="utf-8")  # a text file named .pdf: it exists, it fails
    [outcome] = add_and_wait(qtbot, window, [fake])
    assert outcome.status is AddStatus.FAILED
    actions = _actions(window, "minutes.pdf")
    assert actions.isVisible() and actions.retry_button.isEnabled()
    assert window.library_panel.status_of("minutes.pdf") == "Failed"

    report = make_report_pdf(tmp_path)  # the user puts the real PDF in its place
    fake.write_bytes(report.path.read_bytes())
    with qtbot.waitSignal(window.ingest_finished, timeout=INGEST_TIMEOUT_MS) as blocker:
        qtbot.mouseClick(actions.retry_button, Qt.MouseButton.LeftButton)
    assert [o.status for o in blocker.args[0]] == [AddStatus.ADDED]
    with qtbot.waitSignal(window.documents_loaded, timeout=STARTUP_TIMEOUT_MS):
        window.refresh_documents()
    [doc] = window.documents
    assert (doc.status, doc.original_path, doc.title) == (DocStatus.INDEXED, str(fake),
                                                         report.title)
    item = _item(window, report.title)
    assert window.library_panel.tree.itemWidget(item, STATUS_COLUMN) is None
    assert item.text(STATUS_COLUMN) == "Indexed"


def test_remove_takes_the_failed_row_away_and_leaves_the_file(
        qtbot: QtBot, open_window: WindowFactory, docs_dir: Path) -> None:
    window = open_window()
    note = docs_dir / "rope.md"
    note.write_text(NOTE, encoding="utf-8")
    fake = docs_dir / "scan.pdf"
    fake.write_text("<!DOCTYPE html><html><body>Session expired</body></html>", encoding="utf-8")
    add_and_wait(qtbot, window, [note, fake])
    [failed] = [d for d in window.documents if d.status is DocStatus.FAILED]
    assert failed.error is not None and failed.error.startswith(
        "This is not a PDF: its first bytes show an HTML page.")
    qtbot.mouseClick(_actions(window, "scan.pdf").remove_button, Qt.MouseButton.LeftButton)
    # No question asked: the row goes once the writer has removed it and the list is reloaded.
    qtbot.waitUntil(lambda: [d.title for d in window.documents] == ["Rope care"],
                    timeout=STARTUP_TIMEOUT_MS)
    assert window.library_panel.status_of("scan.pdf") is None
    assert fake.exists()
