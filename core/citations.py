"""Citations in an answer: find [1], [2, 3], [1][3], [1-3], [Source 2]; map them to sources."""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.answer_types import Citation, Source

_NUMBER = r"(?:sources?\s*|passages?\s*|#)?\d{1,3}"
_SEPARATOR = r"\s*(?:,|;|and|&|-|–|—)\s*"
# Not right after a letter or digit: arr[0] and footnote[5] are not citations.
CITATION = re.compile(rf"(?<![\w])\[\s*({_NUMBER}(?:{_SEPARATOR}{_NUMBER})*)\s*\]", re.IGNORECASE)
_RANGE = re.compile(r"(\d{1,3})\s*[-–—]\s*(?:sources?\s*|passages?\s*|#)?(\d{1,3})", re.IGNORECASE)
_SPACED_CITATION = re.compile(r"[ \t]*" + CITATION.pattern, re.IGNORECASE)
MAX_RANGE = 20


def cited_numbers(text: str) -> list[int]:
    """Every source number cited, in order of first appearance, without repeats."""
    seen: dict[int, None] = {}
    for match in CITATION.finditer(text):
        inner = match.group(1)
        for low, high in _RANGE.findall(inner):
            a, b = int(low), int(high)
            if a <= b <= a + MAX_RANGE:
                seen.update(dict.fromkeys(range(a, b + 1)))
        for number in re.findall(r"\d{1,3}", _RANGE.sub("", inner)):
            seen[int(number)] = None
    return list(seen)


def resolve(text: str, sources: Sequence[Source]) -> tuple[tuple[Citation, ...], tuple[int, ...]]:
    """(citations of known sources, numbers that match no source), both in order of citation."""
    by_number = {s.n: s for s in sources}
    found: list[Citation] = []
    unknown: list[int] = []
    for n in cited_numbers(text):
        source = by_number.get(n)
        if source is None:
            unknown.append(n)
            continue
        found.append(citation_of(source))
    return tuple(found), tuple(unknown)


def citation_of(source: Source) -> Citation:
    hit = source.hit
    return Citation(n=source.n, passage_id=hit.passage_id, document_id=hit.document_id,
                    title=hit.title, page=hit.page, page_label=hit.page_label, text=hit.text,
                    rects=hit.rects, found_by=hit.found_by)


def drop_unknown(text: str, unknown: Sequence[int]) -> str:
    """The answer with citation markers of unknown numbers removed (the rest kept as written)."""
    if not unknown:
        return text
    bad = set(unknown)

    def clean(match: re.Match[str]) -> str:
        numbers = cited_numbers(match.group(0))
        kept = [n for n in numbers if n not in bad]
        if len(kept) == len(numbers):
            return match.group(0)
        space = match.group(0)[: len(match.group(0)) - len(match.group(0).lstrip())]
        return f"{space}[{', '.join(str(n) for n in kept)}]" if kept else ""

    return _SPACED_CITATION.sub(clean, text)


def strip_markers(text: str) -> str:
    """The text without its citation markers (and the space before each)."""
    return _SPACED_CITATION.sub("", text)
