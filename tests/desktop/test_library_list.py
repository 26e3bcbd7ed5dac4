"""The library list as a person uses it: filter, sort, full titles on hover, multi-select, the
context menu (open, ask about, summarise, show in the file manager, remove) and the scope chip
that keeps the next questions within the chosen documents."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from core.answer_types import Answer
from desktop.main_window import MainWindow
from tests.desktop.conftest import (
    ANSWER_TIMEOUT_MS,
    INGEST_TIMEOUT_MS,
    WindowFactory,
    add_and_wait,
    ask_and_wait,
)
from tests.desktop.helpers import make_titled_pdf

KEEPER = "The Keeper's Handbook of Lamps, Lenses and the Long Watches of the Northern Lights"
TIDES = "Tide Tables for the Outer Islands"
GARDEN = "Notes from a Kitchen Garden"


@pytest.fixture
def window(qtbot: QtBot, open_window: WindowFactory, docs_dir: Path) -> MainWindow:
    """A library of three documents of 3, 1 and 2 pages, added in this order."""
    win = open_window()
    files = [
        make_titled_pdf(docs_dir, "keeper.pdf", KEEPER, 3, [
            "The lamp was trimmed each evening and its lens polished until no smear remained.",
            "The fog signal sounded every thirty seconds while the horizon could not be seen."]),
        make_titled_pdf(docs_dir, "tides.pdf", TIDES, 1, [
            "High water at the harbour mouth comes forty minutes after high water at the point.",
            "Spring tides follow the new and the full moon by about two days."]),
        make_titled_pdf(docs_dir, "garden.pdf", GARDEN, 2, [
            "Sow the beans after the last frost, in a row facing south along the wall.",
            "The lamp of the greenhouse was lit on frosty nights to keep the seedlings warm."]),
    ]
    for path in files:  # one at a time: each gets its own added time
        add_and_wait(qtbot, win, [path])
    return win


def _doc_id(window: MainWindow, title: str) -> int:
    return int(next(d.id for d in window.documents if d.title == title))


def test_filter_sort_and_full_titles_on_hover(qtbot: QtBot, window: MainWindow) -> None:
    panel = window.library_panel
    assert panel.visible_titles() == [GARDEN, KEEPER, TIDES]  # by title to start with
    qtbot.keyClicks(panel.filter, "lamps")
    assert panel.visible_titles() == [KEEPER]
    panel.filter.clear()
    qtbot.keyClicks(panel.filter, "tides.pdf")  # the file name counts too
    assert panel.visible_titles() == [TIDES]
    panel.filter.clear()
    assert len(panel.visible_titles()) == 3

    panel.sort.setCurrentText("Most pages")
    assert panel.visible_titles() == [KEEPER, GARDEN, TIDES]
    panel.sort.setCurrentText("Newest first")
    assert panel.visible_titles() == [GARDEN, TIDES, KEEPER]
    panel.sort.setCurrentText("Oldest first")
    assert panel.visible_titles() == [KEEPER, TIDES, GARDEN]
    # The filter holds across a refresh of the list.
    qtbot.keyClicks(panel.filter, "garden")
    with qtbot.waitSignal(window.documents_loaded, timeout=10_000):
        window.refresh_documents()
    assert panel.visible_titles() == [GARDEN]

    tooltip = panel.tooltip_of(KEEPER, 0)
    assert tooltip is not None and tooltip.splitlines()[0] == KEEPER
    assert "keeper.pdf" in tooltip


def _menu_actions(window: MainWindow) -> dict[str, QAction]:
    menu = window.library_panel.context_menu()
    assert menu is not None
    return {a.text(): a for a in menu.actions() if a.text()}


class UrlCatcher(QObject):
    """Takes the URLs QDesktopServices.openUrl is given (the desktop's file manager in the app)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def test_the_context_menu_of_one_document(qtbot: QtBot, window: MainWindow,
                                          docs_dir: Path) -> None:
    panel = window.library_panel
    panel.select([_doc_id(window, TIDES)])
    actions = _menu_actions(window)
    assert list(actions) == ["Open", "Ask about this document", "Summarise", "Propose checks…",
                             "Show the file in the file manager", "Remove from the library…"]
    with qtbot.waitSignal(window.viewer.shown, timeout=10_000) as shown:
        actions["Open"].trigger()
    assert shown.args == [TIDES, 1]

    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")  # type: ignore[arg-type]  # the stubs say bytes; PySide6 takes str
    try:
        actions["Show the file in the file manager"].trigger()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [Path(u.toLocalFile()) for u in catcher.urls] == [docs_dir]

    # Summarise: asked at once, within that document only, and the chip says so.
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_TIMEOUT_MS) as blocker:
        actions["Summarise"].trigger()
    answer = blocker.args[0]
    assert isinstance(answer, Answer) and answer.sources
    assert {s.hit.document_id for s in answer.sources} == {_doc_id(window, TIDES)}
    assert window.chat.scope_chip.isVisible()
    assert window.chat.scope_chip.label.text() == f"In {TIDES} only"


def test_ask_about_chosen_documents_keeps_to_them_until_the_chip_is_removed(
        qtbot: QtBot, window: MainWindow) -> None:
    panel = window.library_panel
    chosen = [_doc_id(window, KEEPER), _doc_id(window, TIDES)]
    panel.select(chosen)
    assert sorted(panel.selected_ids()) == sorted(chosen)
    actions = _menu_actions(window)
    assert "Summarise" not in actions and "Open" not in actions  # those are for one document
    actions["Ask about these 2 documents"].trigger()
    chip = window.chat.scope_chip
    assert chip.isVisible() and chip.label.text().endswith("and 1 more only")
    assert sorted(window.chat.scope() or []) == sorted(chosen)
    assert window.chat.input.hasFocus()  # ready to type the question

    # The greenhouse lamp is in the garden notes, which are out of scope.
    answer = ask_and_wait(qtbot, window, "Was the greenhouse lamp lit on frosty nights?")
    assert answer.sources and {s.hit.document_id for s in answer.sources} <= set(chosen)
    answer = ask_and_wait(qtbot, window, "When do the spring tides come?")  # still in scope
    assert {s.hit.document_id for s in answer.sources} <= set(chosen)

    qtbot.mouseClick(chip.close_button, Qt.MouseButton.LeftButton)
    assert not chip.isVisible() and window.chat.scope() is None
    answer = ask_and_wait(qtbot, window, "Was the greenhouse lamp lit on frosty nights?")
    assert _doc_id(window, GARDEN) in {s.hit.document_id for s in answer.sources}


def test_delete_removes_every_selected_document_after_asking(
        qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def yes(_parent: object, _title: str, text: str, *_args: object) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.Yes
    monkeypatch.setattr(QMessageBox, "question", yes)
    panel = window.library_panel
    panel.select([_doc_id(window, KEEPER), _doc_id(window, GARDEN)])
    panel.tree.setFocus()
    with qtbot.waitSignal(window.documents_loaded, timeout=INGEST_TIMEOUT_MS,
                          check_params_cb=lambda docs: len(docs) == 1):
        qtbot.keyClick(panel.tree, Qt.Key.Key_Delete)
    assert asked and "these 2 documents" in asked[0]
    assert panel.visible_titles() == [TIDES]
