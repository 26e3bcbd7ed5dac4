"""Where a citation's supporting sentence sits on its PDF page: its rectangles, from the words of
the page (issue 17, span-exact citations).

core/support.py gives each cited sentence of an answer the sentence of source n that supports it
best (a Span: its text and the passage's page). Its rectangles come from PyMuPDF's words of that
page of the library's stored copy, read in the document reader child process (core/sandbox.py)
as the document itself was: a page that makes MuPDF crash or hang costs the highlight, not Folio.
The passage's text was made by core's reader from the same PDF, but it joined lines, removed
hyphens at line ends and ligatures: both sides are compared with those folded away (fold), and
a sentence not found whole (it runs into a table, a footnote mark) is found by its first and
last words (find_all). Where the sentence occurs more than once, the occurrence inside the
passage's own line rectangles is taken. One rectangle per line the sentence covers, from its
first word on that line to its last, PDF points from the top-left (PyMuPDF's coordinates).

Only PDFs have rectangles; any other document's span has none (an empty tuple).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from core.answer_types import Answer, Span
from core.errors import IngestError
from core.types import FailureKind, Rect

if TYPE_CHECKING:
    from core.library import Library

MIN_WORDS = 4  # a prefix or suffix shorter than this could be anywhere on the page
PDF_TYPES = frozenset({"pdf"})
# How long a question waits for the reader to finish a file it is reading (an ingest in the
# same process) before it goes without rectangles.
READER_WAIT_S = 2.0
_LINE_HYPHEN = re.compile(r"(?<=\w)[-\u00ad]\s*[\r\n]+\s*(?=\w)")


class Word(NamedTuple):
    """A word on a page as PyMuPDF's get_text("words") gives it."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    block: int
    line: int


# --- text matching (also used by the desktop on pdfium's text and on a text document's) --------

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


# --- rectangles ------------------------------------------------------------------------------

def overlap(a: Rect, b: Rect) -> float:
    """The area a and b share."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(0.0, w) * max(0.0, h)


def inside_share(rects: Sequence[Rect], passage: Sequence[Rect]) -> float:
    """The share of rects' area that lies in the passage's rectangles."""
    area = sum((r.x1 - r.x0) * (r.y1 - r.y0) for r in rects) or 1.0
    return sum(overlap(r, p) for r in rects for p in passage) / area


def _word_text(words: Sequence[Word]) -> tuple[str, list[int]]:
    """The page's words as text (a space between words, a line break between lines) and, for
    each character, the index of its word (-1 for the separators)."""
    parts: list[str] = []
    owner: list[int] = []
    for i, word in enumerate(words):
        if i:
            previous = words[i - 1]
            parts.append(" " if (previous.block, previous.line) == (word.block, word.line)
                         else "\n")
            owner.append(-1)
        parts.append(word.text)
        owner.extend([i] * len(word.text))
    return "".join(parts), owner


def _line_rects(words: Sequence[Word], chosen: Sequence[int], page: int) -> list[Rect]:
    """One rectangle per line of the chosen words: the union of its words' boxes."""
    lines: dict[tuple[int, int], list[Word]] = {}
    for i in sorted(set(chosen)):
        lines.setdefault((words[i].block, words[i].line), []).append(words[i])
    return [Rect(page, min(w.x0 for w in ws), min(w.y0 for w in ws), max(w.x1 for w in ws),
                 max(w.y1 for w in ws)) for ws in lines.values()]


def rects_in_words(words: Sequence[Word], sentence: str, page: int,
                   passage: Sequence[Rect] = ()) -> list[Rect]:
    """The rectangles of sentence among a page's words: the occurrence that lies most inside
    the passage's rectangles where there are several; [] when the words do not hold it."""
    text, owner = _word_text(words)
    candidates = []
    for start, end in find_all(text, sentence):
        chosen = [owner[i] for i in range(start, end) if owner[i] >= 0]
        if chosen:
            candidates.append(_line_rects(words, chosen, page))
    if not candidates:
        return []
    on_page = [r for r in passage if r.page == page]
    return max(candidates, key=lambda rects: inside_share(rects, on_page))


def child_words(path: str, page: int) -> tuple[Any, ...]:
    """In the reader child (core/sandbox.py): ("ok", the words of page of the PDF at path) or
    ("failed", kind, message). A page the file does not have, or a locked file, has none."""
    import pymupdf

    try:
        with pymupdf.open(Path(path)) as doc:  # type: ignore[no-untyped-call]  # no stubs
            if doc.needs_pass or not 1 <= page <= doc.page_count:
                return ("ok", [])
            rows = doc[page - 1].get_text("words")
        return ("ok", [(float(r[0]), float(r[1]), float(r[2]), float(r[3]), str(r[4]),
                        int(r[5]), int(r[6])) for r in rows])
    except MemoryError:
        return ("failed", FailureKind.MEMORY.value, "Reading the page needs too much memory.")
    except Exception as exc:  # a damaged page costs its highlight
        return ("failed", FailureKind.DAMAGED.value,
                f"Page {page} could not be read ({type(exc).__name__}).")


# --- a library's spans -------------------------------------------------------------------------

class SpanPlacer:
    """Finds spans' rectangles in one library's stored PDFs; each page is read once."""

    def __init__(self, library: Library, wait_s: float = READER_WAIT_S) -> None:
        from core import sandbox  # the reader child's limits are the library's settings

        self.library = library
        self.wait_s = wait_s
        settings = library.settings()
        self.reader = library.engine.reader(sandbox.Limits(
            float(settings["reader-timeout-s"]), int(settings["reader-memory-mb"]),
            float(settings["reader-page-timeout-s"])))
        self._words: dict[tuple[int, int], list[Word]] = {}
        self._files: dict[int, Path | None] = {}

    def _file(self, doc_id: int) -> Path | None:
        """The stored copy of the document when it is a PDF, else None."""
        if doc_id not in self._files:
            doc = self.library.document(doc_id)
            path = self.library.stored_file(doc) if doc is not None and (
                doc.doc_type in PDF_TYPES) else None
            self._files[doc_id] = path if path is not None and path.exists() else None
        return self._files[doc_id]

    def words(self, doc_id: int, page: int) -> list[Word]:
        """The words of a page of a stored PDF ([] for anything else, or a page that fails)."""
        key = (doc_id, page)
        if key not in self._words:
            path = self._file(doc_id)
            try:
                rows = self.reader.page_words(path, page, self.wait_s) if path else []
            except IngestError:
                rows = []
            self._words[key] = [Word(*row) for row in rows]
        return self._words[key]

    def rects(self, doc_id: int, span: Span, passage: Sequence[Rect] = ()) -> tuple[Rect, ...]:
        """The span's rectangles on its page, or on a later page its passage runs onto."""
        if self._file(doc_id) is None:
            return ()
        for page in [span.page, *sorted({r.page for r in passage} - {span.page})]:
            found = rects_in_words(self.words(doc_id, page), span.text, page, passage)
            if found:
                return tuple(found)
        return ()

    def placed(self, doc_id: int, span: Span, passage: Sequence[Rect] = ()) -> Span:
        """span with its rectangles."""
        return dataclasses.replace(span, rects=self.rects(doc_id, span, passage))


def with_rects(library: Library, answer: Answer) -> Answer:
    """answer with each span of its support given its rectangles (none off a PDF)."""
    if not answer.support:
        return answer
    where = {s.n: (s.hit.document_id, s.hit.rects) for s in answer.sources}
    where.update({c.n: (c.document_id, c.rects) for c in answer.citations})
    placer = SpanPlacer(library)

    def placed(span: Span) -> Span:
        if span.n not in where:
            return span
        doc_id, passage = where[span.n]
        return placer.placed(doc_id, span, passage)
    support = tuple(dataclasses.replace(s, spans=tuple(placed(x) for x in s.spans))
                    for s in answer.support)
    return dataclasses.replace(answer, support=support)
