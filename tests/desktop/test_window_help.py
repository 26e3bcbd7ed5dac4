"""What a new user meets first: the question box has focus, the Help menu (guide, shortcuts,
About with versions), sources say how they were found in words, and the viewer is not the
pane that shrinks first when the window narrows."""

from __future__ import annotations

import apsw
import pymupdf
import PySide6
import pytest
from PySide6.QtCore import qVersion
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox
from pytestqt.qtbot import QtBot

from core.answer_types import Citation
from desktop.help_menu import GUIDE_TITLE
from desktop.main_window import MainWindow
from desktop.panes import SIDE_FLOORS, VIEWER_MINIMUM, share
from desktop.transcript import source_line
from tests.desktop.conftest import WindowFactory


def test_the_question_box_has_focus_at_start(qtbot: QtBot, open_window: WindowFactory) -> None:
    window = open_window()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.chat.input, timeout=5_000)


def _help_action(window: MainWindow, text: str) -> QAction:
    menus = {m.title(): m for m in window.menuBar().findChildren(QMenu)}
    return next(a for a in menus["&Help"].actions() if a.text() == text)


def test_help_opens_the_guide_in_the_viewer_and_lists_the_shortcuts(
        qtbot: QtBot, open_window: WindowFactory) -> None:
    window = open_window()
    help_menu = window.help_menu
    with qtbot.waitSignal(window.viewer.shown, timeout=5_000) as shown:
        _help_action(window, "Folio &guide").trigger()
    assert shown.args == [GUIDE_TITLE, 1]
    assert window.viewer.pdf_document.pageCount() > 3
    _help_action(window, "&Keyboard shortcuts").trigger()
    dialog = help_menu.dialog
    assert isinstance(dialog, QMessageBox) and dialog.isVisible()
    for key in ("Ctrl+O", "Ctrl+L", "Ctrl+F", "PgDown", "Ctrl++"):
        assert f"<b>{key}</b>" in dialog.text()


def test_about_names_the_versions(qtbot: QtBot, open_window: WindowFactory) -> None:
    window = open_window()
    with qtbot.waitSignal(window.help_menu.show_about().succeeded, timeout=10_000):
        pass
    dialog = window.help_menu.dialog
    assert dialog is not None and dialog.windowTitle() == "About Folio"
    text = dialog.text()
    for version in ("0.1.0", qVersion(), PySide6.__version__, str(pymupdf.__version__),
                    apsw.sqlite_lib_version()):
        assert version in text
    assert "SQLite" in text and "PyMuPDF" in text


def test_found_by_both_says_keywords_and_meaning() -> None:
    def line(found_by: str) -> str:
        return source_line(0, Citation(1, 7, 3, "Tides", 2, None, "text", (), found_by))
    assert "found by keywords and meaning" in line("both")
    assert "found by keywords<" in line("keywords") and "found by meaning<" in line("meaning")


@pytest.mark.parametrize("total", [1360, 1100, 900, 700])
def test_side_panes_give_way_before_the_viewer(total: int) -> None:
    sizes = share([300, 640, 420], total, SIDE_FLOORS)
    assert sum(sizes) == total
    if total >= sum(SIDE_FLOORS) + 640:
        assert sizes[1] == 640  # the viewer keeps its width while the sides can give
    elif total >= sum(SIDE_FLOORS) + VIEWER_MINIMUM:
        assert sizes[0] == SIDE_FLOORS[0] and sizes[2] == SIDE_FLOORS[1]  # then the viewer
    else:
        assert sizes[1] == VIEWER_MINIMUM  # below every floor the sides give way again


def test_narrowing_the_window_shrinks_the_side_panes_first(qtbot: QtBot,
                                                           open_window: WindowFactory) -> None:
    window = open_window()
    window.resize(1360, 820)
    window.splitter.setSizes([300, 640, 420])
    qtbot.waitUntil(lambda: window.splitter.sizes()[1] >= 600, timeout=5_000)
    viewer_before = window.splitter.sizes()[1]
    window.resize(1160, 820)
    qtbot.waitUntil(lambda: window.width() == 1160, timeout=5_000)
    library, viewer, chat = window.splitter.sizes()
    assert viewer == viewer_before  # 200 px came out of the side panes
    assert library < 300 and chat < 420
    window.resize(1560, 820)  # and a wider window gives the room to the viewer
    qtbot.waitUntil(lambda: window.width() == 1560, timeout=5_000)
    assert window.splitter.sizes()[1] == viewer_before + 400
