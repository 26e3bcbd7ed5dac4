"""Numbered headings and running titles (core/readers/headings.py): headings alike but for their
numbers ("Chapter 2: Site 2", "Chapter 3: Site 3") are each a section, while a running title, the
same on most pages but for a page number, is left out after its first page; so a whole-document
answer walks the chapters (core/outline.py), not page ranges.

PDFs made with PyMuPDF, read by the real reader; the outline test indexes one in a library."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from core import outline
from core.engine import Engine
from core.library import Library
from core.readers.paged import read as read_pdf
from core.store import queries, summaries

CHAPTERS = 4
SITES = ("Reed beds", "Old weir", "North meadow", "Alder carr")
BIRDS = ("heron", "grebe", "kingfisher", "dipper")


def survey(path: Path, heading: str, pages_per_chapter: int = 3,
           running: str | None = None) -> Path:
    """CHAPTERS chapters of pages_per_chapter pages, each chapter's heading (heading.format(n=
    its number)) at the top of its first page, in large type, or under the running title
    (running.format(page=the printed page number, two ahead of the PDF's)) that tops every
    page in bold body type, below the top margin as 10-K running titles are."""
    doc = pymupdf.open()
    for chapter in range(CHAPTERS):
        for part in range(pages_per_chapter):
            page = doc.new_page()
            y = 100.0
            if running is not None:
                page.insert_text((72, y), running.format(page=page.number + 3), fontname="hebo",
                                 fontsize=10)
                y += 30
            if part == 0:
                page.insert_text((72, y + 10), heading.format(n=chapter + 1), fontsize=18)
                y += 40
            body = (f"At the {SITES[chapter]} the counters walked the bank at dawn, part "
                    f"{part + 1} of the round, and noted every {BIRDS[chapter]}, coot and "
                    "warbler they saw between the weir and the bridge. ") * 4
            page.insert_textbox(pymupdf.Rect(72, y, 520, y + 300), body, fontname="helv",
                                fontsize=10)
    doc.save(path)
    doc.close()
    return path


def sections_by_page(path: Path) -> dict[int, set[tuple[str, ...]]]:
    found: dict[int, set[tuple[str, ...]]] = {}
    for paragraph in read_pdf(path, path.stem).paragraphs:
        found.setdefault(paragraph.page, set()).add(paragraph.headings)
    return found


@pytest.mark.parametrize(("heading", "pages_per_chapter", "running"), [
    ("Chapter {n}: Site {n}", 3, None),  # each heading first on its page, numbers twice
    ("Site {n} survey", 3, None),
    ("Chapter {n}", 1, None),  # one chapter a page: its number follows the page, still its own
    ("Lesson {n}", 1, None),  # no structure word: its heading type keeps its number
    ("Lesson {n}", 1, "{page} · River survey 2024"),
    ("Chapter {n}: Site {n}", 3, "River survey 2024 | {page}"),
    ("Chapter {n}", 3, "{page} · River survey 2024"),
])
def test_headings_alike_but_for_their_numbers_are_each_a_section(
        tmp_path: Path, heading: str, pages_per_chapter: int, running: str | None) -> None:
    path = survey(tmp_path / "survey.pdf", heading, pages_per_chapter, running)
    found = sections_by_page(path)
    assert sorted(found) == list(range(1, CHAPTERS * pages_per_chapter + 1))
    for page, paths in found.items():
        chapter = heading.format(n=(page - 1) // pages_per_chapter + 1)
        # Every passage sits under its own chapter; the running title heads nothing after its
        # first page (where, as a style seen there alone, it heads its own page only).
        assert all(chapter in p for p in paths), (page, paths)
        if running is not None and page > 1:
            assert all(not any("River survey" in h for h in p) for p in paths), (page, paths)


def test_a_running_title_with_a_page_number_is_dropped(tmp_path: Path) -> None:
    """The same text on every page but for its page number, with no chapters under it."""
    path = survey(tmp_path / "titled.pdf", "", 3, "Annual Report of the Survey — page {page}")
    found = sections_by_page(path)
    assert all(not any(h for p in paths for h in p if "Annual Report" in h)
               for page, paths in found.items() if page > 1), found


def test_a_whole_document_answer_walks_the_numbered_chapters(tmp_path: Path,
                                                             engine: Engine) -> None:
    path = survey(tmp_path / "survey.pdf", "Chapter {n}: Site {n}")
    with Library.open(tmp_path / "library", engine) as library:
        with library.db:  # `folio` commands would add the sample guide on a library's first use
            queries.set_meta(library.db, "sample_added", "by the test")
        outcome, = library.add([path])
        assert outcome.document_id is not None
        sections = outline.sections_of(summaries.document_passages(library.db,
                                                                   outcome.document_id), 1800)
    assert [s.heading for s in sections] == [f"Chapter {n}: Site {n}"
                                             for n in range(1, CHAPTERS + 1)]
    assert [(s.page_start, s.page_end) for s in sections] == [(1, 3), (4, 6), (7, 9), (10, 12)]
