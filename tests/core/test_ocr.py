"""OCR of scanned pages: real scans made by code, MuPDF's real Tesseract, the real library.

OCR costs about 0.3 s a page here when the machine is idle (several seconds when it is shared),
so each test reads only a page or two.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from core.library import Library
from core.readers import ocr, paged
from core.resources import resource_path
from core.types import AddStatus, ReadOptions
from tests.fixtures import scans

RARE = "quillmarrow"  # a made-up word: only the scanned page has it


def _dp_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def _read(page: pymupdf.Page, options: ReadOptions | None = None) -> tuple[str, list[tuple[Any, ...]]]:
    textpage = ocr.textpage(page, options or ReadOptions())
    return (page.get_text("text", textpage=textpage),
            page.get_text("words", textpage=textpage))


def _centre(rect: tuple[float, float, float, float]) -> tuple[float, float]:
    return (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2


def _placed_share(truth: scans.ScanPage, words: list[tuple[Any, ...]], lines: float = 0.5) -> float:
    """The share of true words that OCR read with the same text at the same place: its centre
    within lines line pitches of the true word's centre across the line, and inside its extent
    along it."""
    placed = 0
    for word in truth.words:
        cx, cy = _centre(word.rect)
        width, height = word.rect[2] - word.rect[0], word.rect[3] - word.rect[1]
        along_x = width >= height  # the line runs across the page, or down it on a sideways page
        for found in words:
            if found[4].strip(".,;:") != word.text.strip(".,;:"):
                continue
            fx, fy = _centre(found[:4])
            across, along = (abs(fy - cy), abs(fx - cx)) if along_x else (abs(fx - cx),
                                                                           abs(fy - cy))
            if across < lines * scans.LINE_PITCH and along < max(width, height) / 2:
                placed += 1
                break
    return placed / len(truth.words)


def test_edit_distance_is_levenshtein() -> None:
    assert scans.levenshtein("kitten", "sitting") == 3
    assert scans.levenshtein("", "abc") == 3 and scans.levenshtein("abc", "") == 3
    rng = random.Random(7)
    for _ in range(300):
        a = "".join(rng.choice("ab c") for _ in range(rng.randint(0, 70)))
        b = "".join(rng.choice("abcd ") for _ in range(rng.randint(0, 70)))
        assert scans.levenshtein(a, b) == _dp_distance(a, b)
    assert scans.cer("The  roof\nleaks.", "The roof leaks.") == 0.0


def test_a_clean_300_dpi_scan_reads_under_3_percent_errors_with_each_word_in_place() -> None:
    doc = pymupdf.open()
    truth = scans.add_scanned_page(doc, scans.prose(1))
    page = doc[0]
    assert not ocr.has_text(page.get_text("dict"))
    assert ocr.image_share(page) >= ocr.IMAGE_COVER_SHARE and ocr.scan_dpi(page) == 300
    text, words = _read(page)
    assert scans.cer(truth.text, text) < 0.03
    # A tilted line's words get the line's height (MuPDF boxes them along the line): within a line.
    assert _placed_share(truth, words, lines=1.0) > 0.955


@pytest.mark.parametrize(("dpi", "angle", "noise"), [(300, -3.0, 20.0), (150, 2.0, 20.0)])
def test_a_tilted_noisy_scan_still_reads(dpi: int, angle: float, noise: float) -> None:
    doc = pymupdf.open()
    truth = scans.add_scanned_page(doc, scans.prose(2), dpi=dpi, angle=angle, noise=noise, seed=2)
    page = doc[0]
    # Read at the scan's own resolution: resampling a noisy 150 dpi scan to 300 dpi made 11% errors.
    assert ocr.scan_dpi(page) == dpi
    text, words = _read(page)
    assert scans.cer(truth.text, text) < 0.03
    # A tilted line's words get the line's height (MuPDF boxes them along the line): within a line.
    assert _placed_share(truth, words, lines=1.0) > 0.95


def test_a_page_scanned_sideways_is_turned_and_its_words_stay_where_they_are_drawn() -> None:
    doc = pymupdf.open()
    truth = scans.add_sideways_page(doc, scans.prose(3), dpi=200)
    page = doc[0]
    assert ocr.looks_sideways(page)
    _, words = _read(page)
    assert page.rotation == 0  # turned to read, and back
    read = sorted(w[4] for w in words)
    assert scans.cer(" ".join(sorted(w.text for w in truth.words)), " ".join(read)) < 0.03
    assert _placed_share(truth, words) > 0.95


def test_upright_pages_are_not_taken_for_sideways_ones() -> None:
    doc = pymupdf.open()
    scans.add_scanned_page(doc, scans.prose(4), dpi=150, angle=3.0, noise=25.0)
    scans.add_scanned_page(doc, scans.prose(5, lines=4), dpi=200)
    scans.add_small_scan_page(doc, scans.prose(6, lines=8), share=0.2, dpi=200)
    assert [ocr.looks_sideways(doc[n]) for n in range(doc.page_count)] == [False, False, False]


def test_a_mixed_pdf_reads_only_its_scanned_pages_by_ocr(tmp_path: Path) -> None:
    doc = pymupdf.open()
    made = [scans.add_text_page(doc, scans.prose(10)),
            scans.add_scanned_page(doc, scans.prose(11), dpi=200, angle=1.0, noise=10.0),
            scans.add_text_page(doc, scans.prose(12)),
            # a receipt-sized scan that is all the page holds (30% of it) is read too
            scans.add_small_scan_page(doc, scans.prose(13, lines=10, width=40), share=0.3)]
    path = scans.save(doc, tmp_path / "mixed.pdf")
    reported: list[tuple[int, str]] = []
    result = paged.read(path, "mixed", on_page=lambda done, total, what: reported.append(
        (done, what)))
    assert reported == [(1, ""), (2, "OCR"), (3, ""), (4, "OCR")]
    assert result.ocr_pages == 2
    assert "2 page(s) read by OCR (eng)" in result.notes
    for page in made:
        got = " ".join(p.text for p in result.paragraphs if p.page == page.number)
        assert scans.cer(page.text, got) < 0.03, page.number


def test_with_ocr_off_a_mixed_pdf_keeps_its_text_and_counts_each_skipped_scan_once(
        tmp_path: Path) -> None:
    doc = pymupdf.open()
    scans.add_text_page(doc, scans.prose(20))
    scans.add_scanned_page(doc, scans.prose(21), dpi=150)
    scans.add_scanned_page(doc, scans.prose(22), dpi=150)
    path = scans.save(doc, tmp_path / "mixed.pdf")
    result = paged.read(path, "mixed", options=ReadOptions(ocr=False))
    assert result.ocr_pages == 0 and {p.page for p in result.paragraphs} == {1}
    assert ("2 page(s) are images without a text layer and were skipped: OCR is off"
            in result.notes), result.notes


def test_a_missing_language_is_named_and_only_the_scanned_pages_are_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TESSDATA_PREFIX", raising=False)
    doc = pymupdf.open()
    scans.add_text_page(doc, scans.prose(20))
    scans.add_scanned_page(doc, scans.prose(21, lines=4), dpi=150)
    path = scans.save(doc, tmp_path / "mixed.pdf")
    options = ReadOptions(ocr_languages="eng+deu", tessdata_dir=str(tmp_path))
    result = paged.read(path, "mixed", options=options)
    assert result.ocr_pages == 0 and {p.page for p in result.paragraphs} == {1}
    [note] = [n for n in result.notes if "skipped" in n]
    assert "deu.traineddata" in note and "eng.traineddata" not in note
    assert str(tmp_path) in note and str(resource_path("tessdata")) in note


# Tesseract guesses font sizes (13.5-15.7 pt for this 11 pt text): without ocr.even_sizes and
# the document's body size, the scanned page's lines became headings and the rare word landed
# in a heading path, not in a passage.
def test_search_finds_a_word_of_a_scan_on_its_page_and_the_hit_highlights_it(
        tmp_path: Path) -> None:
    doc = pymupdf.open()
    scans.add_text_page(doc, scans.prose(30))
    truth = scans.add_scanned_page(doc, scans.prose(31, rare=RARE), dpi=200, angle=1.5,
                                   noise=12.0, seed=31)
    path = scans.save(doc, tmp_path / "minutes.pdf")
    [where] = [w.rect for w in truth.words if w.text == RARE]
    with Library.open(tmp_path / "lib") as library:
        [outcome] = library.add([path])  # through the sandboxed reader child
        assert outcome.status is AddStatus.ADDED and outcome.ocr_pages == 1
        [document] = library.documents()
        assert "1 page(s) read by OCR (eng)" in (document.notes or "")
        hit = library.search(RARE, mode="keyword", k=3).hits[0]
    assert hit.page == 2 and RARE in hit.text
    cx, cy = _centre(where)
    assert any(r.page == 2 and r.x0 <= cx <= r.x1 and r.y0 <= cy <= r.y1 for r in hit.rects)
    # the highlight is that line, not the page: no rectangle holding the word is taller than two
    # lines of text
    around = [r for r in hit.rects if r.page == 2 and r.x0 <= cx <= r.x1 and r.y0 <= cy <= r.y1]
    assert all(r.y1 - r.y0 < 2 * scans.LINE_PITCH for r in around)


def test_with_ocr_off_a_scan_fails_saying_so(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    scans.make_scan_pdf(path, pages=1, dpi=150)
    with Library.open(tmp_path / "lib") as library:
        library.set_setting("ocr", "off")
        [outcome] = library.add([path])
    assert outcome.status is AddStatus.FAILED
    assert "OCR is off" in (outcome.reason or "")


def test_a_scan_in_a_language_without_its_data_fails_naming_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TESSDATA_PREFIX", raising=False)
    path = tmp_path / "scan.pdf"
    scans.make_scan_pdf(path, pages=1, dpi=150)
    with Library.open(tmp_path / "lib") as library:
        library.set_setting("ocr-languages", "eng+deu")
        [outcome] = library.add([path])
    assert outcome.status is AddStatus.FAILED
    reason = outcome.reason or ""
    assert "deu.traineddata" in reason and str(resource_path("tessdata")) in reason
    assert "ocr-data-dir" in reason


def test_even_sizes_gives_the_body_one_size_and_keeps_a_heading_larger() -> None:
    def span(size: float, text: str) -> dict[str, Any]:
        return {"size": size, "text": text}

    lines = [{"spans": [span(13.5, "The committee met on Tuesday")]},
             {"spans": [span(15.7, "to review the annual budget.")]},
             {"spans": [span(14.6, "Expenses rose by 12 percent.")]},
             {"spans": [span(22.0, "Minutes")]}]
    page_dict = ocr.even_sizes({"blocks": [{"type": 0, "lines": lines}]})
    sizes = [ln["spans"][0]["size"] for ln in page_dict["blocks"][0]["lines"]]
    assert sizes[:3] == [ocr.OCR_BODY_SIZE] * 3
    assert sizes[3] > 1.3 * ocr.OCR_BODY_SIZE


def test_a_scan_stored_turned_with_a_rotate_entry_is_read_at_its_resolution_upright() -> None:
    doc = pymupdf.open()
    scans.add_scanned_page(doc, scans.prose(40, lines=6), dpi=200, quarter_turns=1)
    page = doc[0]
    assert page.rotation == 90 and ocr.scan_dpi(page) == 200
    assert not ocr.looks_sideways(page)  # MuPDF renders it upright: no turning needed
