"""PDFs end to end on real PyMuPDF, SQLite and the bundled model: pages, labels, rectangles."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from core.library import Library
from core.readers.paged import read as read_pdf
from core.types import AddStatus, DocStatus, FailureKind, Rect
from tests.core.test_library import assert_consistent, snapshot
from tests.fixtures import docs as fx


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> fx.ReportPdf:
    return fx.make_report_pdf(tmp_path_factory.mktemp("report"))


def page_text(path: Path, page: int, rect: Rect) -> str:
    with pymupdf.open(path) as doc:
        return str(doc[page - 1].get_textbox(pymupdf.Rect(rect.x0, rect.y0, rect.x1, rect.y1)))


def test_reader_drops_furniture_joins_hyphens_and_orders_columns(report: fx.ReportPdf) -> None:
    result = read_pdf(report.path, "report")
    assert result.title == report.title
    assert result.page_count == report.page_count
    assert result.page_labels == report.labels
    texts = [p.text for p in result.paragraphs]
    everything = "\n".join(texts)
    assert report.header not in everything
    assert not any(footer in everything for footer in report.footers.values())
    assert report.hyphenated_word in everything
    assert "".join(report.hyphenated_parts) not in everything  # "main-tenance" is gone
    # the cross-page paragraph is one paragraph with lines on both pages
    cross = next(p for p in result.paragraphs if report.cross_page_sentence in p.text)
    assert {r.page for r in cross.rects} == set(report.cross_page_pages)
    # two columns: the whole left column is read before the right one
    left = everything.index(report.left_column_last_sentence)
    right = everything.index(report.right_column_first_sentence)
    assert left < right
    between = everything[left + len(report.left_column_last_sentence):right]
    assert between.strip() == ""  # nothing of the right column slipped in before
    # headings become the section path
    budget = next(p for p in result.paragraphs if "brimblewick" in p.text)
    assert budget.headings[-2:] == ("2 Finances", "2.1 Donations")


def test_report_pages_labels_and_rects_in_the_library(
        library: Library, report: fx.ReportPdf) -> None:
    [outcome] = library.add([report.path])
    assert outcome.status is AddStatus.ADDED
    [doc] = library.documents()
    assert (doc.title, doc.pages, doc.doc_type) == (report.title, 5, "pdf")
    stored = library.stored_file(doc)
    assert stored is not None
    for word, page in report.unique_words.items():
        rows = library.db.execute(
            "SELECT p.id, p.page_start, p.page_end, p.page_label FROM passages_fts f "
            "JOIN passages p ON p.id = f.rowid WHERE passages_fts MATCH ?", (word,)).fetchall()
        assert len(rows) == 1, word
        passage_id, start, end, label = rows[0]
        assert start <= page <= end, word
        assert label == report.labels[start - 1]
        rects = [Rect(*r) for r in library.db.execute(
            "SELECT page, x0, y0, x1, y1 FROM passage_rects WHERE passage_id = ? ORDER BY seq",
            (passage_id,))]
        # the highlight: some rectangle on the word's page really covers the word
        assert any(word in page_text(stored, page, r) for r in rects if r.page == page), word
    # the passage holding the cross-page paragraph keeps rectangles on both pages
    [(pid, start, end)] = library.db.execute(
        "SELECT id, page_start, page_end FROM passages WHERE instr(text, ?) > 0",
        (report.cross_page_sentence,)).fetchall()
    assert (start, end) == report.cross_page_pages
    pages = {r[0] for r in library.db.execute(
        "SELECT page FROM passage_rects WHERE passage_id = ?", (pid,))}
    assert pages == set(report.cross_page_pages)
    # passages start and end at sentence ends and fit the model
    for text, tokens in library.db.execute("SELECT text, token_count FROM passages"):
        assert text[0].isupper() or text[0].isdigit(), text[:40]
        assert text.rstrip()[-1] in ".!?:", text[-40:]
        assert tokens <= 254
    assert_consistent(library)


def test_ruled_table_stays_a_table(library: Library, docs_dir: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_text((72, 80), "Battery warranty terms", fontsize=18)
    page.insert_text((72, 110), "The warranty depends on the model, as the table shows.",
                     fontsize=11)
    rows = [("Model", "Warranty", "Cycles"), ("BX-100", "24 months", "800"),
            ("BX-200", "36 months", "1200"), ("BX-300", "60 months", "3000")]
    x = [72, 222, 372, 522]
    top = 130
    for i in range(len(rows) + 1):
        page.draw_line((x[0], top + 24 * i), (x[-1], top + 24 * i))
    for xi in x:
        page.draw_line((xi, top), (xi, top + 24 * len(rows)))
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            page.insert_text((x[c] + 6, top + 24 * r + 16), cell, fontsize=11)
    path = docs_dir / "warranty.pdf"
    doc.save(path)
    result = read_pdf(path, "warranty")
    [table] = [p for p in result.paragraphs if p.kind == "table"]
    lines = table.text.splitlines()
    assert lines[0].replace(" ", "") == "|Model|Warranty|Cycles|"
    assert lines[3].replace(" ", "") == "|BX-200|36months|1200|"
    assert not any("BX-200" in p.text for p in result.paragraphs if p.kind != "table")
    library.add([path])
    [text] = [t for (t,) in library.db.execute("SELECT text FROM passages")
              if "BX-300" in t]
    assert "| BX-300 | 60 months | 3000 |" in text
    assert text.startswith("The warranty depends on the model")  # packed with its lead-in


@pytest.mark.parametrize(("maker", "kind", "words"), [
    (fx.make_broken_pdf, FailureKind.DAMAGED, "damaged beyond repair"),
    (fx.make_encrypted_pdf, FailureKind.ENCRYPTED, "password-protected"),
    (fx.make_image_only_pdf, FailureKind.NO_TEXT, "OCR found no words"),
    (fx.make_zero_text_pdf, FailureKind.NO_TEXT, "contains no text"),
    (fx.make_empty_file, FailureKind.EMPTY, "empty"),
], ids=["broken", "encrypted", "image-only", "blank-page", "zero-bytes"])
def test_bad_pdfs_fail_clearly_and_change_nothing(
        library: Library, docs_dir: Path, maker: object, kind: FailureKind, words: str) -> None:
    note = docs_dir / "note.md"
    note.write_text("# Note\n\nA good document added first.", encoding="utf-8")
    library.add([note])
    before = snapshot(library)
    bad = maker(docs_dir)  # type: ignore[operator]
    [outcome] = library.add([bad])
    assert outcome.status is AddStatus.FAILED
    assert words in str(outcome.reason)
    failed = [d for d in library.documents() if d.status is DocStatus.FAILED]
    assert [(d.error_kind, d.original_path) for d in failed] == [(kind.value, str(bad))]
    after = snapshot(library)
    assert after["passages"] == before["passages"] and after["files"] == before["files"]
    assert_consistent(library)


def test_owner_password_only_pdf_is_read(library: Library, docs_dir: Path) -> None:
    path = fx.make_owner_only_encrypted_pdf(docs_dir)
    [outcome] = library.add([path])
    assert outcome.status is AddStatus.ADDED
    [(text,)] = library.db.execute("SELECT text FROM passages").fetchall()
    assert fx.OWNER_ONLY_TEXT.split()[0] in text


def test_truncated_pdf_is_repaired_and_noted_or_refused(
        library: Library, docs_dir: Path, report: fx.ReportPdf) -> None:
    path = fx.make_truncated_pdf(docs_dir, report.path)
    [outcome] = library.add([path])
    if outcome.status is AddStatus.ADDED:
        assert any("repaired" in n for n in outcome.notes)
        [doc] = library.documents()
        assert doc.notes is not None and "repaired" in doc.notes
    else:
        assert outcome.status is AddStatus.FAILED and "damaged" in str(outcome.reason)
    assert_consistent(library)
