"""An answer's citation marks as links: [n] to a cite:TURN-N[-S] link, and a link back to what it names.

link_citations writes the links into the answer's Markdown, mark_sentences gives each mark its
answer sentence S, link_target reads a clicked link, with_span / plain_citation add and drop the
supporting sentence a click in that sentence carries."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import fields

from PySide6.QtCore import QUrl

from core.answer_types import Citation, SentenceSupport, Span
from core.citations import CITATION, cited_numbers
from core.support import cited_sentences
from desktop.span_find import SpanCitation

CITATION_MARKER = re.compile(CITATION.pattern + r"(?!\()", re.IGNORECASE)  # not a Markdown link


def link_citations(text: str, turn: int, known: set[int], removed: set[int] | None = None,
                   sentences: Sequence[int | None] = ()) -> str:
    """Markdown with each known [n] (also [2, 3]) made a cite:TURN-N link (removed:TURN-N for a
    citation whose document is no longer in the library); unknown numbers stay. sentences gives,
    mark by mark, the answer sentence (an index into the turn's support) the mark cites from:
    its links are cite:TURN-N-S."""
    gone = removed or set()
    marks = iter(sentences)

    def replace(match: re.Match[str]) -> str:
        sentence = next(marks, None)
        numbers = cited_numbers(match.group(0))  # the forms core counts: [1], [2, 3], [4-6] ...
        if not any(n in known for n in numbers):
            return match.group(0)
        where = "" if sentence is None else f"-{sentence}"
        return "".join(f"[\\[{n}\\]]({'removed' if n in gone else 'cite'}:{turn}-{n}{where})"
                       if n in known else f"\\[{n}\\]" for n in numbers)
    return CITATION_MARKER.sub(replace, text)


def mark_sentences(text: str, support: Sequence[SentenceSupport]) -> list[int | None]:
    """For each citation mark of text, in order, the index in support of the sentence it
    belongs to (core.support.cited_sentences: a mark after the full stop belongs to the sentence
    before it); None for a mark of a sentence support does not list. [] without support.

    The sentences are those of the whole text, or, when that does not line up, of each line
    (a whole-document answer's support is aligned line by line: core/overview.py)."""
    return _marks(text, support, cited_sentences(text)) or _marks(
        text, support, [s for line in text.splitlines() for s in cited_sentences(line)])


def _marks(text: str, support: Sequence[SentenceSupport],
           sentences: Sequence[str]) -> list[int | None]:
    if not support:
        return []
    out: list[int | None] = []
    next_support = 0
    for sentence in sentences:
        index: int | None = None
        if next_support < len(support) and support[next_support].sentence == sentence:
            index, next_support = next_support, next_support + 1
        out.extend([index] * len(CITATION_MARKER.findall(sentence)))
    if len(out) != len(CITATION_MARKER.findall(text)) or next_support != len(support):
        return []  # the split did not line up with the answer's marks: no sentence is guessed
    return out


def link_target(url: QUrl) -> tuple[int, int, int | None] | None:
    """The turn, source number and answer sentence (None without one) a cite:TURN-N[-S] or
    removed:TURN-N[-S] link names; None for any other link."""
    if url.scheme() not in ("cite", "removed"):
        return None
    parts = url.path().split("-")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) == 3 else None


def with_span(citation: Citation, span: Span | None) -> Citation:
    """citation as clicked in a sentence: a SpanCitation carrying span, or citation itself."""
    if span is None:
        return citation
    values = {f.name: getattr(citation, f.name) for f in fields(Citation)}
    return SpanCitation(**values, span=span)


def plain_citation(citation: Citation) -> Citation:
    """citation without the sentence a click in a sentence gave it (with_span undone)."""
    if not isinstance(citation, SpanCitation):
        return citation
    return Citation(*(getattr(citation, f.name) for f in fields(Citation)))

