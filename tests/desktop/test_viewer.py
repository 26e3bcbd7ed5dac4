"""Find in the viewer through the real QPdfView and its asynchronous QPdfSearchModel: the status,
the page, and the current match drawn over the matched word (the viewer draws it, not QPdfView)."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage
from PySide6.QtPdf import QPdfSearchModel
from pytestqt.qtbot import QtBot

from desktop.viewer import Viewer

PAGES = 6
RARE, COMMON = "zorbicon", "lighthouse"
FIND_TIMEOUT_MS = 15_000


@pytest.fixture
def pdf(docs_dir: Path) -> Path:
    """Six pages of text; RARE is on page 5 only, COMMON once on every page."""
    doc = pymupdf.open()
    for number in range(1, PAGES + 1):
        page = doc.new_page()
        y = 80.0
        for line in range(30):
            words = f"Page {number} line {line} of the {COMMON} report." if line == 10 else (
                f"Page {number} line {line}: the keepers logged the weather and the tides.")
            if number == 5 and line == 20:
                words = f"The {RARE} survey counted seabirds on the northern cliffs."
            page.insert_text((72, y), words, fontsize=11)
            y += 20
    path = docs_dir / "find.pdf"
    doc.save(path)
    doc.close()
    return path


@pytest.fixture
def viewer(qtbot: QtBot, pdf: Path) -> Viewer:
    widget = Viewer()
    qtbot.addWidget(widget)
    widget.resize(700, 800)
    widget.show()
    assert widget.show_pdf(pdf, "Find test", 1)
    widget.open_find()
    return widget


def _status(viewer: Viewer) -> str:
    return viewer.find_bar.status.text()


def _tinted(image: QImage, area: QRect) -> float:
    """The share of area's pixels under the highlight's yellow (over white paper or black ink)."""
    area = area.intersected(image.rect())
    pixels = [image.pixelColor(x, y) for x in range(area.left(), area.right() + 1)
              for y in range(area.top(), area.bottom() + 1)]
    return sum(c.red() - c.blue() > 50 for c in pixels) / max(1, len(pixels))


def _assert_highlighted(viewer: Viewer, pdf: Path, word: str, page: int) -> None:
    """The one match highlighted is word on page: over the word as PyMuPDF finds it, in view,
    and drawn there (yellow on the word, not below it)."""
    view = viewer.pdf_view
    assert len(view.match) == 1 and view.match[0].page == page
    drawn = view.match[0]
    with pymupdf.open(pdf) as doc:
        (word_rect,) = doc[page - 1].search_for(word)
    centre_x, centre_y = (drawn.x0 + drawn.x1) / 2, (drawn.y0 + drawn.y1) / 2
    assert word_rect.x0 <= centre_x <= word_rect.x1 and word_rect.y0 <= centre_y <= word_rect.y1
    assert drawn.x1 - drawn.x0 == pytest.approx(word_rect.width, rel=0.15)
    on_screen = view.to_viewport(drawn).toAlignedRect()
    assert view.viewport().rect().contains(on_screen)
    image = view.viewport().grab().toImage()
    assert _tinted(image, on_screen.adjusted(1, 1, -1, -1)) > 0.9
    assert _tinted(image, on_screen.translated(0, 3 * on_screen.height())) < 0.1


def test_typed_text_is_found_without_pressing_enter_again(qtbot: QtBot, viewer: Viewer,
                                                           pdf: Path) -> None:
    qtbot.keyClicks(viewer.find_bar.field, RARE)
    # The search runs in the background: not "Not found" while it has not finished.
    assert _status(viewer) != "Not found"
    qtbot.waitUntil(lambda: _status(viewer) == "1 of 1", timeout=FIND_TIMEOUT_MS)
    assert viewer.current_page == 5
    _assert_highlighted(viewer, pdf, RARE, 5)
    viewer.find_bar.close_bar()  # Esc: the match is no longer highlighted
    assert viewer.pdf_view.match == []


def test_enter_steps_through_the_matches_and_shift_enter_goes_back(qtbot: QtBot, viewer: Viewer,
                                                                     pdf: Path) -> None:
    field = viewer.find_bar.field
    qtbot.keyClicks(field, COMMON)
    qtbot.waitUntil(lambda: _status(viewer) == f"1 of {PAGES}", timeout=FIND_TIMEOUT_MS)
    assert viewer.current_page == 1
    _assert_highlighted(viewer, pdf, COMMON, 1)
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert _status(viewer) == f"2 of {PAGES}" and viewer.current_page == 2
    _assert_highlighted(viewer, pdf, COMMON, 2)
    qtbot.keyClick(field, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert _status(viewer) == f"1 of {PAGES}" and viewer.current_page == 1
    _assert_highlighted(viewer, pdf, COMMON, 1)
    qtbot.keyClick(field, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)  # wraps around
    assert _status(viewer) == f"{PAGES} of {PAGES}" and viewer.current_page == PAGES
    _assert_highlighted(viewer, pdf, COMMON, PAGES)
    assert viewer.toolbar.page_box.text() == str(PAGES)  # the page box follows the match


def test_text_that_is_not_there_is_not_found_once_the_search_has_finished(
        qtbot: QtBot, viewer: Viewer) -> None:
    with qtbot.waitSignal(viewer.found, timeout=FIND_TIMEOUT_MS,
                          check_params_cb=lambda index, count: (index, count) == (-1, 0)):
        viewer.find_text("quetzalcoatl")
        assert _status(viewer) == "Searching…"
    assert _status(viewer) == "Not found"
    viewer.find_text("quetzalcoatl")  # Enter again: still nothing, said at once
    assert _status(viewer) == "Not found"


def test_a_search_over_another_document_starts_again(qtbot: QtBot, viewer: Viewer, pdf: Path,
                                                     docs_dir: Path) -> None:
    with qtbot.waitSignal(viewer.found, timeout=FIND_TIMEOUT_MS):
        viewer.find_text(RARE)
    other = docs_dir / "other.pdf"
    doc = pymupdf.open()
    for _ in range(3):
        doc.new_page()
    doc[2].insert_text((72, 100), f"Only here: the {RARE} again.", fontsize=11)
    doc.save(other)
    doc.close()
    assert viewer.show_pdf(other, "Other", 1)
    qtbot.waitUntil(lambda: viewer.search_model.status() is QPdfSearchModel.Status.Finished
                    and viewer.search_model.count() == 1, timeout=FIND_TIMEOUT_MS)
    viewer.find_text(RARE)
    assert _status(viewer) == "1 of 1" and viewer.current_page == 3
    _assert_highlighted(viewer, other, RARE, 3)
