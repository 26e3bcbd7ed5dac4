"""The supporting sentence's own rectangles (core/span_rects.py): the words of its PDF page, read
in the reader child, matched to the span's text. Compared with PyMuPDF's search_for of the same
sentence on a PDF made here; answers written by the test Ollama server."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest

from core import span_rects
from core.answer_types import Answer, AnswerDone, Span
from core.cli import main
from core.library import Library
from core.types import Rect
from tests.ollama_server import FakeOllama

# Page 2 of the PDF: one paragraph, its second sentence running from the middle of line 1 to
# the middle of line 3.
LINES = [
    "The harbour board met on a wet Tuesday. It agreed that the quarterly",
    "audit of the northern warehouse had found eleven pallets of brass",
    "fittings stored under the wrong name. The clerk will relabel them",
    "before the spring inspection begins in earnest.",
]
ACROSS = ("It agreed that the quarterly audit of the northern warehouse had found eleven pallets "
          "of brass fittings stored under the wrong name.")
ON_ONE_LINE = "The harbour board met on a wet Tuesday."
QUESTION = "What did the quarterly audit of the northern warehouse find?"


def make_pdf(directory: Path) -> Path:
    doc = pymupdf.open()
    cover = doc.new_page()
    cover.insert_text((72, 100), "Harbour board minutes", fontsize=20)
    page = doc.new_page()
    for i, line in enumerate(LINES):
        page.insert_text((72, 120 + 14 * i), line, fontsize=11)
    path = directory / "minutes.pdf"
    doc.save(path)
    doc.close()
    return path


def searched(path: Path, page: int, sentence: str) -> list[Rect]:
    """PyMuPDF's own rectangles of sentence on page: one per line it covers."""
    with pymupdf.open(path) as doc:
        return [Rect(page, r.x0, r.y0, r.x1, r.y1) for r in doc[page - 1].search_for(sentence)]


def same(a: list[Rect], b: list[Rect], slack: float = 0.5) -> bool:
    return len(a) == len(b) and all(
        x.page == y.page and all(abs(p - q) <= slack for p, q in zip(
            (x.x0, x.y0, x.x1, x.y1), (y.x0, y.y0, y.x1, y.y1), strict=True))
        for x, y in zip(a, b, strict=True))


@pytest.fixture
def minutes(library: Library, docs_dir: Path, fake_ollama: FakeOllama) -> Path:
    path = make_pdf(docs_dir)
    library.add([path])
    library.set_setting("ollama-host", fake_ollama.host)
    return path


def answer(library: Library, reply: str, server: FakeOllama) -> Answer:
    server.reply = reply
    for event in library.ask(QUESTION, k=2, save=False):
        if isinstance(event, AnswerDone):
            return event.answer
    raise AssertionError("no answer")


def test_a_span_across_a_line_break_has_the_rectangles_of_its_words(
        library: Library, minutes: Path, fake_ollama: FakeOllama) -> None:
    found = span_rects.with_rects(library, answer(
        library, "The audit found eleven pallets of brass fittings stored under the wrong name "
        "[1].", fake_ollama))
    [span] = found.support[0].spans
    assert span.text == ACROSS and span.page == 2
    expected = searched(minutes, 2, ACROSS)
    assert len(expected) == 3  # the sentence's three lines
    assert same(list(span.rects), expected)
    # its first line's rectangle starts at "It", its last ends at "name.": a sentence, not lines
    assert span.rects[0].x0 > 150 and span.rects[2].x1 < 300


def test_a_span_on_one_line_and_the_json_of_folio_ask(
        library: Library, minutes: Path, fake_ollama: FakeOllama,
        capsys: pytest.CaptureFixture[str]) -> None:
    fake_ollama.reply = "The harbour board met on a wet Tuesday [1]."
    assert main(["ask", QUESTION, "--json", "-k", "2", "--library", str(library.root)]) == 0
    data = json.loads(capsys.readouterr().out)
    span = data["citations"][0]["span"]
    assert span["text"] == ON_ONE_LINE and span["page"] == 2
    rects = [Rect(r["page"], r["x0"], r["y0"], r["x1"], r["y1"]) for r in span["rects"]]
    assert same(rects, searched(minutes, 2, ON_ONE_LINE))
    assert data["support"][0]["spans"][0]["rects"] == span["rects"]


def test_a_span_not_on_the_page_has_no_rectangles(
        library: Library, minutes: Path, fake_ollama: FakeOllama) -> None:
    found = answer(library, "The audit found eleven pallets [1].", fake_ollama)
    doc_id = found.citations[0].document_id
    placer = span_rects.SpanPlacer(library)
    elsewhere = Span(1, "The lighthouse keeper painted the gallery railings green.", 2, 0.9, True)
    assert placer.rects(doc_id, elsewhere) == ()
    on_cover = Span(1, ACROSS, 1, 0.9, True)  # the right words, the wrong page
    assert placer.rects(doc_id, on_cover) == ()
    assert placer.rects(doc_id, Span(1, ACROSS, 9, 0.9, True)) == ()  # no such page


def test_a_document_that_is_not_a_pdf_has_no_rectangles(
        library: Library, docs_dir: Path, fake_ollama: FakeOllama) -> None:
    (docs_dir / "minutes.md").write_text("# Minutes\n\n" + " ".join(LINES), encoding="utf-8")
    library.add([docs_dir / "minutes.md"])
    library.set_setting("ollama-host", fake_ollama.host)
    found = span_rects.with_rects(library, answer(
        library, "The audit found eleven pallets of brass fittings [1].", fake_ollama))
    [span] = found.support[0].spans
    assert span.text == ACROSS and span.rects == ()


def test_words_matched_to_a_sentence_twice_on_a_page_take_the_one_in_the_passage() -> None:
    sentence = "Pay the toll twice"
    words = [span_rects.Word(10 + 30 * i, y, 38 + 30 * i, y + 10, w, b, 0)
             for b, y in ((0, 100), (1, 300)) for i, w in enumerate(sentence.split(" "))]
    lower = span_rects.rects_in_words(words, sentence, 3, [Rect(3, 0, 295, 200, 315)])
    assert [(r.y0, r.y1) for r in lower] == [(300, 310)]
    assert span_rects.rects_in_words(words, "Pay no toll", 3) == []


def test_a_damaged_stored_copy_costs_the_rectangles_not_the_answer(
        library: Library, minutes: Path, fake_ollama: FakeOllama) -> None:
    found = answer(library, "The audit found eleven pallets of brass fittings [1].", fake_ollama)
    doc = library.document(found.citations[0].document_id)
    assert doc is not None
    stored = library.stored_file(doc)
    assert stored is not None
    stored.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 1000)  # MuPDF fails on it in the child
    placed = span_rects.with_rects(library, found)
    assert placed.support[0].spans[0].rects == ()
    assert placed.support[0].spans[0].text == ACROSS  # the rest of the answer is untouched


def test_a_word_hyphenated_at_a_line_end_is_found_as_the_passage_joined_it() -> None:
    words = [span_rects.Word(10, 100, 60, 110, "The", 0, 0),
             span_rects.Word(62, 100, 120, 110, "mainte-", 0, 0),
             span_rects.Word(10, 112, 60, 122, "nance", 0, 1),
             span_rects.Word(62, 112, 120, 122, "crew.", 0, 1)]
    rects = span_rects.rects_in_words(words, "The maintenance crew.", 1)
    assert [(r.x0, r.y0, r.x1, r.y1) for r in rects] == [(10, 100, 120, 110), (10, 112, 120, 122)]
