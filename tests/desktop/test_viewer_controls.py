"""The viewer's controls, through the keys and the boxes a person uses: zoom, fit, pages, labels,
and a cited passage scrolled to a third of the way down."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.types import Rect
from desktop.pdf_page_view import CITED_AT
from desktop.viewer import Viewer
from desktop.viewer_toolbar import ZOOM_STEP

PAGES = 8
FRONT = 2  # pages i and ii, then 1, 2, ...


@pytest.fixture
def pdf(docs_dir: Path) -> Path:
    """Eight pages: two of front matter labelled i, ii, then pages labelled 1 to 6."""
    doc = pymupdf.open()
    for number in range(1, PAGES + 1):
        page = doc.new_page(width=595, height=842)
        page.insert_text((72, 80), f"Heading of page {number}", fontsize=16)
        for line in range(30):
            page.insert_text((72, 120 + 20 * line), f"Page {number}, line {line}.", fontsize=11)
    doc.set_page_labels([{"startpage": 0, "prefix": "", "style": "r", "firstpagenum": 1},
                         {"startpage": FRONT, "prefix": "", "style": "D", "firstpagenum": 1}])
    path = docs_dir / "pages.pdf"
    doc.save(path)
    doc.close()
    return path


@pytest.fixture
def viewer(qtbot: QtBot, pdf: Path) -> Viewer:
    widget = Viewer()
    qtbot.addWidget(widget)
    widget.resize(700, 800)
    widget.show()
    qtbot.waitExposed(widget)
    widget.activateWindow()
    assert widget.show_pdf(pdf, "Pages", 1)
    widget.pdf_view.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget.pdf_view)
    return widget


def _page_box(viewer: Viewer) -> str:
    return viewer.toolbar.page_box.text()


def test_the_page_box_shows_the_page_label_and_the_count(viewer: Viewer) -> None:
    assert viewer.toolbar.isVisible()
    assert _page_box(viewer) == "i"
    assert viewer.toolbar.page_count.text() == f"(1 of {PAGES})"


def test_page_down_up_home_and_end_move_by_pages(qtbot: QtBot, viewer: Viewer) -> None:
    view = viewer.pdf_view
    qtbot.keyClick(view, Qt.Key.Key_PageDown)
    assert viewer.current_page == 2 and _page_box(viewer) == "ii"
    qtbot.keyClick(view, Qt.Key.Key_PageDown)
    assert viewer.current_page == 3 and _page_box(viewer) == "1"
    assert viewer.toolbar.page_count.text() == f"(3 of {PAGES})"
    # The page is at the top of the view: its top edge, not the middle of the page before.
    assert abs(view.page_geometry(2).y() - view.verticalScrollBar().value()) <= 1
    qtbot.keyClick(view, Qt.Key.Key_PageUp)
    assert viewer.current_page == 2
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert viewer.current_page == PAGES and _page_box(viewer) == str(PAGES - FRONT)
    qtbot.keyClick(view, Qt.Key.Key_PageDown)  # past the end: stays on the last page
    assert viewer.current_page == PAGES
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert viewer.current_page == 1 and _page_box(viewer) == "i"


def test_typing_a_label_or_a_number_in_the_page_box_goes_there(qtbot: QtBot,
                                                                viewer: Viewer) -> None:
    box = viewer.toolbar.page_box
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, "4")  # the page labelled 4 is the sixth page
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert viewer.current_page == 4 + FRONT
    box.selectAll()
    qtbot.keyClicks(box, "ii")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert viewer.current_page == 2
    box.selectAll()
    qtbot.keyClicks(box, "xyz")  # no such page: stays, and the box shows the page again
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert viewer.current_page == 2 and _page_box(viewer) == "ii"


def test_ctrl_plus_minus_and_zero_zoom(qtbot: QtBot, viewer: Viewer) -> None:
    fit = viewer.zoom()  # fit width to start with
    view = viewer.pdf_view
    qtbot.keyClick(view, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert viewer.zoom() == pytest.approx(fit * ZOOM_STEP, rel=0.02)
    assert viewer.toolbar.zoom_label.text() == f"{round(fit * ZOOM_STEP * 100)}%"
    qtbot.keyClick(view, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert viewer.zoom() == pytest.approx(fit * ZOOM_STEP ** 2, rel=0.02)
    qtbot.keyClick(view, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert viewer.zoom() == pytest.approx(fit * ZOOM_STEP, rel=0.02)
    qtbot.keyClick(view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert viewer.zoom() == pytest.approx(1.0)
    assert viewer.toolbar.zoom_label.text() == "100%"


def test_zooming_keeps_the_page_being_read(qtbot: QtBot, viewer: Viewer) -> None:
    viewer.go_to_page(5)
    qtbot.keyClick(viewer.pdf_view, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert viewer.current_page == 5
    top = viewer.pdf_view.page_geometry(4).y()
    assert abs(viewer.pdf_view.verticalScrollBar().value() - top) <= 2


def test_fit_page_shows_a_whole_page_and_fit_width_its_width(qtbot: QtBot,
                                                             viewer: Viewer) -> None:
    view = viewer.pdf_view
    viewer.toolbar.fit_page.trigger()
    assert viewer.toolbar.fit_page.isChecked() and not viewer.toolbar.fit_width.isChecked()
    page = view.page_geometry(0)
    assert page.height() <= view.viewport().height()
    assert page.height() >= view.viewport().height() - 40  # as large as it fits
    viewer.toolbar.fit_width.trigger()
    margins = view.documentMargins()
    assert view.page_geometry(0).width() == view.viewport().width() - margins.left() - margins.right()
    assert viewer.toolbar.fit_width.isChecked()


def test_a_cited_passage_is_scrolled_to_a_third_of_the_way_down(qtbot: QtBot, viewer: Viewer,
                                                                pdf: Path) -> None:
    passage = Rect(5, 72, 400, 400, 440)
    viewer.show_pdf(pdf, "Pages", 5, [passage])
    view = viewer.pdf_view
    third = view.viewport().height() * CITED_AT

    def at_a_third() -> bool:
        drawn = view.to_viewport(passage)
        return abs(drawn.top() - third) <= 2
    qtbot.waitUntil(at_a_third, timeout=5_000)
    assert viewer.current_page == 5
    # The same after zooming to fit the page: the highlight still lies over the passage.
    viewer.fit_page()
    viewer.show_pdf(pdf, "Pages", 5, [passage])
    qtbot.waitUntil(lambda: view.to_viewport(passage).top() >= 0, timeout=5_000)
    page = view.page_geometry(4)
    scale = page.height() / 842
    drawn = view.to_viewport(passage)
    assert drawn.height() == pytest.approx(40 * scale, rel=0.01)
