"""Where a citation's supporting sentence sits (issue 17, span-exact citations): its rectangles on
a PDF page, or its place in a document shown as text.

core/support.py gives each cited sentence of an answer the sentence of source n that supports it
best (a Span: its text and the passage's page). The viewer shows the whole passage lightly and
that sentence strongly; the sentence's rectangles are found here in the PDF's own text (pdfium's,
through QPdfDocument), within the passage where it occurs more than once. The passage's text was
read by core's extractor, not by pdfium, so the two may differ in line breaks, hyphens at line
ends and ligatures: both are compared with those folded away, and a sentence not found whole
(it runs into a table, a footnote mark) is found by its first and last words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtPdf import QPdfDocument

from core.answer_types import Citation, Span
from core.types import Rect

MIN_WORDS = 4  # a prefix or suffix shorter than this could be anywhere on the page
_LINE_HYPHEN = re.compile(r"(?<=\w)[-\u00ad]\s*[\r\n]+\s*(?=\w)")


@dataclass(frozen=True, slots=True)
class SpanCitation(Citation):
    """A citation as clicked in a sentence of a fresh answer: with the sentence of the source
    that supports it (kept conversations have none: their citations stay plain Citations)."""

    span: Span | None = None


def fold(text: str) -> tuple[str, list[int]]:
    """text with hyphens at line ends removed, whitespace runs made one space, ligatures and
    case folded; and for each character of that, the index in text it came from."""
    out: list[str] = []
    where: list[int] = []
    skip_to = -1
    hyphens = {m.start(): m.end() for m in _LINE_HYPHEN.finditer(text)}
    for i, ch in enumerate(text):
        if i < skip_to:
            continue
        if i in hyphens:
            skip_to = hyphens[i]
            continue
        if ch.isspace():
            if out and out[-1] != " ":
                out.append(" ")
                where.append(i)
            continue
        for piece in unicodedata.normalize("NFKC", ch).casefold():
            out.append(piece)
            where.append(i)
    return "".join(out), where


def _occurrences(haystack: str, needle: str) -> list[int]:
    found, start = [], haystack.find(needle)
    while start >= 0 and needle:
        found.append(start)
        start = haystack.find(needle, start + 1)
    return found


def find_all(text: str, sentence: str) -> list[tuple[int, int]]:
    """Every place (start, end in text) the sentence sits in text: whole where it can be, else
    from its longest first words found to its longest last words after them."""
    folded, where = fold(text)
    words = fold(sentence)[0].strip().split(" ")
    if not folded or not words or not words[0]:
        return []

    def back(start: int, end: int) -> tuple[int, int]:
        return where[start], where[end - 1] + 1

    whole = " ".join(words)
    hits = [back(s, s + len(whole)) for s in _occurrences(folded, whole)]
    if hits:
        return hits
    for k in range(len(words) - 1, MIN_WORDS - 1, -1):
        head = " ".join(words[:k])
        starts = _occurrences(folded, head)
        if not starts:
            continue
        out = []
        for s in starts:
            end = s + len(head)
            limit = s + 2 * len(whole)  # the rest of the sentence, give or take
            for j in range(k, len(words) - MIN_WORDS + 1):
                tail = " ".join(words[j:])
                t = folded.find(tail, end, limit + len(tail))
                if t >= 0:
                    end = t + len(tail)
                    break
            out.append(back(s, end))
        return out
    return []


def locate_sentence(text: str, sentence: str, within: tuple[int, int] | None = None
                    ) -> tuple[int, int] | None:
    """Where sentence sits in text, preferring a place inside within (the passage's span)."""
    hits = find_all(text, sentence)
    if within is not None:
        inside = [h for h in hits if within[0] <= h[0] < within[1]]
        hits = inside or hits
    return hits[0] if hits else None


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
        best = max(candidates, key=lambda rects: _inside_share(rects, on_page))
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


def _overlap(a: Rect, b: Rect) -> float:
    """The area a and b share."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(0.0, w) * max(0.0, h)


def _inside_share(rects: Sequence[Rect], passage: Sequence[Rect]) -> float:
    area = sum((r.x1 - r.x0) * (r.y1 - r.y0) for r in rects) or 1.0
    return sum(_overlap(r, p) for r in rects for p in passage) / area


def _fit_to_lines(rects: Sequence[Rect], passage: Sequence[Rect]) -> list[Rect]:
    """Each rectangle given the height of the passage's line it lies on, and kept within it:
    pdfium's boxes hug the glyphs, the passage's lines are a little taller."""
    out = []
    for r in rects:
        line = max(passage, key=lambda p: _overlap(r, p), default=None)
        if line is None or _overlap(r, line) <= 0:
            out.append(r)
            continue
        out.append(Rect(r.page, max(r.x0, line.x0), line.y0, min(r.x1, line.x1), line.y1))
    return out
