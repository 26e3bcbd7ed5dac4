"""Heading paths on real filings and on outlined PDFs: what a passage's section reads like."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from core.readers.paged import read as read_pdf
from core.types import ReadResult

FILINGS = Path(__file__).resolve().parents[3] / "shared" / "data" / "filings"
pytestmark = pytest.mark.skipif(not FILINGS.is_dir(), reason="../shared/data/filings is absent")
ITEM_7 = "Item 7. Management’s Discussion and Analysis of Financial Condition and Results of Operations"


@pytest.fixture(scope="module")
def oracle() -> ReadResult:
    return read_pdf(FILINGS / "ORACLE_2015_10K.pdf", "ORACLE_2015_10K")


@pytest.fixture(scope="module")
def apple() -> ReadResult:
    return read_pdf(FILINGS / "APPLE_2022_10K.pdf", "APPLE_2022_10K")


def paragraph_with(result: ReadResult, words: str, page: int | None = None) -> tuple[str, ...]:
    return next(p.headings for p in result.paragraphs
                if words in p.text and page in (None, p.page))


def test_a_10k_passage_sits_under_its_part_item_and_section(apple: ReadResult,
                                                             oracle: ReadResult) -> None:
    # Apple's 10-K has an outline; Oracle's has none and sets every heading in bold body type.
    assert paragraph_with(apple, "iPhone net sales increased during 2022") == (
        "PART II", ITEM_7, "Products and Services Performance")
    assert paragraph_with(oracle, "Oracle Corporation provides products and services", 41) == (
        "PART II", ITEM_7, "Business Overview")
    assert paragraph_with(oracle, "Oracle Corporation was incorporated")[:2] == (
        "PART I", "Item 1. Business")


@pytest.mark.parametrize("name", ["ORACLE_2015_10K", "AES_2021_10K", "APPLE_2022_10K"])
def test_the_cover_page_heads_nothing_after_it(name: str) -> None:
    result = read_pdf(FILINGS / f"{name}.pdf", name)
    later = [p for p in result.paragraphs if p.page >= 5]
    assert later
    for paragraph in later:
        banner = {"UNITED STATES SECURITIES AND EXCHANGE COMMISSION", "FORM 10-K"}
        assert not banner & {h.upper() for h in paragraph.headings}, paragraph.headings
    # the metadata's title, else the file's name; not the cover's banner, nor an id
    assert result.title in (name, "ORACLE CORP")


def test_a_running_title_is_not_a_new_section_on_every_page(oracle: ReadResult) -> None:
    continued = [p for p in oracle.paragraphs if any("(Continued)" in h for h in p.headings)]
    assert continued == []
    # the note a page continues is still its section
    path = paragraph_with(oracle, "The changes in the carrying amounts of goodwill")
    assert path[-1] == "7. INTANGIBLE ASSETS AND GOODWILL", path


def test_the_outline_gives_the_levels_when_the_fonts_do_not(tmp_path: Path) -> None:
    """Every heading in the same bold type: only the bookmarks tell chapter from section."""
    doc = pymupdf.open()
    toc = []
    body = ("The lighthouse keeper logged the weather at dawn and dusk, and the log "
            "was read by every sailor who came ashore in the harbour that year. ") * 3
    for chapter, name in ((1, "Harbour life"), (2, "Storms at sea")):
        page = doc.new_page()
        y = 120.0
        for title, level in ((name, 1),
                             (f"Keepers of harbour {chapter}", 2), (f"Weather logs {chapter}", 2)):
            page.insert_text((72, y), title, fontname="hebo", fontsize=11)
            toc.append([level, title, chapter])
            y += 36
            page.insert_textbox(pymupdf.Rect(72, y, 520, y + 90), body, fontname="helv",
                                fontsize=11)
            y += 110
    doc.set_toc(toc)
    path = tmp_path / "outlined.pdf"
    doc.save(path)
    result = read_pdf(path, "outlined")
    sections = {p.headings for p in result.paragraphs}
    assert ("Storms at sea", "Weather logs 2") in sections
    assert ("Harbour life", "Keepers of harbour 1") in sections
