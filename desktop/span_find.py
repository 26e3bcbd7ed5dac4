"""Where a citation's supporting sentence sits in the viewer (issue 17, span-exact citations):
its rectangles on a PDF page, or its place in a document shown as text.

core/support.py gives each cited sentence of an answer the sentence of source n that supports it
best (a Span: its text and the passage's page). The viewer shows the whole passage lightly and
that sentence strongly. The rectangles are core's (core/span_rects.py: from PyMuPDF's words of
the page, read in the reader child process), the same as `folio ask --json` gives; until they
come (the reader may be starting or busy), and where core found none, they are found here in
the PDF's own text (pdfium's, through QPdfDocument) with core's matching: line breaks, hyphens
at line ends and ligatures folded away, within the passage where the sentence occurs twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtPdf import QPdfDocument

from core.answer_types import Citation, Span
from core.span_rects import find_all, fold, inside_share, locate_sentence, overlap
from core.types import Rect

__all__ = ["SpanCitation", "find_all", "fold", "locate_sentence", "sentence_rects"]


@dataclass(frozen=True, slots=True)
class SpanCitation(Citation):
    """A citation as clicked in a sentence of a fresh answer: with the sentence of the source
    that supports it (kept conversations have none: their citations stay plain Citations)."""

    span: Span | None = None


def sentence_rects(document: QPdfDocument, span: Span, passage: Sequence[Rect]) -> list[Rect]:
    """The rectangles (PDF points from the top-left) of span's sentence on its page, or on a
    later page the passage runs onto; the occurrence inside the passage where there are several;
    [] when the PDF's text does not hold it."""
    pages = [span.page, *sorted({r.page for r in passage} - {span.page})]
    for page in pages:
        if not 1 <= page <= document.pageCount():
            continue
        text = document.getAllText(page - 1).text()
        hits = find_all(text, span.text)
        candidates = [_rects_of(document, page, start, end) for start, end in hits]
        candidates = [c for c in candidates if c]
        if not candidates:
            continue
        on_page = [r for r in passage if r.page == page]
        best = max(candidates, key=lambda rects: inside_share(rects, on_page))
        return _fit_to_lines(best, on_page)
    return []


def _rects_of(document: QPdfDocument, page: int, start: int, end: int) -> list[Rect]:
    selection = document.getSelectionAtIndex(page - 1, start, end - start)
    out = []
    for polygon in selection.bounds():
        box = polygon.boundingRect()
        if box.width() > 0 and box.height() > 0:
            out.append(Rect(page, box.left(), box.top(), box.right(), box.bottom()))
    return out


def _fit_to_lines(rects: Sequence[Rect], passage: Sequence[Rect]) -> list[Rect]:
    """Each rectangle given the height of the passage's line it lies on, and kept within it:
    pdfium's boxes hug the glyphs, the passage's lines are a little taller."""
    out = []
    for r in rects:
        line = max(passage, key=lambda p: overlap(r, p), default=None)
        if line is None or overlap(r, line) <= 0:
            out.append(r)
            continue
        out.append(Rect(r.page, max(r.x0, line.x0), line.y0, min(r.x1, line.x1), line.y1))
    return out
